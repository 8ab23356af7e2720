/**
 * Metrics for shape generators, after Achlioptas et al. 2018 ("Learning Representations and
 * Generative Models for 3D Point Clouds"), on voxel grids:
 *
 * 1. Reconstruction (VAE): mean voxel IoU at 0.5 between test shapes and their decoded posterior means.
 * 2. Coverage and MMD between generated and held-out test shapes, under the Chamfer distance of
 *    surface point sets: a shape's points are the centres of its occupied voxels with an empty
 *    6-neighbour (seeded subsample ≤ 512), coordinates in voxel units / resolution; CD(A, B) =
 *    mean_a min_b ‖a − b‖² + mean_b min_a ‖a − b‖². MMD = mean over test shapes of the distance
 *    to their nearest sample; coverage = share of test shapes that are the nearest of some sample.
 *    The same figures for a second held-out set (real shapes) against the test set say what real
 *    data scores. Nearest distances are looked up in an exact squared Euclidean distance transform
 *    of each point set (Felzenszwalb & Huttenlocher 2012), so each pair costs O(points).
 * 3. Label accuracy (conditional models): a small voxel classifier trained here on the train split
 *    (fixed seed) labels samples generated with label L; its accuracy on real test shapes says how
 *    far that number can be trusted.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, gradientsOf } from '../../core/params.ts';
import { fromSeed, type Random } from '../../core/random.ts';
import { gatherVoxels, gridOf, loadShapeDataset, type ShapeDataset } from '../../shapes/shape-dataset.ts';
import { voxelIou } from '../../shapes/voxelize.ts';
import { AdamW } from '../../train/adam.ts';
import { LazyProgress } from '../../train/progress.ts';
import type { EvaluateOptions, ShapeModel, VoxelGrid } from '../family.ts';
import { addDense, dense } from '../../layers/dense-conv.ts';
import { addPatchDown, patchDown, type Voxels } from './voxel-layers.ts';

const maxPoints = 512;
const classifierSteps = 300;
const classifierBatch = 32;

/** Surface voxels of a grid (occupied, with an empty or outside 6-neighbour) as lattice indices, subsampled to ≤ 512. */
export function surfacePoints(grid: VoxelGrid, random: Random): Int32Array {
  const r = grid.resolution;
  const v = grid.values;
  const inside = (x: number, y: number, z: number) => x >= 0 && y >= 0 && z >= 0 && x < r && y < r && z < r && v[(x * r + y) * r + z]! >= 0.5;
  const points: number[] = [];
  for (let x = 0; x < r; x++) {
    for (let y = 0; y < r; y++) {
      for (let z = 0; z < r; z++) {
        if (!inside(x, y, z)) continue;
        if (!inside(x - 1, y, z) || !inside(x + 1, y, z) || !inside(x, y - 1, z) || !inside(x, y + 1, z) || !inside(x, y, z - 1) || !inside(x, y, z + 1)) points.push((x * r + y) * r + z);
      }
    }
  }
  if (points.length <= maxPoints) return Int32Array.from(points);
  const order = random.permutation(points.length);
  return Int32Array.from(order.subarray(0, maxPoints), (i) => points[i]!).sort();
}

/** 1-D squared distance transform of f along a line (Felzenszwalb & Huttenlocher), in place via `out`. */
function transformLine(f: Float64Array, n: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (f[v[0]!] === Infinity) {
      v[0] = q;
      continue;
    }
    let s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    while (s <= z[k]!) {
      k--;
      s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const d = q - v[k]!;
    out[q] = f[v[k]!] === Infinity ? Infinity : d * d + f[v[k]!]!;
  }
}

/** Squared lattice distance from every voxel to the nearest of `points` (indices into an r³ grid). */
export function distanceTransform(points: Int32Array, r: number): Float64Array {
  const grid = new Float64Array(r ** 3).fill(Infinity);
  for (const p of points) grid[p] = 0;
  if (points.length === 0) return grid;
  const f = new Float64Array(r);
  const out = new Float64Array(r);
  const v = new Int32Array(r);
  const z = new Float64Array(r + 1);
  const strides = [1, r, r * r];
  for (const stride of strides) {
    for (let base = 0; base < r ** 3; base++) {
      // Visit each line along `stride` once, from its first voxel.
      if (Math.floor(base / stride) % r !== 0) continue;
      for (let i = 0; i < r; i++) f[i] = grid[base + i * stride]!;
      transformLine(f, r, out, v, z);
      for (let i = 0; i < r; i++) grid[base + i * stride] = out[i]!;
    }
  }
  return grid;
}

interface PointSet {
  points: Int32Array;
  distances: Float64Array;
}

function pointSet(grid: VoxelGrid, random: Random): PointSet {
  const points = surfacePoints(grid, random);
  return { points, distances: distanceTransform(points, grid.resolution) };
}

/** Chamfer distance (squared, in units of the grid side) between two point sets at resolution r; an empty set is at distance 3 (the grid's squared diagonal). */
export function chamfer(a: PointSet, b: PointSet, r: number): number {
  if (a.points.length === 0 || b.points.length === 0) return a.points.length === b.points.length ? 0 : 3;
  let ab = 0;
  for (const p of a.points) ab += b.distances[p]!;
  let ba = 0;
  for (const p of b.points) ba += a.distances[p]!;
  return (ab / a.points.length + ba / b.points.length) / (r * r);
}

/** MMD and coverage of `samples` against `reference` (Achlioptas et al. 2018). */
export function coverageAndMmd(samples: PointSet[], reference: PointSet[], r: number): { mmd: number; coverage: number } {
  const distances = samples.map((sample) => reference.map((shape) => chamfer(sample, shape, r)));
  let mmd = 0;
  for (let j = 0; j < reference.length; j++) mmd += Math.min(...distances.map((row) => row[j]!));
  const nearest = new Set(distances.map((row) => row.indexOf(Math.min(...row))));
  return { mmd: mmd / reference.length, coverage: nearest.size / reference.length };
}

/** A small voxel classifier (patchDown levels + dense), trained with a fixed seed. */
function trainClassifier(train: ShapeDataset, classes: number, onProgress: (done: number, total: number) => void) {
  const r = train.resolution;
  const channels = r >= 32 ? [8, 16, 32] : [8, 16];
  const builder = new ParamBuilder(fromSeed('shape-eval-classifier'));
  channels.forEach((out, i) => addPatchDown(builder, `down${i}`, i === 0 ? 1 : channels[i - 1]!, out));
  const side = r / 2 ** channels.length;
  addDense(builder, 'out', side ** 3 * channels[channels.length - 1]!, classes);
  const params = builder.params;
  const logits = (x: Voxels) =>
    tf.tidy(() => {
      let h = x;
      channels.forEach((_, i) => {
        h = tf.relu(patchDown(params, `down${i}`, h));
      });
      return dense(params, 'out', h.reshape([h.shape[0], -1]) as tf.Tensor2D);
    });
  const adam = new AdamW(params, { weightDecay: 0 });
  const random = fromSeed('shape-eval-classifier').fork('batches');
  const labels = train.labels!;
  for (let step = 0; step < classifierSteps; step++) {
    const indices = Int32Array.from({ length: classifierBatch }, () => random.integer(train.count));
    tf.tidy(() => {
      const x = gatherVoxels(train, indices);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(indices, (i) => labels[i]!), 'int32'), classes).toFloat();
      const { grads } = gradientsOf(params, () => tf.losses.softmaxCrossEntropy(y, logits(x)) as tf.Scalar);
      adam.apply(grads, 2e-3);
    });
    onProgress(step + 1, classifierSteps);
  }
  const predict = (grids: VoxelGrid[]): number[] => {
    const out: number[] = [];
    for (let start = 0; start < grids.length; start += 32) {
      const chunk = grids.slice(start, start + 32);
      const values = new Float32Array(chunk.length * r ** 3);
      chunk.forEach((grid, i) => values.set(grid.values.map((value) => (value >= 0.5 ? 1 : 0)), i * r ** 3));
      out.push(...tf.tidy(() => Array.from(logits(tf.tensor5d(values, [chunk.length, r, r, r, 1])).argMax(1).dataSync())));
    }
    return out;
  };
  return { predict, dispose: () => { adam.dispose(); disposeParams(params); } };
}

/**
 * Evaluates a shape model on `options.dataset`'s test split; see the file's header for the method.
 */
export async function evaluateShapes(model: ShapeModel, options: EvaluateOptions & { dataset: string }): Promise<Record<string, unknown>> {
  const r = model.resolution;
  const limit = options.limit ?? 100;
  const sampleCount = options.samples ?? 100;
  const test = loadShapeDataset(options.dataset, { split: 'test', resolution: r });
  const testCount = Math.min(limit, test.count);
  const testGrids = Array.from({ length: testCount }, (_, i) => gridOf(test, i));
  const random = fromSeed(options.seed).fork('shape-eval');
  const pointRandom = fromSeed('shape-eval-points');
  const result: Record<string, unknown> = { family: 'shape', generator: model.generator, dataset: options.dataset, resolution: r, testShapes: testCount, samples: sampleCount };
  const method: Record<string, string> = {};

  if (model.encode && model.decode) {
    let iou = 0;
    for (let start = 0; start < testCount; start += 16) {
      const grids = testGrids.slice(start, start + 16);
      const labels = model.conditional ? Array.from(test.labels!.subarray(start, start + grids.length)) : undefined;
      const decoded = model.decode(model.encode(grids, labels), labels);
      decoded.forEach((grid, i) => (iou += voxelIou(grid, grids[i]!)));
    }
    result['reconstructionIou'] = iou / testCount;
    method['reconstructionIou'] = 'mean voxel IoU (threshold 0.5) between test shapes and the decoding of their posterior mean';
  } else {
    result['reconstructionIou'] = null;
    method['reconstructionIou'] = `absent: a ${model.generator} generator has no encoder`;
  }

  const classes = model.labelNames?.length ?? 0;
  const sampleLabels = model.conditional ? Array.from({ length: sampleCount }, (_, i) => i % classes) : undefined;
  const progress = new LazyProgress('sampling shapes', options.quiet);
  const samples = model.generate({ count: sampleCount, labels: sampleLabels, random: random.fork('samples'), steps: options.steps, onProgress: progress.update });
  progress.stop();
  const testSets = testGrids.map((grid, i) => pointSet(grid, pointRandom.fork('test', i)));
  const sampleSets = samples.map((grid, i) => pointSet(grid, pointRandom.fork('sample', i)));
  const generated = coverageAndMmd(sampleSets, testSets, r);
  result['mmdChamfer'] = generated.mmd;
  result['coverage'] = generated.coverage;
  method['mmdChamfer'] = 'minimum matching distance (Achlioptas et al. 2018): mean over test shapes of the Chamfer distance to the nearest sample; Chamfer = mean squared nearest-neighbour distance both ways between surface-voxel centres (≤ 512 per shape, seeded subsample), in units of the grid side';
  method['coverage'] = 'share of test shapes that are the nearest (Chamfer) test shape of at least one sample';
  const heldOut = Math.min(testCount, test.count - testCount);
  if (heldOut > 0) {
    const realSets = Array.from({ length: heldOut }, (_, i) => pointSet(gridOf(test, testCount + i), pointRandom.fork('held-out', i)));
    const real = coverageAndMmd(realSets, testSets, r);
    result['reference'] = { heldOutShapes: heldOut, mmdChamfer: real.mmd, coverage: real.coverage };
    method['reference'] = `the same figures for ${heldOut} further real test shapes (not the ${testCount} above) in place of samples: what real data scores (coverage grows with the number of samples, so compare at equal counts)`;
  }

  if (model.conditional && sampleLabels) {
    const train = loadShapeDataset(options.dataset, { split: 'train', resolution: r });
    const classifierProgress = new LazyProgress('training the label classifier', options.quiet);
    const classifier = trainClassifier(train, classes, classifierProgress.update);
    classifierProgress.stop();
    try {
      const testLabels = Array.from(test.labels!.subarray(0, testCount));
      const onTest = classifier.predict(testGrids);
      const onSamples = classifier.predict(samples);
      result['classifierTestAccuracy'] = onTest.filter((label, i) => label === testLabels[i]).length / testCount;
      result['labelAccuracy'] = onSamples.filter((label, i) => label === sampleLabels[i]).length / sampleCount;
      method['labelAccuracy'] = `share of samples generated with label L that a voxel classifier (patch-conv layers + dense, ${classifierSteps} steps of batch ${classifierBatch} on the train split, seed "shape-eval-classifier") labels L; classifierTestAccuracy is its accuracy on the real test shapes`;
    } finally {
      classifier.dispose();
    }
  }
  result['method'] = method;
  return result;
}
