/**
 * A user's own text for the text models: one UTF-8 file, or a folder of .txt/.md files (read in
 * name order, joined by blank lines). The last 10% of the text validates; the rest trains.
 * Empty or whitespace-only text, binary files, text that is not UTF-8 and corpora too large to
 * hold are refused with the file named.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { readRegularFile, requireRegularFile } from '../io/regular-file.ts';
import type { TextCorpus } from './kjv.ts';

export const textValidationShare = 0.1;

/**
 * The most text one corpus may hold, over all its files. It is held as one string, then as token
 * ids: 128 MiB took 0.9 GB and 8 s to load and tokenize for a character model. (V8 cannot make a
 * string of more than 2^29 − 24 characters at all.)
 */
export const maxTextBytes = 128 * 2 ** 20;

export function readTextCorpus(path: string): TextCorpus {
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch {
    throw new GenloomError('NOT_FOUND', `no text at ${path}: the file or folder does not exist`);
  }
  const files = directory
    ? readdirSync(path)
        .filter((name) => /\.(txt|md)$/i.test(name) && !name.startsWith('.'))
        .sort()
        .map((name) => join(path, name))
    : [path];
  if (files.length === 0) throw new GenloomError('BAD_ARGUMENT', `${path} has no .txt or .md files`);
  // Sizes first, so a corpus too large is refused before any of it is read (and a FIFO never blocks).
  let total = 0;
  for (const file of files) total += requireRegularFile(file);
  if (total > maxTextBytes) {
    throw new GenloomError('UNSUPPORTED', `${path} holds ${(total / 2 ** 20).toFixed(0)} MiB of text; genloom trains on at most ${maxTextBytes / 2 ** 20} MiB: use a part of it`);
  }
  const text = files.map(readUtf8).join('\n\n');
  // Nothing but spaces and line breaks teaches a model nothing (and its vocabulary is one or two characters).
  if (!/\S/.test(text)) throw new GenloomError('EMPTY_DATASET', `${path} holds only whitespace (${text.length} characters of spaces and line breaks): no text to learn from`);
  if (text.length < 2) throw new GenloomError('EMPTY_DATASET', `${path} holds no text to learn from`);
  // The cut is in UTF-16 units (no per-character array of a large corpus), moved back off the
  // middle of a surrogate pair so both splits stay well-formed.
  let cut = text.length - Math.max(1, Math.floor(text.length * textValidationShare));
  if (/[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut -= 1;
  return { name: path, train: text.slice(0, cut), validation: text.slice(cut) };
}

function readUtf8(file: string): string {
  const bytes = readRegularFile(file, { maxBytes: maxTextBytes, what: 'text files' });
  if (bytes.length === 0) throw new GenloomError('EMPTY_DATASET', `${file} is empty`);
  // UTF-16 (what some editors on Windows save as "Unicode") is full of NUL bytes: say what it is.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new GenloomError('BAD_ARGUMENT', `${file} is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new GenloomError('BAD_ARGUMENT', `${file} looks binary (it contains NUL bytes, the first at byte ${nul}), not text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new GenloomError('BAD_ARGUMENT', `${file} is not UTF-8 text (save it as UTF-8)`);
  }
}
