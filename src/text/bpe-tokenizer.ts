/**
 * A byte-level BPE tokenizer in GPT-2's representation, so a GPT-2 checkpoint's vocab.json and
 * merges.txt load into the same class as the vocabularies `BpeTokenizer.train` learns.
 *
 * - Tokens are strings over GPT-2's byte alphabet: each of the 256 bytes is written as one printable
 *   code point (`bytes_to_unicode`: a printable Latin-1 byte stands for itself, the others map to
 *   U+0100 and up, so a space is "Ġ" and a newline "Ċ"). A token's bytes are its characters mapped back.
 * - Text is first cut into pre-tokens with GPT-2's regex (words with their leading space, numbers,
 *   punctuation runs, whitespace), so merges never cross a word boundary; each pre-token's UTF-8 bytes
 *   are merged by rank, lowest first. Every byte is a token, so any text encodes and round-trips.
 * - Special tokens such as "<|endoftext|>" may sit in the vocabulary: decode spells them out, while
 *   encode reads text literally and never produces them.
 *
 * No Node API here: the studio builds text-to-image models in the page from tokenizer.json's text.
 * Reading GPT-2's vocab.json and merges.txt from disk is gpt2-tokenizer-files.ts.
 */
import { GenloomError } from '../core/errors.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface BpeTokenizerJson {
  kind: 'bpe';
  /** Token strings in id order. */
  vocab: string[];
  /** "left right" pairs in rank order: the first merge is applied first. */
  merges: string[];
}

/** GPT-2's pre-tokenizer: contractions, then a word, number or punctuation run with one optional leading space, then whitespace. */
const preTokenPattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's `bytes_to_unicode`: byteCharacters[byte] is the character that stands for `byte` in token strings. */
export const byteCharacters: readonly string[] = (() => {
  const printable = (byte: number) => (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  let nextUnused = 256;
  return Array.from({ length: 256 }, (_, byte) => String.fromCharCode(printable(byte) ? byte : nextUnused++));
})();

const byteOfCharacter = new Map(byteCharacters.map((character, byte) => [character, byte]));
const utf8 = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF must keep it to round-trip.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Distinct pre-tokens whose ids are remembered, and the longest one worth remembering (in UTF-16 units). */
const maxCachedPieces = 65_536;
const maxCachedPieceLength = 128;

/** The longest word (pre-token) the trainer counts whole, in UTF-16 units; longer ones are counted in pieces of this length. */
const maxTrainingWordLength = 64;

const minTrainedVocabulary = 257;
const maxTrainedVocabulary = 1_000_000;

export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe';
  private readonly ids: Map<string, number>;
  private readonly bytesOfToken: Uint8Array[];
  /** byte → the id of its one-byte token. */
  private readonly byteIds = new Int32Array(256);
  /** pairKey(left, right) → rank of the merge, and rank → the id it makes. */
  private readonly mergeRanks = new Map<number, number>();
  private readonly mergeResults: Int32Array;
  private readonly cache = new Map<string, Int32Array>();

  /** `sources` name what the vocabulary and the merges were read from, for error messages. */
  private constructor(
    readonly vocab: readonly string[],
    readonly merges: readonly (readonly [string, string])[],
    sources: { vocab: string; merges: string },
  ) {
    const corrupt = (source: string, problem: string) => new GenloomError('CORRUPT_FILE', `${source} is not a valid BPE tokenizer: ${problem}`);
    this.ids = new Map(vocab.map((token, id) => [token, id]));
    if (this.ids.size !== vocab.length) throw corrupt(sources.vocab, `the token ${JSON.stringify(vocab.find((token, id) => this.ids.get(token) !== id))} is listed twice`);
    if (this.ids.has('')) throw corrupt(sources.vocab, 'it has an empty token');
    byteCharacters.forEach((character, byte) => {
      const id = this.ids.get(character);
      if (id === undefined) throw corrupt(sources.vocab, `the byte token ${JSON.stringify(character)} (byte 0x${byte.toString(16).padStart(2, '0')}) is missing`);
      this.byteIds[byte] = id;
    });
    this.bytesOfToken = vocab.map(tokenToBytes);
    this.mergeResults = new Int32Array(merges.length);
    merges.forEach(([left, right], rank) => {
      const describe = `merge ${rank + 1} ${JSON.stringify(`${left} ${right}`)}`;
      for (const part of [left, right, left + right]) {
        if (!this.ids.has(part)) throw corrupt(sources.merges, `${describe} needs ${JSON.stringify(part)}, which is not in the vocabulary`);
      }
      const key = this.pairKey(this.ids.get(left)!, this.ids.get(right)!);
      // A repeated merge can never apply a second time: the first one already consumed every such pair.
      if (!this.mergeRanks.has(key)) this.mergeRanks.set(key, rank);
      this.mergeResults[rank] = this.ids.get(left + right)!;
    });
  }

  /**
   * Learns a vocabulary from `text`: the 256 byte tokens (ids 0..255 in byte order), then merges of
   * the most frequent adjacent pair (ties: the pair with the smaller ids) until the vocabulary has
   * `vocabularySize` tokens or no pair occurs twice. Deterministic.
   *
   * @example
   * const tokenizer = BpeTokenizer.train(loadTextCorpus('kjv').train, 2048);
   * tokenizer.decode(tokenizer.encode('In the beginning')); // 'In the beginning'
   */
  static train(text: string, vocabularySize: number, onProgress?: (merges: number, total: number) => void): BpeTokenizer {
    if (!Number.isInteger(vocabularySize) || vocabularySize < minTrainedVocabulary || vocabularySize > maxTrainedVocabulary) {
      throw new GenloomError('BAD_ARGUMENT', `a BPE vocabulary size must be an integer in ${minTrainedVocabulary}..${maxTrainedVocabulary} (256 byte tokens plus at least one merge), got ${vocabularySize}`);
    }
    if (text.length === 0) throw new GenloomError('BAD_ARGUMENT', 'the text is empty: a BPE tokenizer needs some text to learn its merges');
    const { vocab, merges } = learnMerges(text, vocabularySize, onProgress);
    return new BpeTokenizer(vocab, merges, { vocab: 'the trained vocabulary', merges: 'the trained merges' });
  }

  static fromJson(json: unknown, source: string): BpeTokenizer {
    const value = json as Partial<BpeTokenizerJson> | null;
    const isStringArray = (array: unknown): array is string[] => Array.isArray(array) && array.every((item) => typeof item === 'string');
    if (value?.kind !== 'bpe' || !isStringArray(value.vocab) || !isStringArray(value.merges)) {
      throw new GenloomError('CORRUPT_FILE', `${source} is not a BPE tokenizer ({"kind": "bpe", "vocab": [...], "merges": ["a b", ...]})`);
    }
    const merges = value.merges.map((line, rank) => parseMerge(line, `${source} is not a valid BPE tokenizer: merge ${rank + 1}`));
    return new BpeTokenizer(value.vocab, merges, { vocab: source, merges: source });
  }

  /**
   * A tokenizer from a vocabulary in id order and merge lines ("left right", in rank order), as a
   * GPT-2 folder's files hold them once read (readGpt2Tokenizer reads them); `sources` name the
   * vocabulary's and the merges' files in messages.
   */
  static fromVocabulary(vocab: string[], mergeLines: readonly string[], sources: { vocab: string; merges: string }): BpeTokenizer {
    const merges = mergeLines.map((line) => parseMerge(line, `${sources.merges} is not a valid BPE merge list: the line`));
    return new BpeTokenizer(vocab, merges, sources);
  }

  get vocabularySize(): number {
    return this.vocab.length;
  }

  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length));
    let length = 0;
    for (const [piece] of text.matchAll(preTokenPattern)) {
      const ids = this.encodePiece(piece);
      if (length + ids.length > out.length) {
        const grown = new Int32Array(Math.max(2 * out.length, length + ids.length));
        grown.set(out.subarray(0, length));
        out = grown;
      }
      out.set(ids, length);
      length += ids.length;
    }
    return out.slice(0, length);
  }

  /** The text of `ids`; a character cut off at the end (or any invalid UTF-8) decodes as U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const parts = Array.from({ length: ids.length }, (_, i) => this.bytesOf(ids[i]!));
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return utf8Decoder.decode(bytes);
  }

  /** One token's bytes (a copy): a token may hold only part of a character's UTF-8, so streams join bytes. */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  toJson(): BpeTokenizerJson {
    return { kind: 'bpe', vocab: [...this.vocab], merges: this.merges.map(([left, right]) => `${left} ${right}`) };
  }

  private bytesOf(id: number): Uint8Array {
    const bytes = this.bytesOfToken[id];
    if (bytes === undefined || !Number.isInteger(id)) throw new GenloomError('BAD_ARGUMENT', `token id ${id} is outside the vocabulary (0..${this.vocab.length - 1})`);
    return bytes;
  }

  /** One number per (left, right) pair: exact below 2^53, i.e. for vocabularies under 2^26 tokens (GPT-2 has 50,257). */
  private pairKey(left: number, right: number): number {
    return left * this.vocab.length + right;
  }

  private encodePiece(piece: string): Int32Array {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const ids = this.mergeBytes(utf8.encode(piece));
    if (piece.length <= maxCachedPieceLength) {
      // Bounded by forgetting everything at once: simpler than LRU, and the frequent pieces return at once.
      if (this.cache.size >= maxCachedPieces) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * Applies the merges to one pre-token's bytes, lowest rank first and leftmost first among equals
   * (what GPT-2's loop does), in O(n log n): the symbols form a linked list and a heap holds the
   * candidate pairs, so a long run of letters without spaces (Chinese, say) stays fast.
   */
  private mergeBytes(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const ids = Int32Array.from(bytes, (byte) => this.byteIds[byte]!);
    if (n < 2) return ids;
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const previous = Int32Array.from({ length: n }, (_, i) => i - 1);
    // A candidate is rank * n + position: ordered by rank, then position.
    const candidates = new Heap<number>((a, b) => a < b);
    const consider = (position: number) => {
      if (position < 0 || next[position]! < 0) return;
      const right = next[position]!;
      const rank = this.mergeRanks.get(this.pairKey(ids[position]!, ids[right]!));
      if (rank !== undefined) candidates.push(rank * n + position);
    };
    for (let position = 0; position + 1 < n; position++) consider(position);
    while (candidates.size > 0) {
      const candidate = candidates.pop();
      const rank = Math.floor(candidate / n);
      const position = candidate - rank * n;
      const right = next[position]!;
      // Stale: this symbol or its neighbour has changed since the candidate was pushed.
      if (ids[position]! < 0 || right < 0 || this.mergeRanks.get(this.pairKey(ids[position]!, ids[right]!)) !== rank) continue;
      ids[position] = this.mergeResults[rank]!;
      ids[right] = -1;
      next[position] = next[right]!;
      if (next[right]! >= 0) previous[next[right]!] = position;
      consider(previous[position]!);
      consider(position);
    }
    return ids.filter((id) => id >= 0);
  }
}

/** A token's bytes: its byte-alphabet characters mapped back, or, for a special token written outside that alphabet, its UTF-8. */
function tokenToBytes(token: string): Uint8Array {
  const bytes = Array.from(token, (character) => byteOfCharacter.get(character));
  return bytes.every((byte) => byte !== undefined) ? Uint8Array.from(bytes as number[]) : utf8.encode(token);
}

function parseMerge(line: string, where: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new GenloomError('CORRUPT_FILE', `${where} ${JSON.stringify(line)} is not two tokens separated by one space`);
  return [parts[0]!, parts[1]!];
}

/**
 * The training loop, on a table of distinct pre-tokens ("words") with their counts rather than the
 * text: a word's symbols are token ids, and pair counts are weighted by the word's count. After a
 * merge only the words that held the pair are rewritten, and only the pairs touching the merged
 * tokens change count; a heap ordered by count finds the next pair (stale entries are re-pushed
 * with their current count when they surface, which is enough because a pair's count only falls
 * once it exists, except for pairs with the new token, which are pushed after each merge).
 */
function learnMerges(text: string, vocabularySize: number, onProgress?: (merges: number, total: number) => void): { vocab: string[]; merges: [string, string][] } {
  const wordCounts = new Map<string, number>();
  for (const [piece] of text.matchAll(preTokenPattern)) {
    // A word is rewritten whole after each merge that touches it, so one 10 MB "word" (a line of
    // base64, text without spaces) would cost merges × 10 MB: it is counted as pieces of at most
    // maxTrainingWordLength, as Hugging Face's trainer does with max_token_length. Encoding still
    // merges the whole word.
    for (let start = 0; start < piece.length; ) {
      let end = Math.min(piece.length, start + maxTrainingWordLength);
      if (end < piece.length && /[\uD800-\uDBFF]/.test(piece[end - 1]!)) end -= 1; // keep a surrogate pair together
      const word = start === 0 && end === piece.length ? piece : piece.slice(start, end);
      wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
      start = end;
    }
  }
  const words = Array.from(wordCounts.keys(), (word) => Array.from(utf8.encode(word)));
  const counts = Array.from(wordCounts.values());

  const vocab = [...byteCharacters];
  const ids = new Map(vocab.map((token, id) => [token, id]));
  const merges: [string, string][] = [];
  const key = (left: number, right: number) => left * vocabularySize + right;
  const pairCounts = new Map<number, number>();
  /** pair → words that held it when it was counted (possibly repeated, possibly no longer). */
  const pairWords = new Map<number, number[]>();
  const addPair = (pair: number, word: number, count: number) => {
    pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + count);
    const holders = pairWords.get(pair);
    if (!holders) pairWords.set(pair, [word]);
    else if (holders[holders.length - 1] !== word) holders.push(word);
  };
  const byCountThenKey = (a: { count: number; pair: number }, b: { count: number; pair: number }) => a.count > b.count || (a.count === b.count && a.pair < b.pair);
  const queue = new Heap(byCountThenKey);
  words.forEach((symbols, word) => {
    for (let i = 0; i + 1 < symbols.length; i++) addPair(key(symbols[i]!, symbols[i + 1]!), word, counts[word]!);
  });
  for (const [pair, count] of pairCounts) queue.push({ count, pair });

  const visitedAt = new Int32Array(words.length).fill(-1);
  const total = vocabularySize - byteCharacters.length;
  while (vocab.length < vocabularySize && queue.size > 0) {
    const top = queue.pop();
    const current = pairCounts.get(top.pair) ?? 0;
    if (current !== top.count) {
      if (current > 0) queue.push({ count: current, pair: top.pair });
      continue;
    }
    if (current < 2) break;
    const left = Math.floor(top.pair / vocabularySize);
    const right = top.pair - left * vocabularySize;
    const token = vocab[left]! + vocab[right]!;
    // Two merge paths can spell the same token; it keeps its first id, as Hugging Face's trainer does.
    let merged = ids.get(token);
    if (merged === undefined) {
      merged = vocab.length;
      vocab.push(token);
      ids.set(token, merged);
    }
    merges.push([vocab[left]!, vocab[right]!]);
    const touched = new Set<number>();
    for (const word of pairWords.get(top.pair)!) {
      if (visitedAt[word] === merges.length) continue;
      visitedAt[word] = merges.length;
      mergeInWord(word, left, right, merged, touched);
    }
    pairCounts.delete(top.pair);
    pairWords.delete(top.pair);
    for (const pair of touched) {
      const count = pairCounts.get(pair) ?? 0;
      if (count > 0) queue.push({ count, pair });
    }
    onProgress?.(merges.length, total);
  }
  return { vocab, merges };

  /**
   * Rewrites one word with (left, right) → merged. Pairs with neither side in {left, right, merged}
   * are the same before and after, so only the others are uncounted and counted again.
   */
  function mergeInWord(word: number, left: number, right: number, merged: number, touched: Set<number>): void {
    const symbols = words[word]!;
    const count = counts[word]!;
    const involved = (a: number, b: number) => a === left || a === right || a === merged || b === left || b === right || b === merged;
    const rewritten: number[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
        rewritten.push(merged);
        i++;
      } else {
        rewritten.push(symbols[i]!);
      }
    }
    if (rewritten.length === symbols.length) return;
    for (let i = 0; i + 1 < symbols.length; i++) {
      if (!involved(symbols[i]!, symbols[i + 1]!)) continue;
      const pair = key(symbols[i]!, symbols[i + 1]!);
      const remaining = pairCounts.get(pair)! - count;
      if (remaining > 0) pairCounts.set(pair, remaining);
      else pairCounts.delete(pair);
    }
    for (let i = 0; i + 1 < rewritten.length; i++) {
      if (!involved(rewritten[i]!, rewritten[i + 1]!)) continue;
      const pair = key(rewritten[i]!, rewritten[i + 1]!);
      addPair(pair, word, count);
      if (rewritten[i] === merged || rewritten[i + 1] === merged) touched.add(pair);
    }
    words[word] = rewritten;
  }
}

/** A binary heap; `before(a, b)` says a comes out first. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= items.length) break;
      if (child + 1 < items.length && this.before(items[child + 1]!, items[child]!)) child++;
      if (!this.before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
