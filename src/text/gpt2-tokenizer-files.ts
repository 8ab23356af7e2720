/**
 * GPT-2's tokenizer files read from disk into a BpeTokenizer: the Node half of bpe-tokenizer.ts,
 * which itself reads no files (the studio bundles it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { readJsonFile } from '../io/json-file.ts';
import { BpeTokenizer } from './bpe-tokenizer.ts';

/**
 * Loads a GPT-2-style tokenizer: `dir/vocab.json` ({token: id}) and `dir/merges.txt` (an optional
 * "#version" line, then one "left right" merge per line, in rank order).
 *
 * @example
 * const gpt2 = readGpt2Tokenizer('checkpoints/gpt2'); // gpt2.vocabularySize === 50257
 */
export function readGpt2Tokenizer(dir: string): BpeTokenizer {
  const vocabFile = join(dir, 'vocab.json');
  const mergesFile = join(dir, 'merges.txt');
  for (const file of [vocabFile, mergesFile]) {
    if (!existsSync(file)) throw new GenloomError('NOT_FOUND', `${file} does not exist: a GPT-2 tokenizer is a vocab.json and a merges.txt`);
  }
  const json = readJsonFile(vocabFile);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new GenloomError('CORRUPT_FILE', `${vocabFile} is not a JSON object of token → id`);
  const entries = Object.entries(json);
  const vocab: string[] = new Array(entries.length);
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || id < 0 || id >= entries.length || vocab[id] !== undefined) {
      throw new GenloomError('CORRUPT_FILE', `${vocabFile} gives ${JSON.stringify(token)} the id ${JSON.stringify(id)}: the ids must be 0..${entries.length - 1}, each used once`);
    }
    vocab[id] = token;
  }
  const lines = readFileSync(mergesFile, 'utf8').split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines[0]?.startsWith('#version')) lines.shift();
  return BpeTokenizer.fromVocabulary(vocab, lines.filter((line) => line.length > 0), { vocab: vocabFile, merges: mergesFile });
}
