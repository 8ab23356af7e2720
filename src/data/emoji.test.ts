import assert from 'node:assert/strict';
import test from 'node:test';
import { compositionalPairs, emojiCategories, emojiRecords, loadEmoji } from './emoji.ts';
import { loadImageDataset } from './index.ts';
import { datasetContactSheet } from './contact-sheet.ts';
import { PNG } from 'pngjs';

test('emoji: both vendors, every image captioned, splits disjoint and seeded', () => {
  const records = emojiRecords();
  const byVendor = (vendor: string) => records.filter((record) => record.attributes.vendor === vendor).length;
  assert.equal(byVendor('twitter'), 3786);
  assert.equal(byVendor('google'), 3786);
  assert.equal(new Set(records.map((record) => `${record.attributes.vendor}/${record.image}`)).size, records.length, 'each image once');
  const test = records.filter((record) => record.split === 'test');
  const nonCompositional = records.filter((record) => record.split !== 'compositional').length;
  assert.ok(Math.abs(test.length - 0.05 * nonCompositional) <= 1, `test split is 5% (${test.length})`);
  assert.ok(records.every((record) => record.caption.endsWith(`, ${record.attributes.vendor} style`)));
  const redHair = records.find((record) => record.caption === 'woman: red hair, medium-dark skin tone, twitter style');
  assert.ok(redHair, 'the issue\'s example caption exists');
  assert.deepEqual({ hair: redHair.attributes.hair, skinTone: redHair.attributes.skinTone, age: redHair.attributes.age, gender: redHair.attributes.gender }, { hair: 'red', skinTone: 'medium-dark', age: 'adult', gender: 'woman' });
  assert.equal(records.find((record) => record.name === 'old woman')?.attributes.age, 'older');
  assert.equal(records.find((record) => record.name === 'baby')?.attributes.age, 'baby');
  assert.equal(records.find((record) => record.name === 'grinning face')?.attributes.expression, 'grinning');
  assert.equal(emojiCategories().length, 10);
});

test('emoji: the compositional pairs are held out of training in every vendor, and nothing else is', () => {
  const records = emojiRecords();
  for (const [name, tone] of compositionalPairs) {
    const matching = records.filter((record) => record.name === name && record.attributes.skinTone === tone);
    assert.equal(matching.length, 2, `${name} × ${tone}: one image per vendor`);
    assert.ok(matching.every((record) => record.split === 'compositional'));
    // Each part of the pair is learnable: the person in other tones, the tone on other people.
    assert.ok(records.some((record) => record.split === 'train' && record.name === name && record.attributes.skinTone !== tone), `${name} in other tones`);
    assert.ok(records.some((record) => record.split === 'train' && record.name !== name && record.attributes.skinTone === tone), `${tone} on others`);
  }
  assert.equal(records.filter((record) => record.split === 'compositional').length, 2 * compositionalPairs.length);
  const trainCaptions = new Set(records.filter((record) => record.split === 'train').map((record) => record.caption));
  assert.ok(records.filter((record) => record.split === 'compositional').every((record) => !trainCaptions.has(record.caption)));
});

test('emoji images: RGB on white, 32 and 64 px, deterministic, loaded through loadImageDataset', () => {
  const test32 = loadImageDataset('emoji', { split: 'test' });
  assert.equal(test32.height, 32);
  assert.equal(test32.channels, 3);
  const test64 = loadEmoji('test', 64);
  assert.equal(test64.count, test32.count);
  assert.equal(test64.pixels.length, test64.count * 64 * 64 * 3);
  // Corners are background: transparent pixels were composited on white.
  const corner = (index: number) => Array.from(test64.pixels.subarray(index * 64 * 64 * 3, index * 64 * 64 * 3 + 3));
  assert.ok(Array.from({ length: test64.count }, (_, i) => corner(i)).filter((rgb) => rgb.every((value) => value === 1)).length > test64.count / 2);
  assert.deepEqual(loadEmoji('test', 32).pixels, test32.pixels, 'the same bytes every time');
  assert.ok(test32.pixels.every((value) => value >= 0 && value <= 1));
  assert.throws(() => loadImageDataset('emoji', { split: 'train', height: 48, width: 48 }), /--image-size 48 is not one of 32, 64/);
  assert.throws(() => loadImageDataset('emoji', { split: 'train', channels: 1 }), /colour.*greyscale model/);
});

test('data show: a captioned contact sheet of the requested size', async () => {
  const png = PNG.sync.read(await datasetContactSheet('emoji', { split: 'test', limit: 10, seed: 3 }));
  assert.equal(png.width, 8 * (96 + 16));
  assert.ok(png.height > 2 * 96);
  const again = await datasetContactSheet('emoji', { split: 'test', limit: 10, seed: 3 });
  assert.deepEqual(PNG.sync.read(again).data, png.data, 'seeded');
  await assert.rejects(datasetContactSheet('emoji', { split: 'test', limit: 0, seed: 3 }), /--limit must be an integer from 1/);
});
