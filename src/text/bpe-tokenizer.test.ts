import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { BpeTokenizer, byteCharacters } from './bpe-tokenizer.ts';
import { readGpt2Tokenizer } from './gpt2-tokenizer-files.ts';
import { readTokenizer, tokenizerFromJson, writeTokenizer } from './tokenizer.ts';

const utf8 = new TextEncoder();
const gpt2Pattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode, written as its Python is, to check ours independently. */
function gpt2ByteCharacters(): string[] {
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const bytes = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
  const codePoints = [...bytes];
  let n = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (!bytes.includes(byte)) {
      bytes.push(byte);
      codePoints.push(256 + n++);
    }
  }
  const characters: string[] = [];
  bytes.forEach((byte, i) => (characters[byte] = String.fromCharCode(codePoints[i]!)));
  return characters;
}

/** Deterministic English-like text: "the" a quarter of the time, else one to three syllables, from a linear congruential generator. */
function sampleText(wordCount: number, seed = 1): string {
  const syllables = ['be', 'gin', 'ning', 'light', 'dark', 'ness', 'earth', 'hea', 'ven', 'wa', 'ters', 'God', 'said', 'day', 'night', "Lord's", '42', 'se', 'ven'];
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state >> 8) % n;
  };
  const parts: string[] = [];
  for (let i = 0; i < wordCount; i++) {
    parts.push(next(4) === 0 ? 'the' : Array.from({ length: 1 + next(3) }, () => syllables[next(syllables.length)]).join(''));
    if (next(11) === 0) parts.push(next(2) === 0 ? ',' : '.\n');
  }
  return parts.join(' ');
}

/** The plainest BPE trainer: recount every pair after every merge. Same tie rule (smaller ids first). */
function referenceTrain(text: string, vocabularySize: number): { vocab: string[]; merges: string[] } {
  const wordCounts = new Map<string, number>();
  for (const [piece] of text.matchAll(gpt2Pattern)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
  const words = [...wordCounts].map(([word, count]) => ({ symbols: Array.from(utf8.encode(word)), count }));
  const vocab = gpt2ByteCharacters();
  const merges: string[] = [];
  while (vocab.length < vocabularySize) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) pairCounts.set(`${symbols[i]},${symbols[i + 1]}`, (pairCounts.get(`${symbols[i]},${symbols[i + 1]}`) ?? 0) + count);
    }
    let best: { left: number; right: number; count: number } | undefined;
    for (const [pair, count] of pairCounts) {
      const [left, right] = pair.split(',').map(Number) as [number, number];
      if (!best || count > best.count || (count === best.count && (left < best.left || (left === best.left && right < best.right)))) best = { left, right, count };
    }
    if (!best || best.count < 2) break;
    const token = vocab[best.left]! + vocab[best.right]!;
    let merged = vocab.indexOf(token);
    if (merged < 0) merged = vocab.push(token) - 1;
    merges.push(`${vocab[best.left]} ${vocab[best.right]}`);
    for (const word of words) {
      const out: number[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === best.left && word.symbols[i + 1] === best.right && i + 1 < word.symbols.length) out.push(merged), i++;
        else out.push(word.symbols[i]!);
      }
      word.symbols = out;
    }
  }
  return { vocab, merges };
}

/** GPT-2's encoder.py `bpe()`: merge every occurrence of the lowest-ranked pair, until none is ranked. */
function referenceEncode(json: { vocab: string[]; merges: string[] }, text: string): number[] {
  const ranks = new Map(json.merges.map((merge, rank) => [merge, rank]));
  const byte = gpt2ByteCharacters();
  const ids: number[] = [];
  for (const [piece] of text.matchAll(gpt2Pattern)) {
    let word = Array.from(utf8.encode(piece), (b) => byte[b]!);
    for (;;) {
      let best: number | undefined;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && (best === undefined || rank < best)) best = rank;
      }
      if (best === undefined) break;
      const [left, right] = json.merges[best]!.split(' ');
      const out: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) out.push(left + right!), i++;
        else out.push(word[i]!);
      }
      word = out;
    }
    ids.push(...word.map((token) => json.vocab.indexOf(token)));
  }
  return ids;
}

const varied = [
  '',
  'a',
  'Hello, world!',
  "Don't panic: it's 3.14159, they'll say.",
  'naïve café, Æsop’s fables — “quoted”',
  '日本語のテキストと中文文本',
  '👨‍👩‍👧 family 🎉🌅 emoji',
  'e\u0301 and a\u0308\u0301 combining marks',
  'line one\r\nline two\r\n',
  '\ttabs\tand   multiple   spaces   ',
  '   leading and trailing\n\n\n',
  '\uFEFFa byte order mark',
  'ＦＵＬＬＷＩＤＴＨ and \u00A0no-break\u2028separators',
];

test('the byte alphabet is GPT-2\'s bytes_to_unicode (space is Ġ, newline is Ċ)', () => {
  assert.deepEqual([...byteCharacters], gpt2ByteCharacters());
  assert.equal(byteCharacters[0x20], 'Ġ');
  assert.equal(byteCharacters[0x0a], 'Ċ');
  assert.equal(byteCharacters[0x41], 'A');
});

test('a trained BPE tokenizer round-trips any text exactly, unseen characters included (byte fallback)', () => {
  const tokenizer = BpeTokenizer.train(sampleText(2000), 400);
  for (const text of [...varied, sampleText(300, 7)]) {
    const ids = tokenizer.encode(text);
    assert.equal(tokenizer.decode(ids), text, JSON.stringify(text));
    const joined = Buffer.concat(Array.from(ids, (id) => tokenizer.tokenBytes(id)));
    assert.deepEqual(new Uint8Array(joined), utf8.encode(text), `token bytes of ${JSON.stringify(text)}`);
  }
  // A long run without spaces is one pre-token; the heap-based merge keeps it fast.
  const long = '天地玄黄宇宙洪荒'.repeat(3000);
  assert.equal(tokenizer.decode(tokenizer.encode(long)), long);
  // A token can end inside a character: decode marks the cut, tokenBytes keeps the bytes.
  const emoji = tokenizer.encode('🎉');
  assert.equal(emoji.length, 4, 'four byte tokens: the training text had no emoji');
  assert.equal(tokenizer.decode(emoji.subarray(0, 2)), '\uFFFD');
});

test('training is deterministic, compresses its text, and matches a plain reference trainer', () => {
  const text = `${sampleText(1500)} 🌅 naïve`;
  const first = BpeTokenizer.train(text, 330);
  const second = BpeTokenizer.train(text, 330);
  assert.deepEqual(first.toJson(), second.toJson());
  assert.deepEqual(first.toJson(), { kind: 'bpe', ...referenceTrain(text, 330) }, 'incremental counts give the same merges as recounting');
  assert.equal(first.vocabularySize, 330);
  assert.deepEqual(first.vocab.slice(0, 256), gpt2ByteCharacters(), 'ids 0..255 are the bytes in order');
  assert.ok(first.encode(text).length < utf8.encode(text).length / 3, `${first.encode(text).length} tokens for ${utf8.encode(text).length} bytes`);
  assert.equal(first.encode(' the').length, 1, 'the most frequent word is one token');
  assert.deepEqual(Array.from(first.encode(text)), referenceEncode(first.toJson(), text), 'encodes as GPT-2\'s bpe() does');

  const progress: number[] = [];
  BpeTokenizer.train(text, 300, (merges, total) => progress.push(merges, total));
  assert.deepEqual(progress.slice(-2), [44, 44]);
});

test('training stops when no pair occurs twice, and rejects bad sizes and empty text', () => {
  assert.equal(BpeTokenizer.train('ab', 1000).vocabularySize, 256);
  const tokenizer = BpeTokenizer.train('abab', 1000);
  assert.equal(tokenizer.vocabularySize, 257);
  assert.deepEqual(tokenizer.toJson().merges, ['a b']);
  assert.throws(() => BpeTokenizer.train('abc', 256), /vocabulary size must be an integer in 257..1000000.*got 256/);
  assert.throws(() => BpeTokenizer.train('abc', 300.5), /got 300.5/);
  assert.throws(() => BpeTokenizer.train('', 300), (error: unknown) => error instanceof GenloomError && error.code === 'BAD_ARGUMENT' && /the text is empty/.test(error.message));
});

test('a word of 500,000 letters (a line without spaces) trains as pieces of at most 64 characters, and still encodes whole', () => {
  // Each merge rewrites every word it touches: counted whole, this word cost 8 s at 1,000,000 letters.
  let state = 7;
  const word = Array.from({ length: 500_000 }, () => 'abcdefghijklmnopqrstuvwxyz'[(state = (state * 1103515245 + 12345) % 2 ** 31) % 26]).join('');
  const tokenizer = BpeTokenizer.train(word, 400);
  assert.equal(tokenizer.vocabularySize, 400);
  assert.ok(tokenizer.vocab.every((token) => token.length <= 64), 'no token longer than a counted piece');
  assert.equal(tokenizer.decode(tokenizer.encode(word)), word);
});

test('toJson → fromJson (and tokenizer.json on disk) gives the same encodings; corrupt JSON is named', () => {
  const tokenizer = BpeTokenizer.train(sampleText(800), 320);
  const text = `${sampleText(200, 3)} ${varied.join(' ')}`;
  const loaded = tokenizerFromJson(JSON.parse(JSON.stringify(tokenizer.toJson())), 'tok.json');
  assert.ok(loaded instanceof BpeTokenizer);
  assert.deepEqual(loaded.encode(text), tokenizer.encode(text));
  const dir = mkdtempSync(join(tmpdir(), 'genloom-bpe-'));
  try {
    writeTokenizer(dir, tokenizer);
    assert.deepEqual(readTokenizer(dir).encode(text), tokenizer.encode(text));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const json = tokenizer.toJson();
  const corrupt = (value: unknown, pattern: RegExp) =>
    assert.throws(() => BpeTokenizer.fromJson(value, 'tok.json'), (error: unknown) => error instanceof GenloomError && error.code === 'CORRUPT_FILE' && pattern.test(error.message) && !error.message.includes('\n'));
  corrupt({ kind: 'char', characters: ['a'] }, /tok.json is not a BPE tokenizer/);
  corrupt({ ...json, vocab: json.vocab.slice(1) }, /tok.json .*the byte token "Ā" \(byte 0x00\) is missing/);
  corrupt({ ...json, vocab: [...json.vocab, 'Ġthe'] }, /tok.json .*the token "Ġthe" is listed twice/);
  const added = json.merges.length + 1;
  corrupt({ ...json, merges: [...json.merges, 'Ġzz q'] }, new RegExp(`tok.json .*merge ${added} "Ġzz q" needs "Ġzz", which is not in the vocabulary`));
  corrupt({ ...json, merges: [...json.merges, 'Q Z'] }, new RegExp(`merge ${added} "Q Z" needs "QZ"`));
  corrupt({ ...json, merges: ['ab'] }, /tok.json .*merge 1 "ab" is not two tokens separated by one space/);
});

test('GPT-2 vocab.json and merges.txt load, with special tokens; broken files are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genloom-gpt2-'));
  try {
    // GPT-2's id order: the printable bytes first, so byte tokens are not ids 0..255 in byte order.
    const bytesInGpt2Order = [...Array(256).keys()].sort((a, b) => byteCharacters[a]!.charCodeAt(0) - byteCharacters[b]!.charCodeAt(0));
    const tokens = [...bytesInGpt2Order.map((byte) => byteCharacters[byte]!), 'Ġt', 'he', 'Ġthe', 'in', '<|endoftext|>'];
    const vocab = Object.fromEntries(tokens.map((token, id) => [token, id]));
    const write = (vocabJson: string, merges?: string) => {
      writeFileSync(join(dir, 'vocab.json'), vocabJson);
      rmSync(join(dir, 'merges.txt'), { force: true });
      if (merges !== undefined) writeFileSync(join(dir, 'merges.txt'), merges);
    };
    write(JSON.stringify(vocab), '#version: 0.2\nĠ t\r\nh e\n\nĠt he\ni n\n');
    const gpt2 = readGpt2Tokenizer(dir);
    assert.equal(gpt2.vocabularySize, 261);
    assert.deepEqual(Array.from(gpt2.encode(' the thin')), [vocab['Ġthe'], vocab['Ġt'], vocab['h'], vocab['in']]);
    assert.deepEqual(Array.from(gpt2.encode('A')), [0x41 - 0x21], 'the byte "A" has GPT-2\'s id 32');
    assert.equal(gpt2.decode([vocab['<|endoftext|>']!, vocab['Ġthe']!]), '<|endoftext|> the');
    assert.ok(!gpt2.encode('<|endoftext|>').includes(vocab['<|endoftext|>']!), 'text is read literally');
    for (const text of varied) assert.equal(gpt2.decode(gpt2.encode(text)), text);

    const fails = (code: string, pattern: RegExp) => assert.throws(() => readGpt2Tokenizer(dir), (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message));
    write(JSON.stringify(vocab));
    fails('NOT_FOUND', /merges.txt does not exist/);
    write('{"a": 0,', 'Ġ t\n');
    fails('CORRUPT_FILE', /vocab.json is not valid JSON/);
    write(JSON.stringify({ ...vocab, extra: 999 }), 'Ġ t\n');
    fails('CORRUPT_FILE', /vocab.json gives "extra" the id 999: the ids must be 0..261, each used once/);
    write(JSON.stringify(vocab), 'Ġ t\nq zz\n');
    fails('CORRUPT_FILE', /merges.txt .*merge 2 "q zz" needs "zz", which is not in the vocabulary/);
    write(JSON.stringify(Object.fromEntries(tokens.slice(1).map((token, id) => [token, id]))), '');
    fails('CORRUPT_FILE', /vocab.json .*byte token "!" \(byte 0x21\) is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ids outside the vocabulary are errors naming the id and the range', () => {
  const tokenizer = BpeTokenizer.train('abab', 300);
  assert.throws(() => tokenizer.decode([0, 257]), /token id 257 is outside the vocabulary \(0..256\)/);
  assert.throws(() => tokenizer.tokenBytes(-1), /token id -1 is outside the vocabulary \(0..256\)/);
  assert.throws(() => tokenizer.tokenBytes(1.5), /token id 1.5 is outside/);
  assert.deepEqual(tokenizer.tokenBytes(256), utf8.encode('ab'));
});
