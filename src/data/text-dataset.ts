/**
 * Text as the transformer trains on it: a corpus (built-in `kjv`, or a user's .txt file or folder)
 * turned into two arrays of token ids, and training windows cut from them.
 *
 * Memory: ids are stored 2 bytes each (Uint16Array) whenever the vocabulary allows, and the text is
 * encoded a chunk at a time, so a corpus never exists as one array of per-character strings.
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import { CharTokenizer } from '../text/char-tokenizer.ts';
import type { Tokenizer } from '../text/tokenizer.ts';
import { loadKjv, type TextCorpus } from './kjv.ts';
import { readTextCorpus } from './text-files.ts';

export const builtinTextDatasets = ['kjv'] as const;

export type TokenIds = Uint16Array | Int32Array;

export interface TokenizedCorpus {
  name: string;
  train: TokenIds;
  validation: TokenIds;
}

/** `kjv`, or a path to a UTF-8 file or a folder of .txt/.md files. */
export function loadTextCorpus(spec: string): TextCorpus {
  if (spec === 'kjv') return loadKjv();
  if (spec === 'mnist' || spec === 'fashion-mnist') {
    throw new GenloomError('BAD_ARGUMENT', `${spec} is an image dataset; the transformer trains on text: kjv, a .txt file or a folder of them`);
  }
  return readTextCorpus(spec);
}

/** Characters per encode() call: large enough to amortise the call, small enough to bound the temporary arrays. */
const ENCODE_CHUNK = 1 << 20;

export function encodeText(tokenizer: Tokenizer, text: string): TokenIds {
  const narrow = tokenizer.vocabularySize <= 65536;
  // Each chunk's ids are narrowed at once, so the 4-byte arrays of only one chunk exist at a time.
  const parts: TokenIds[] = [];
  let total = 0;
  for (let start = 0; start < text.length; ) {
    let end = Math.min(text.length, start + ENCODE_CHUNK);
    // Never split a surrogate pair, nor (for BPE) a word: end a chunk after a newline when one is near.
    if (end < text.length) {
      const newline = text.lastIndexOf('\n', end);
      if (newline > start) end = newline + 1;
      else if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end -= 1;
    }
    const ids = tokenizer.encode(text.slice(start, end));
    parts.push(narrow ? Uint16Array.from(ids) : ids);
    total += ids.length;
    start = end;
  }
  const out = narrow ? new Uint16Array(total) : new Int32Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function tokenizeCorpus(corpus: TextCorpus, tokenizer: Tokenizer): TokenizedCorpus {
  return { name: corpus.name, train: encodeText(tokenizer, corpus.train), validation: encodeText(tokenizer, corpus.validation) };
}

/**
 * Training examples: the split is cut into ⌊(n − 1) / context⌋ chunks, and example i is a window of
 * context + 1 tokens starting at a random offset inside chunk i (so an epoch covers every token about
 * once while windows still start anywhere).
 */
export function windowCount(ids: TokenIds, context: number): number {
  return Math.floor((ids.length - 1) / context);
}

export function requireEnoughTokens(ids: TokenIds, context: number, what: string): void {
  if (ids.length < context + 1) {
    throw new GenloomError('BAD_ARGUMENT', `${what} has ${ids.length} tokens, fewer than one training window of ${context + 1} (the context plus the next token): use more text or a smaller --context`);
  }
}

/** inputs [B, length] from each start and targets (the inputs shifted by one). */
export function windowBatch(ids: TokenIds, starts: ArrayLike<number>, length: number): { inputs: tf.Tensor2D; targets: tf.Tensor2D } {
  const batch = starts.length;
  const inputs = new Int32Array(batch * length);
  const targets = new Int32Array(batch * length);
  for (let row = 0; row < batch; row++) {
    inputs.set(ids.subarray(starts[row]!, starts[row]! + length), row * length);
    targets.set(ids.subarray(starts[row]! + 1, starts[row]! + length + 1), row * length);
  }
  return { inputs: tf.tensor2d(inputs, [batch, length], 'int32'), targets: tf.tensor2d(targets, [batch, length], 'int32') };
}

/** A training batch for chunk indices: each window starts at a random offset inside its chunk. */
export function gatherWindows(ids: TokenIds, indices: ArrayLike<number>, context: number, random: Random): { inputs: tf.Tensor2D; targets: tf.Tensor2D } {
  const lastStart = ids.length - context - 1;
  const starts = Array.from(indices, (index) => Math.min(lastStart, index * context + random.integer(context)));
  return windowBatch(ids, starts, context);
}

/** Code points, not UTF-16 units: what a reader (and the character tokenizer) calls characters. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The character tokenizer of a corpus: it covers the validation split too, since a character model
 * can only spell characters it has. A corpus of one character repeated has nothing to predict (and
 * a one-token vocabulary breaks the softmax), so it is refused.
 */
export function characterTokenizer(corpus: TextCorpus): CharTokenizer {
  const tokenizer = CharTokenizer.fromText(corpus.train + corpus.validation);
  if (tokenizer.vocabularySize < 2) {
    throw new GenloomError('EMPTY_DATASET', `${corpus.name} is one character (${JSON.stringify(tokenizer.characters[0])}) repeated: a character model needs at least two distinct characters to learn which comes next`);
  }
  return tokenizer;
}

/**
 * Consecutive non-overlapping windows covering `ids` (the last one ends at the last token), at most
 * `limit` of them evenly spaced: how validation and `eval` read a split.
 */
export function evaluationWindows(ids: TokenIds, context: number, limit = Infinity): { start: number; length: number }[] {
  const windows: { start: number; length: number }[] = [];
  for (let start = 0; start < ids.length - 1; start += context) windows.push({ start, length: Math.min(context, ids.length - 1 - start) });
  if (windows.length <= limit) return windows;
  const picked: { start: number; length: number }[] = [];
  for (let i = 0; i < limit; i++) picked.push(windows[Math.floor((i * windows.length) / limit)]!);
  return picked;
}
