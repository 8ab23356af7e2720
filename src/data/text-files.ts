/**
 * A user's own text for the text models: one UTF-8 file, or a folder of .txt/.md files (read in
 * name order, joined by blank lines). The last 10% of the text validates; the rest trains.
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
  if (text.length < 2) throw new GenloomError('BAD_ARGUMENT', `${path} holds no text to learn from`);
  // The cut is in UTF-16 units (no per-character array of a large corpus), moved back off the
  // middle of a surrogate pair so both splits stay well-formed.
  let cut = text.length - Math.max(1, Math.floor(text.length * textValidationShare));
  if (/[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut -= 1;
  return { name: path, train: text.slice(0, cut), validation: text.slice(cut) };
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
