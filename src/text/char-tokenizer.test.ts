import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CharTokenizer } from './char-tokenizer.ts';

test('a character tokenizer round-trips its text exactly, including non-ASCII and astral characters', () => {
  const text = 'In the beginning — “Let there be light” 🌅\nÆsop’s naïve café.';
  const tokenizer = CharTokenizer.fromText(text);
  assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  assert.equal(tokenizer.encode('🌅').length, 1, 'one token per code point, not per UTF-16 unit');
  const again = CharTokenizer.fromJson(JSON.parse(JSON.stringify(tokenizer.toJson())), 'tok.json');
  assert.deepEqual(again.encode(text), tokenizer.encode(text), 'saved and loaded, the same ids');
  assert.deepEqual(CharTokenizer.fromText('cba').characters, ['a', 'b', 'c'], 'ids in code point order');
});

test('characters outside the vocabulary, empty text and corrupt files are clear errors', () => {
  const tokenizer = CharTokenizer.fromText('abc');
  assert.throws(() => tokenizer.encode('abz'), /the character "z" \(U\+007A\) at position 2 is not in this model's 3-character vocabulary/);
  assert.throws(() => tokenizer.decode([5]), /token id 5 is outside the vocabulary \(0..2\)/);
  assert.throws(() => CharTokenizer.fromText(''), /the text is empty/);
  assert.throws(() => CharTokenizer.fromJson({ kind: 'bpe' }, 'tok.json'), /tok.json is not a character tokenizer/);
  assert.throws(() => CharTokenizer.fromJson({ kind: 'char', characters: ['a', 'a'] }, 'tok.json'), /lists a character twice/);
});
