import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fashionLabelNames } from './builtin.ts';
import { labelFromPrompt, labelListFromPrompt, promptVocabulary } from './prompts.ts';

const digits = promptVocabulary('mnist', ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
const fashion = promptVocabulary('fashion-mnist', fashionLabelNames);

test('MNIST prompts: digit words and numerals, with filler words and punctuation around them', () => {
  assert.equal(labelFromPrompt('a handwritten seven', digits), 7);
  assert.equal(labelFromPrompt('7', digits), 7);
  assert.equal(labelFromPrompt('The digit ZERO.', digits), 0);
  assert.equal(labelFromPrompt('draw me a one', digits), 1);
  assert.equal(labelFromPrompt('nine, please!', digits), 9);
  assert.equal(labelFromPrompt('hand-written sevens', digits), 7);
  assert.equal(labelFromPrompt('seven - handwritten', digits), 7, 'a lone hyphen is punctuation');
});

test('Fashion-MNIST prompts: garment names and synonyms; longer phrases win', () => {
  assert.equal(labelFromPrompt('a photo of a sneaker', fashion), 7);
  assert.equal(labelFromPrompt('running shoes', fashion), 7);
  assert.equal(labelFromPrompt('jeans', fashion), 1);
  assert.equal(labelFromPrompt('a T-shirt', fashion), 0);
  assert.equal(labelFromPrompt('tee', fashion), 0);
  assert.equal(labelFromPrompt('a tee-shirt', fashion), 0);
  assert.equal(labelFromPrompt('an ankle boot', fashion), 9);
  assert.equal(labelFromPrompt('boots', fashion), 9);
  assert.equal(labelFromPrompt('a dress shirt', fashion), 6, '"dress shirt" is a shirt, not a dress');
  assert.equal(labelFromPrompt('a dress', fashion), 3);
  assert.equal(labelFromPrompt('handbag', fashion), 8);
  assert.equal(labelFromPrompt('ankle-boot', fashion), 9, 'the stored label name itself works');
});

test('a folder dataset\'s vocabulary is its class names and their plurals', () => {
  const shapes = promptVocabulary('/data/shapes', ['ring', 'square']);
  assert.equal(labelFromPrompt('a ring', shapes), 0);
  assert.equal(labelFromPrompt('squares', shapes), 1);
});

test('an unknown word, no label, or two labels is an error that says what the model understands', () => {
  assert.throws(() => labelFromPrompt('a purple seven', digits), /has words this model does not know \(purple\): it understands .*7\/seven/);
  assert.throws(() => labelFromPrompt('a picture', digits), /names no label/);
  assert.throws(() => labelFromPrompt('   ', digits), /the prompt is empty/);
  assert.throws(() => labelFromPrompt('a seven and an eight', digits), /has words this model does not know \(and\)/);
  assert.throws(() => labelFromPrompt('seven eight', digits), /names 2 labels \(7, 8\); name one/);
  assert.throws(() => labelFromPrompt('a handwritten seven', fashion), /does not know \(seven\).*sneaker/);
  assert.throws(() => labelFromPrompt('seven', promptVocabulary('mnist', [])), /no label names, so it cannot read a prompt/);
});

test('a clip prompt names its digits in order, and must name as many as the model shows', () => {
  const vocabulary = promptVocabulary('moving-mnist', ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual(labelListFromPrompt('a 3 and a 7 bouncing', vocabulary, 2), [3, 7]);
  assert.deepEqual(labelListFromPrompt('seven and three', vocabulary, 2), [7, 3]);
  assert.throws(() => labelListFromPrompt('a 3 bouncing', vocabulary, 2), /names 1 label \(3\); this model shows 2 per clip/);
  assert.throws(() => labelListFromPrompt('a 3 and a cat', vocabulary, 2), /does not know \(cat\)/);
});

test('the built-in 3-D shapes understand their usual names; words for what the model cannot control are refused, listing what it knows', () => {
  const shapes = promptVocabulary('shapes', ['sphere', 'cube', 'torus', 'cylinder', 'cone', 'chair', 'table']);
  assert.equal(labelFromPrompt('a torus', shapes), 2);
  assert.equal(labelFromPrompt('a 3d model of a donut', shapes), 2);
  assert.equal(labelFromPrompt('tori', shapes), 2);
  assert.equal(labelFromPrompt('a desk', shapes), 6);
  assert.throws(() => labelFromPrompt('a small torus', shapes), /words this model does not know \(small\): it understands sphere\/spheres\/ball/);
});

