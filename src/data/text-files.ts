/**
 * A user's own text for the text models: one UTF-8 file, or a folder of .txt/.md files (read in
 * name order, joined by blank lines). The last 10% of the characters validate; the rest train.
 * Empty text, binary files and text that is not UTF-8 are refused with the file named.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import type { TextCorpus } from './kjv.ts';

export const textValidationShare = 0.1;

export function readTextCorpus(path: string): TextCorpus {
  if (!existsSync(path)) throw new GenloomError('NOT_FOUND', `no text at ${path}: the file or folder does not exist`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((name) => /\.(txt|md)$/i.test(name) && !name.startsWith('.'))
        .sort()
        .map((name) => join(path, name))
    : [path];
  if (files.length === 0) throw new GenloomError('BAD_ARGUMENT', `${path} has no .txt or .md files`);
  const text = files.map(readUtf8).join('\n\n');
  const characters = Array.from(text);
  if (characters.length < 2) throw new GenloomError('BAD_ARGUMENT', `${path} holds no text to learn from`);
  const cut = characters.length - Math.max(1, Math.floor(characters.length * textValidationShare));
  return { name: path, train: characters.slice(0, cut).join(''), validation: characters.slice(cut).join('') };
}

function readUtf8(file: string): string {
  const bytes = readFileSync(file);
  if (bytes.length === 0) throw new GenloomError('BAD_ARGUMENT', `${file} is empty`);
  if (bytes.includes(0)) throw new GenloomError('BAD_ARGUMENT', `${file} looks binary (it contains NUL bytes), not text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new GenloomError('BAD_ARGUMENT', `${file} is not UTF-8 text`);
  }
}
