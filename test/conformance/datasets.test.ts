/**
 * The dataset suite: every built-in dataset some family trains on (the union of the families'
 * `builtinDatasets`, so a new one is covered or fails here for want of a loader) loads both of its
 * splits with the shapes and labels it claims, gives the same bytes when loaded again, and keeps
 * its splits apart where it says they are (MNIST's and Fashion-MNIST's test images are not train
 * images, but for the package's own repeats; KJV's validation verses are not training verses; Moving
 * MNIST's and the shapes' test items are drawn from other streams than their training items).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadImageDataset } from '../../src/data/index.ts';
import { movingMnist } from '../../src/data/moving-mnist.ts';
import { loadTextCorpus } from '../../src/data/text-dataset.ts';
import { families } from '../../src/models/registry.ts';
import { loadShapeDataset } from '../../src/shapes/shape-dataset.ts';

/** One split as the suite sees it: how many items, each item's values, and labels. */
interface Split {
  count: number;
  /** Values per item, and what they must be within. */
  itemShape: number[];
  range: [number, number];
  item(index: number): ArrayLike<number>;
  labels?: ArrayLike<number>;
  labelNames?: string[];
}

interface DatasetLoader {
  load(split: 'train' | 'test'): Split;
  /** How many test items may also be training items (by content): 0 where the splits are apart. */
  sharedAtMost: number;
}

const imageLoader = (name: string, sharedAtMost = 0): DatasetLoader => ({
  sharedAtMost,
  load(split) {
    const data = loadImageDataset(name, { split });
    const size = data.height * data.width * data.channels;
    return { count: data.count, itemShape: [data.height, data.width, data.channels], range: [0, 1], item: (i) => data.pixels.subarray(i * size, (i + 1) * size), labels: data.labels, labelNames: data.labelNames };
  },
});

// Small slices where a split is rendered on demand: enough to check, cheap to make.
const loaders: Record<string, DatasetLoader> = {
  mnist: imageLoader('mnist'),
  // The fashion-mnist package holds some images twice (42 repeats among our training images):
  // 13 of our 10,000 test images are pixel for pixel training images too (README, Data notes).
  'fashion-mnist': imageLoader('fashion-mnist', 13),
  // Some emoji share one picture in a vendor's set (Australia's flag is also Heard & McDonald
  // Islands'; Twemoji draws several families alike): 5 test images equal a training image.
  emoji: imageLoader('emoji', 5),
  kjv: {
    sharedAtMost: 0,
    load(split) {
      const corpus = loadTextCorpus('kjv');
      const verses = (split === 'train' ? corpus.train : corpus.validation).split('\n').filter(Boolean);
      return { count: verses.length, itemShape: [], range: [0, 0x10ffff], item: (i) => Array.from(verses[i]!, (c) => c.codePointAt(0)!) };
    },
  },
  'moving-mnist': {
    sharedAtMost: 0,
    load(split) {
      const data = movingMnist({ split, frames: 4, count: 40 });
      return { count: data.count, itemShape: [data.frames, data.height, data.width], range: [0, 1], item: (i) => data.clip(i).clip.pixels, labels: Int32Array.from({ length: data.count }, (_, i) => data.clip(i).digits[0]!), labelNames: data.labelNames };
    },
  },
  shapes: {
    sharedAtMost: 0,
    load(split) {
      const data = loadShapeDataset('shapes', { split, resolution: 16, count: 40 });
      const size = data.resolution ** 3;
      return { count: data.count, itemShape: [data.resolution, data.resolution, data.resolution], range: [0, 1], item: (i) => data.voxels.subarray(i * size, (i + 1) * size), labels: data.labels, labelNames: data.labelNames };
    },
  },
};

const hashOf = (values: ArrayLike<number>) => createHash('sha1').update(Buffer.from(Float64Array.from(values as ArrayLike<number>).buffer)).digest('hex');
const builtins = [...new Set(Object.values(families).flatMap((family) => family.builtinDatasets))].sort();

test('every built-in dataset a family names has a loader here', () => {
  assert.deepEqual(builtins.filter((name) => !loaders[name]), [], 'add a loader for each to test/conformance/datasets.test.ts');
});

for (const name of builtins) {
  test(`dataset ${name}: both splits load with their shapes, value ranges and labels; again the same bytes; splits apart`, () => {
    const loader = loaders[name];
    if (!loader) return; // reported by the test above
    const train = loader.load('train');
    const testSplit = loader.load('test');
    const again = loader.load('test');
    for (const [which, split] of [['train', train], ['test', testSplit]] as const) {
      assert.ok(split.count > 0, `${name} ${which} is not empty`);
      const expected = split.itemShape.reduce((a, b) => a * b, 1);
      for (const index of [0, Math.floor(split.count / 2), split.count - 1]) {
        const values = Array.from(split.item(index));
        if (split.itemShape.length > 0) assert.equal(values.length, expected, `${name} ${which}[${index}] has ${split.itemShape.join('×')} values`);
        else assert.ok(values.length > 0, `${name} ${which}[${index}] is not empty`);
        assert.ok(values.every((value) => value >= split.range[0] && value <= split.range[1]), `${name} ${which}[${index}] lies in [${split.range}]`);
      }
      if (split.labels) {
        assert.equal(split.labels.length, split.count, `${name} ${which}: one label per item`);
        const classes = split.labelNames?.length ?? 0;
        assert.ok(classes > 1 && Array.from(split.labels).every((label) => Number.isInteger(label) && label >= 0 && label < classes), `${name} ${which}: labels index its ${classes} names`);
        assert.ok(new Set(Array.from(split.labels)).size > 1, `${name} ${which}: more than one label occurs`);
      }
    }
    assert.equal(again.count, testSplit.count);
    for (const index of [0, testSplit.count - 1]) assert.equal(hashOf(again.item(index)), hashOf(testSplit.item(index)), `${name}: the same item twice`);
    const seen = new Set(Array.from({ length: train.count }, (_, i) => hashOf(train.item(i))));
    const shared = Array.from({ length: testSplit.count }, (_, i) => i).filter((i) => seen.has(hashOf(testSplit.item(i))));
    assert.ok(shared.length <= loader.sharedAtMost, `${name}: ${shared.length} test items are also training items (at most ${loader.sharedAtMost}), e.g. ${shared.slice(0, 5).join(', ')}`);
  });
}
