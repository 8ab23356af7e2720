import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { GenloomError } from '../core/errors.ts';
import { characterTokenizer } from './text-dataset.ts';
import { maxTextBytes, readTextCorpus } from './text-files.ts';

const root = tempDir();

test('a text file or a folder of them becomes a corpus with the last 10% of characters for validation', () => {
  const file = join(root, 'one.txt');
  writeFileSync(file, '\uFEFF' + 'abcdefghij'.repeat(10));
  const corpus = readTextCorpus(file);
  assert.equal(corpus.train.length, 90);
  assert.equal(corpus.validation, 'abcdefghij');
  const folder = join(root, 'texts');
  mkdirSync(folder);
  writeFileSync(join(folder, 'b.md'), 'second');
  writeFileSync(join(folder, 'a.txt'), 'first ✓');
  writeFileSync(join(folder, 'notes.json'), '{}');
  const joined = readTextCorpus(folder);
  assert.equal(joined.train + joined.validation, 'first ✓\n\nsecond', 'name order, blank line between, other files ignored');
});

test('missing, empty, binary and non-UTF-8 input are clear errors', () => {
  assert.throws(() => readTextCorpus(join(root, 'nope.txt')), /no text at .*nope.txt: the file or folder does not exist/);
  writeFileSync(join(root, 'empty.txt'), '');
  assert.throws(() => readTextCorpus(join(root, 'empty.txt')), (error: GenloomError) => error.code === 'EMPTY_DATASET' && /empty.txt is empty/.test(error.message));
  writeFileSync(join(root, 'image.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
  assert.throws(() => readTextCorpus(join(root, 'image.txt')), /image.txt looks binary/);
  writeFileSync(join(root, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  assert.throws(() => readTextCorpus(join(root, 'latin1.txt')), /latin1.txt is not UTF-8 text/);
  mkdirSync(join(root, 'nothing'));
  assert.throws(() => readTextCorpus(join(root, 'nothing')), /has no .txt or .md files/);
});

test('hostile text (issue 27): whitespace only, one character repeated, UTF-16, a FIFO, a corpus too large: one line each', () => {
  const refuses = (path: string, code: string, pattern: RegExp, read: (path: string) => unknown = readTextCorpus) =>
    assert.throws(() => read(path), (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message) && !error.message.includes('\n'));
  writeFileSync(join(root, 'newlines.txt'), '\n'.repeat(5000));
  refuses(join(root, 'newlines.txt'), 'EMPTY_DATASET', /newlines\.txt holds only whitespace \(5000 characters of spaces and line breaks\): no text to learn from/);
  mkdirSync(join(root, 'blank'));
  writeFileSync(join(root, 'blank', 'a.txt'), ' \t\r\n');
  writeFileSync(join(root, 'blank', 'b.md'), '\n\n');
  refuses(join(root, 'blank'), 'EMPTY_DATASET', /blank holds only whitespace/);
  writeFileSync(join(root, 'aaa.txt'), 'a'.repeat(500));
  refuses(join(root, 'aaa.txt'), 'EMPTY_DATASET', /aaa\.txt is one character \("a"\) repeated: a character model needs at least two distinct characters/, (path) => characterTokenizer(readTextCorpus(path)));
  writeFileSync(join(root, 'utf16.txt'), Buffer.from('\uFEFFhello', 'utf16le'));
  refuses(join(root, 'utf16.txt'), 'BAD_ARGUMENT', /utf16\.txt is UTF-16 text .*: save it as UTF-8/);
  writeFileSync(join(root, 'nul.txt'), Buffer.from('ab\0cd'));
  refuses(join(root, 'nul.txt'), 'BAD_ARGUMENT', /nul\.txt looks binary \(it contains NUL bytes, the first at byte 2\)/);
  // A sparse file: its size is refused before a byte of it is read.
  const huge = join(root, 'huge.txt');
  const descriptor = openSync(huge, 'w');
  ftruncateSync(descriptor, maxTextBytes + 1);
  closeSync(descriptor);
  refuses(huge, 'UNSUPPORTED', /huge\.txt holds 128 MiB of text; genloom trains on at most 128 MiB/);
  const fifo = join(root, 'fifo.txt');
  if (spawnSync('mkfifo', [fifo]).status === 0) refuses(fifo, 'CORRUPT_FILE', /fifo\.txt is not a regular file \(it is a FIFO\)/);
});

test('one long line (no line breaks at all) is read and split like any text', () => {
  const file = join(root, 'line.txt');
  writeFileSync(file, 'abcdefghij'.repeat(200_000));
  const corpus = readTextCorpus(file);
  assert.equal(corpus.train.length + corpus.validation.length, 2_000_000);
  assert.equal(characterTokenizer(corpus).vocabularySize, 10);
});
