/**
 * What the text models need from a tokenizer, and the one file it is saved in beside a model
 * (tokenizer.json). Two kinds: characters (char-tokenizer.ts) and byte-level BPE (bpe-tokenizer.ts);
 * tokenizer-json.ts reads either from the file's contents without Node (the studio's builders).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readJsonFile } from '../io/json-file.ts';
import { tokenizerFromJson } from './tokenizer-json.ts';

export { tokenizerFromJson } from './tokenizer-json.ts';

export interface Tokenizer {
  readonly kind: string;
  readonly vocabularySize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** One token's UTF-8 bytes: a BPE token can end inside a character, so streams join bytes, not strings. */
  tokenBytes(id: number): Uint8Array;
  toJson(): unknown;
}

export const tokenizerFile = 'tokenizer.json';

/** Reads a tokenizer from its JSON file, or from a directory (a model or `tokenizer train --out`) holding tokenizer.json. */
export function readTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new GenloomError('NOT_FOUND', `no tokenizer at ${path}`);
  const file = statSync(path).isDirectory() ? join(path, tokenizerFile) : path;
  if (!existsSync(file)) throw new GenloomError('NOT_FOUND', `${path} has no ${tokenizerFile}`);
  const json = readJsonFile(file);
  return tokenizerFromJson(json, file);
}

export function writeTokenizer(dir: string, tokenizer: Tokenizer): void {
  writeFileAtomic(join(dir, tokenizerFile), `${JSON.stringify(tokenizer.toJson())}\n`);
}
