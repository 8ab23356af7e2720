/**
 * Judging a colour image generator in a clip model's image features (the shipped
 * models/clip-emoji, or --clip DIR): fid_clip (a Fréchet distance on those features, named plainly:
 * it is not comparable with the Inception FID), precision/recall in the same features, and for
 * label-conditional models the CLIP score (mean cosine between an image and the text of its label),
 * each beside the same figures for real data (the test split against the training split).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { gatherImages, loadImageDataset, type ImageDataset } from '../data/index.ts';
import { readManifest } from '../io/checkpoint.ts';
import { clipFamily } from '../models/clip/index.ts';
import type { ContrastiveModel, LoadedModel } from '../models/family.ts';
import { createProgress } from '../train/progress.ts';
import type { GeneratorToJudge } from './generator-eval.ts';
import { firstRows, fitGaussian, frechetDistance, precisionRecall, roundMetric, roundMetrics, type FeatureSet } from './image-metrics.ts';

const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
export const shippedClipModel = 'clip-emoji';

/** The clip model the colour metrics use: the one given, else the shipped one. */
export function clipFeatureNetDir(given?: string): string {
  if (given) return given;
  const dir = `${modelsDir}${shippedClipModel}`;
  if (!existsSync(dir)) throw new GenloomError('NOT_FOUND', `the colour image metrics need a clip model and ${dir} is missing: train one (genloom train clip --dataset emoji --out runs/clip) and pass --clip runs/clip`);
  return dir;
}

/** Loads a clip model directory as the feature net of the colour metrics; WRONG_FAMILY for another family. */
export function loadClipFeatureNet(dir: string): LoadedModel & { contrastive: ContrastiveModel } {
  const manifest = readManifest(dir);
  if (manifest.family !== 'clip') throw new GenloomError('WRONG_FAMILY', `${dir} is a ${manifest.family} model; the colour image metrics need a clip model`);
  return clipFamily.load(dir, manifest) as LoadedModel & { contrastive: ContrastiveModel };
}

/**
 * Images → the clip model's image features, resized to what it reads first: by averaging when the
 * size is a whole multiple (64 → 32), else bilinearly.
 */
export function clipImageFeatures(model: ContrastiveModel, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [height, width, channels] = model.imageShape;
    if (images.shape[3] !== channels) throw new GenloomError('SHAPE_MISMATCH', `the clip model reads ${channels}-channel images; these have ${images.shape[3]}`);
    let fitted = images;
    if (images.shape[1] !== height || images.shape[2] !== width) {
      const factor = images.shape[1] / height;
      fitted = Number.isInteger(factor) && images.shape[2] / width === factor ? tf.avgPool(images, factor, factor, 'valid') : tf.image.resizeBilinear(images, [height, width]);
    }
    return model.embedImages(fitted);
  });
}

/** Features of `count` images made batch by batch. */
function featuresOf(model: ContrastiveModel, count: number, makeBatch: (start: number, size: number) => tf.Tensor4D, onProgress?: (done: number) => void): FeatureSet {
  const data = new Float32Array(count * model.embedDim);
  const batchSize = 250;
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    tf.tidy(() => data.set(clipImageFeatures(model, makeBatch(start, size)).dataSync() as Float32Array, start * model.embedDim));
    onProgress?.(start + size);
  }
  return { count, dim: model.embedDim, data };
}

/** Mean cosine between row i of `images` and the embedding of texts[i] (both unit vectors). */
export function clipScore(model: ContrastiveModel, images: FeatureSet, texts: string[]): number {
  const unique = [...new Set(texts)];
  const vectors = model.embedTexts(unique);
  const table = vectors.dataSync() as Float32Array;
  vectors.dispose();
  let total = 0;
  for (let i = 0; i < images.count; i++) {
    const t = unique.indexOf(texts[i]!);
    let dot = 0;
    for (let j = 0; j < images.dim; j++) dot += images.data[i * images.dim + j]! * table[t * images.dim + j]!;
    total += dot;
  }
  return total / Math.max(1, images.count);
}

const round = roundMetric;

export interface ColourEvalOptions {
  dataset: string;
  clipDir?: string;
  samples?: number;
  precisionRecallSamples?: number;
  seed: number;
  quiet: boolean;
  /** Conditional models: the text of each label, for the CLIP score (default: the label names). */
  labelNames?: string[];
}

function embedRows(model: ContrastiveModel, data: ImageDataset, indices: Int32Array): FeatureSet {
  return featuresOf(model, indices.length, (start, size) => gatherImages(data, indices.subarray(start, start + size)));
}

/** The reference every fid_clip is measured against: up to 10,000 of `dataset`'s training images (a fixed draw). */
function trainReference(model: ContrastiveModel, dataset: string, height: number, width: number): { trainIndices: Int32Array; trainFeatures: FeatureSet; trainFit: ReturnType<typeof fitGaussian> } {
  const train = loadImageDataset(dataset, { split: 'train', height, width, channels: 3 });
  const trainIndices = fromSeed('genloom-fid-reference').permutation(train.count).subarray(0, Math.min(10_000, train.count));
  const trainFeatures = embedRows(model, train, trainIndices);
  return { trainIndices, trainFeatures, trainFit: fitGaussian(trainFeatures) };
}

/**
 * fid_clip of each set of colour images (pixels [count, H, W, 3] in [0, 1]) against `dataset`'s
 * training images, as `evaluateColourGenerator` measures it: what `feedback report` compares.
 */
export function fidClipOfImageSets(dataset: string, shape: readonly [number, number, number], sets: { pixels: Float32Array; count: number }[], clipDir?: string): { featureNet: string; againstTrainImages: number; fids: number[] } {
  const [height, width] = shape;
  const dir = clipFeatureNetDir(clipDir);
  const net = loadClipFeatureNet(dir);
  try {
    const model = net.contrastive;
    const { trainIndices, trainFit } = trainReference(model, dataset, height, width);
    const size = height * width * 3;
    const fids = sets.map(({ pixels, count }) => round(frechetDistance(trainFit, fitGaussian(featuresOf(model, count, (start, n) => tf.tensor4d(pixels.subarray(start * size, (start + n) * size), [n, height, width, 3]))))));
    return { featureNet: dir.replace(modelsDir, 'models/'), againstTrainImages: trainIndices.length, fids };
  } finally {
    net.dispose();
  }
}

/**
 * The colour metrics of a generator against `dataset`, and the real-data reference.
 *
 * @example
 * const metrics = evaluateColourGenerator(
 *   { imageShape: [32, 32, 3], conditional: false, generate: (count, _labels, random) => model.sampleImages!(count, random) },
 *   { dataset: 'emoji', samples: 2000, seed: 1, quiet: true },
 * ); // { fid_clip, precision, recall, reference: { fid_clip, … }, … }
 */
export function evaluateColourGenerator(generator: GeneratorToJudge, options: ColourEvalOptions): Record<string, unknown> {
  const samples = options.samples ?? 5000;
  const prSamples = options.precisionRecallSamples ?? 5000;
  const [height, width, channels] = generator.imageShape;
  if (channels !== 3) throw new GenloomError('SHAPE_MISMATCH', `the colour image metrics are for colour models; this one makes ${channels}-channel images`);
  const dir = clipFeatureNetDir(options.clipDir);
  const net = loadClipFeatureNet(dir);
  try {
    const model = net.contrastive;
    const { trainIndices, trainFeatures, trainFit } = trainReference(model, options.dataset, height, width);
    const test = loadImageDataset(options.dataset, { split: 'test', height, width, channels: 3 });
    const testIndices = fromSeed('genloom-fid-test').permutation(test.count).subarray(0, Math.min(10_000, test.count));
    const testFeatures = embedRows(model, test, testIndices);

    const classes = generator.classes ?? 0;
    const requested = generator.conditional && classes > 0 ? Int32Array.from({ length: samples }, (_, i) => i % classes) : null;
    const random = fromSeed(options.seed).fork('eval-samples');
    const progress = createProgress({ total: samples, label: 'sample', quiet: options.quiet });
    const generated = featuresOf(model, samples, (start, size) => generator.generate(size, requested ? requested.subarray(start, start + size) : null, random.fork(start)), (done) => progress.update(done, {}));
    progress.stop();

    const labelTexts = options.labelNames ?? test.labelNames;
    const trainForPr = firstRows(trainFeatures, prSamples);
    const captions = (test as ImageDataset & { captions?: string[] }).captions;
    return {
      featureNet: dir.replace(modelsDir, 'models/'),
      featureNote: 'fid_clip is a Fréchet distance on the image features of a clip model, not the Inception FID: compare it only with fid_clip from the same clip model',
      samples,
      precisionRecallSamples: Math.min(prSamples, samples),
      againstTrainImages: trainIndices.length,
      fid_clip: round(frechetDistance(trainFit, fitGaussian(generated))),
      ...roundMetrics(precisionRecall(trainForPr, firstRows(generated, prSamples))),
      ...(requested && labelTexts ? { clip_score_label: round(clipScore(model, generated, Array.from(requested, (label) => labelTexts[label]!))) } : {}),
      reference: {
        description: test.split === 'test' ? `${testIndices.length} real test images measured the same way` : `${testIndices.length} real images of ${options.dataset} (a folder has no held-out split) measured the same way`,
        fid_clip: round(frechetDistance(trainFit, fitGaussian(testFeatures))),
        ...roundMetrics(precisionRecall(trainForPr, firstRows(testFeatures, prSamples))),
        ...(requested && labelTexts && test.labels ? { clip_score_label: round(clipScore(model, testFeatures, Array.from(testIndices, (i) => labelTexts[test.labels![i]!]!))) } : {}),
        ...(captions ? { clip_score_caption: round(clipScore(model, testFeatures, Array.from(testIndices, (i) => captions[i]!))) } : {}),
      },
    };
  } finally {
    net.dispose();
  }
}
