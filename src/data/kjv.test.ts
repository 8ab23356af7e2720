import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanVerse, loadKjv } from './kjv.ts';

test('KJV: one clean verse per line, split 90/10 by verse at Romans 2:29', () => {
  const { train, validation } = loadKjv();
  assert.ok(train.startsWith('In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void; and darkness was upon'));
  assert.ok(validation.startsWith('But he [is] a Jew'.replace(/[[\]]/g, '')), validation.slice(0, 40));
  assert.ok(validation.trimEnd().endsWith('The grace of our Lord Jesus Christ [be] with you all. Amen.'.replace(/[[\]]/g, '')));
  assert.equal(train.split('\n').length - 1 + validation.split('\n').length - 1, 31_102);
  assert.doesNotMatch(train + validation, /[#[\]]/, 'no markup left');
  assert.equal(cleanVerse('# And God said, Let there be [a] firmament '), 'And God said, Let there be a firmament');
});
