import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import type { CaptionedImageDataset, EmojiAttributes } from '../data/emoji.ts';
import type { ContrastiveModel, LatentModel } from '../models/family.ts';
import { attributeExamples, checkAttribute, namedAttributeVector, requireNamedAttribute, strengthSweep } from './named-attributes.ts';

await initEngine();

// A toy latent space: an image's latent is its mean colour, and a latent decodes to a flat image of it.
const size = 2;
const toyLatent: LatentModel = {
  latentDim: 3,
  encode: (images) => tf.tidy(() => ({ mean: tf.mean(images, [1, 2]) as tf.Tensor2D })),
  decode: (z) => tf.tidy(() => tf.tile(z.reshape([z.shape[0], 1, 1, 3]), [1, size, size, 1]) as tf.Tensor4D),
};
// A toy clip model: images and the words "red hair" as unit colour vectors.
const toyClip: ContrastiveModel = {
  embedDim: 3,
  imageShape: [size, size, 3],
  logitScale: 1,
  embedImages: (images) => tf.tidy(() => {
    const mean = tf.mean(images, [1, 2]) as tf.Tensor2D;
    return tf.div(mean, tf.norm(mean, 'euclidean', 1, true)) as tf.Tensor2D;
  }),
  embedTexts: (texts) => tf.tensor2d(texts.map((text) => (text.includes('red hair') ? [1, 0, 0] : [0, 1, 0]))),
};

function dataset(entries: { colour: [number, number, number]; attributes: Partial<EmojiAttributes> }[]): CaptionedImageDataset {
  const pixels = new Float32Array(entries.length * size * size * 3);
  entries.forEach((entry, i) => {
    for (let p = 0; p < size * size; p++) pixels.set(entry.colour, (i * size * size + p) * 3);
  });
  return {
    name: 'toy', split: 'train', count: entries.length, height: size, width: size, channels: 3, pixels,
    captions: entries.map((_, i) => `face ${i}`),
    attributes: entries.map((entry) => ({ vendor: 'twitter', category: 'People & Body', subcategory: 'person', age: 'adult', ...entry.attributes }) as EmojiAttributes),
  };
}

test('a named attribute is the mean latent of the images that have it minus that of those that lack it', () => {
  const data = dataset([
    { colour: [0.9, 0.3, 0.3], attributes: { hair: 'red' } },
    { colour: [0.7, 0.3, 0.3], attributes: { hair: 'red' } },
    { colour: [0.4, 0.4, 0.4], attributes: {} },
    { colour: [0.2, 0.4, 0.4], attributes: {} },
    // Neither side: a child (not a plain adult) and a curly-haired adult.
    { colour: [0, 0, 1], attributes: { age: 'child' } },
    { colour: [0, 1, 0], attributes: { hair: 'curly' } },
  ]);
  const redHair = requireNamedAttribute('Red Hair');
  assert.deepEqual(attributeExamples(data, redHair), { positive: [0, 1], negative: [2, 3] });
  const { direction, positives, negatives } = namedAttributeVector(toyLatent, data, redHair);
  assert.deepEqual([positives, negatives], [2, 2]);
  assert.deepEqual(Array.from(direction).map((value) => Number(value.toFixed(5))), [0.5, -0.1, -0.1]);
  assert.deepEqual(strengthSweep([Float32Array.of(0, 0, 0)], direction, [0, 2]).map((row) => row.map((z) => Array.from(z).map((v) => Number(v.toFixed(5))))), [[[0, 0, 0], [1, -0.2, -0.2]]]);
  assert.throws(() => requireNamedAttribute('nose'), /unknown attribute "nose": the known ones are age, smile, red hair/);
  assert.throws(() => namedAttributeVector(toyLatent, data, requireNamedAttribute('age')), /has 0 images with "age" and 1 without/);

  // Moving grey faces toward red raises their similarity to "red hair" at every step, in every face.
  const faces = tf.tensor4d(Float32Array.from({ length: 2 * size * size * 3 }, (_, i) => (i < size * size * 3 ? 0.4 : 0.6)), [2, size, size, 3]);
  const check = checkAttribute(toyLatent, toyClip, faces, redHair, direction, [0, 0.5, 1]);
  assert.equal(check.faces, 2);
  assert.equal(check.risingShare, 1);
  assert.equal(check.monotoneShare, 1);
  assert.ok(check.meanSimilarity[2]! > check.meanSimilarity[0]!);
  // The opposite direction lowers it.
  assert.equal(checkAttribute(toyLatent, toyClip, faces, redHair, direction.map((value) => -value), [0, 1]).risingShare, 0);
  faces.dispose();
});
