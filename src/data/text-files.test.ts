import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { readTextCorpus } from './text-files.ts';

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
  assert.throws(() => readTextCorpus(join(root, 'empty.txt')), /empty.txt is empty/);
  writeFileSync(join(root, 'image.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
  assert.throws(() => readTextCorpus(join(root, 'image.txt')), /image.txt looks binary/);
  writeFileSync(join(root, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  assert.throws(() => readTextCorpus(join(root, 'latin1.txt')), /latin1.txt is not UTF-8 text/);
  mkdirSync(join(root, 'nothing'));
  assert.throws(() => readTextCorpus(join(root, 'nothing')), /has no .txt or .md files/);
});
