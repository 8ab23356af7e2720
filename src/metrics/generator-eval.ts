/**
 * Judging an image generator: draw samples, embed them and real images with the dataset's
 * classifier, and report fid_classifier, precision/recall, conditional accuracy and class coverage,
 * always beside the same figures for real data (the test set against the training set), so a
 * number means something.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed, type Random } from '../core/random.ts';
import { gatherImages, loadImageDataset, type ImageDataset } from '../data/index.ts';
import type { ImageClassifier, LoadedModel } from '../models/family.ts';
import { classifierFamily } from '../models/classifier/index.ts';
import { readManifest } from '../io/checkpoint.ts';
import { createProgress } from '../train/progress.ts';
import { classCoverageEntropy, conditionalAccuracy, firstRows, fitGaussian, frechetDistance, precisionRecall, roundMetric, roundMetrics, type FeatureSet } from './image-metrics.ts';
import { evaluateColourGenerator } from './clip-metrics.ts';

/** The shipped feature nets, by built-in dataset. */
const shippedClassifiers: Record<string, string> = { mnist: 'classifier-mnist', 'fashion-mnist': 'classifier-fashion' };
const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));

/** The classifier directory for `dataset`: the one given, else the shipped one for a built-in. */
export function featureNetDir(dataset: string, given?: string): string {
  if (given) return given;
  const shipped = shippedClassifiers[dataset];
  if (!shipped) {
    throw new GenloomError('BAD_ARGUMENT', `no shipped classifier for "${dataset}": train one (genloom train classifier --dataset ${dataset} --out runs/cls) and pass --classifier runs/cls`);
  }
  const dir = `${modelsDir}${shipped}`;
  if (!existsSync(dir)) throw new GenloomError('NOT_FOUND', `the feature net ${dir} is missing: train it with genloom train classifier --dataset ${dataset} --out ${dir}`);
  return dir;
}

/**
 * Loads a classifier directory as the feature net of the image metrics; WRONG_FAMILY for another family.
 *
 * @example
 * const net = loadFeatureNet('models/classifier-mnist');
 * const features = net.classifier.features(images); // [B, featureDim]
 * net.dispose();
 */
export function loadFeatureNet(dir: string): LoadedModel & { classifier: ImageClassifier } {
  // Not through the registry: the families that call this are themselves in the registry.
  const manifest = readManifest(dir);
  if (manifest.family !== 'classifier') throw new GenloomError('WRONG_FAMILY', `${dir} is a ${manifest.family} model; the image metrics need a classifier`);
  return classifierFamily.load(dir, manifest) as LoadedModel & { classifier: ImageClassifier };
}

export interface Embedded {
  features: FeatureSet;
  predictions: Int32Array;
}

/** Features and predicted labels for images produced batch by batch. */
export function embed(classifier: ImageClassifier, count: number, makeBatch: (start: number, size: number) => tf.Tensor4D, batchSize = 250, onProgress?: (done: number) => void): Embedded {
  const data = new Float32Array(count * classifier.featureDim);
  const predictions = new Int32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    tf.tidy(() => {
      const images = makeBatch(start, size);
      const features = classifier.features(images);
      data.set(features.dataSync() as Float32Array, start * classifier.featureDim);
      predictions.set(tf.argMax(classifier.logitsFromFeatures(features), 1).dataSync() as Int32Array, start);
    });
    onProgress?.(start + size);
  }
  return { features: { count, dim: classifier.featureDim, data }, predictions };
}

function embedDataset(classifier: ImageClassifier, data: ImageDataset, indices: Int32Array): Embedded {
  return embed(classifier, indices.length, (start, size) => gatherImages(data, indices.subarray(start, start + size)));
}

export interface GeneratorToJudge {
  /** Images [B, H, W, C] in [0, 1]; `labels` is set for conditional models. */
  generate(count: number, labels: Int32Array | null, random: Random): tf.Tensor4D;
  conditional: boolean;
  /** Conditional models: how many labels they take (must match the classifier's). */
  classes?: number;
  imageShape: [number, number, number];
}

export interface GeneratorEvalOptions {
  dataset: string;
  classifierDir?: string;
  /** Generated images for the Fréchet distance and coverage (default 10,000). */
  samples?: number;
  /** Images per set for precision/recall (default 5,000: the k-NN search is quadratic). */
  precisionRecallSamples?: number;
  seed: number;
  quiet: boolean;
}

/**
 * Metrics of a generator against `dataset`'s training images (a fixed 10,000-image subset), and the
 * reference: the test split measured the same way.
 *
 * @example
 * const model = loadModel('models/vae-mnist');
 * const metrics = evaluateGenerator(
 *   { imageShape: [28, 28, 1], conditional: false, generate: (count, _labels, random) => model.sampleImages!(count, random) },
 *   { dataset: 'mnist', samples: 2000, seed: 1, quiet: true },
 * ); // { fid_classifier, precision, recall, class_coverage_entropy, reference: { … }, … }
 */
export function evaluateGenerator(generator: GeneratorToJudge, options: GeneratorEvalOptions): Record<string, unknown> {
  const samples = options.samples ?? 10_000;
  const prSamples = options.precisionRecallSamples ?? 5000;
  const [height, width, channels] = generator.imageShape;
  const dir = featureNetDir(options.dataset, options.classifierDir);
  const featureNet = loadFeatureNet(dir);
  try {
    const { classifier } = featureNet;
    const netShape = featureNet.imageShape!;
    if (netShape.some((size, i) => size !== generator.imageShape[i])) {
      throw new GenloomError('SHAPE_MISMATCH', `the classifier ${dir} takes ${netShape.join('×')} images but the model makes ${generator.imageShape.join('×')}`);
    }
    if (generator.classes !== undefined && generator.classes > 0 && generator.classes !== classifier.classes) {
      throw new GenloomError('SHAPE_MISMATCH', `the model has ${generator.classes} labels but the classifier ${dir} knows ${classifier.classes}`);
    }
    const train = loadImageDataset(options.dataset, { split: 'train', height, width, channels: channels as 1 | 3 });
    const test = loadImageDataset(options.dataset, { split: 'test', height, width, channels: channels as 1 | 3 });
    const trainIndices = fromSeed('genloom-fid-reference').permutation(train.count).subarray(0, Math.min(10_000, train.count));
    // A folder has no test split (both "splits" are all of it): the reference is then not held out.
    const testIndices = fromSeed('genloom-fid-test').permutation(test.count).subarray(0, Math.min(10_000, test.count));
    const trainEmbedded = embedDataset(classifier, train, trainIndices);
    const testEmbedded = embedDataset(classifier, test, testIndices);
    const trainFit = fitGaussian(trainEmbedded.features);
    const classes = classifier.classes;

    const requested = generator.conditional ? Int32Array.from({ length: samples }, (_, i) => i % classes) : null;
    const random = fromSeed(options.seed).fork('eval-samples');
    const progress = createProgress({ total: samples, label: 'sample', quiet: options.quiet });
    const generated = embed(
      classifier,
      samples,
      (start, size) => generator.generate(size, requested ? requested.subarray(start, start + size) : null, random.fork(start)),
      250,
      (done) => progress.update(done, {}),
    );
    progress.stop();

    const trainForPr = firstRows(trainEmbedded.features, prSamples);
    const model = {
      fid_classifier: roundMetric(frechetDistance(trainFit, fitGaussian(generated.features))),
      ...roundMetrics(precisionRecall(trainForPr, firstRows(generated.features, prSamples))),
      class_coverage_entropy: roundMetric(classCoverageEntropy(generated.predictions, classes)),
      ...(requested ? { conditional_accuracy: roundMetric(conditionalAccuracy(generated.predictions, requested)) } : {}),
    };
    const testLabels = test.labels ? testIndices.map((i) => test.labels![i]!) : null;
    const reference = {
      description: test.split === 'test' ? `${testIndices.length} real test images measured the same way` : `${testIndices.length} real images of ${options.dataset} (a folder has no held-out split) measured the same way`,
      fid_classifier: roundMetric(frechetDistance(trainFit, fitGaussian(testEmbedded.features))),
      ...roundMetrics(precisionRecall(trainForPr, firstRows(testEmbedded.features, prSamples))),
      class_coverage_entropy: roundMetric(classCoverageEntropy(testEmbedded.predictions, classes)),
      ...(testLabels ? { conditional_accuracy: roundMetric(conditionalAccuracy(testEmbedded.predictions, testLabels)) } : {}),
    };
    return {
      featureNet: dir.replace(modelsDir, 'models/'),
      featureNote: 'fid_classifier is a Fréchet distance on the features of the project\'s own classifier, not the Inception FID',
      samples,
      precisionRecallSamples: Math.min(prSamples, samples),
      againstTrainImages: trainIndices.length,
      ...model,
      reference,
    };
  } finally {
    featureNet.dispose();
  }
}

/**
 * The image metrics of a model's samples when a feature net exists for its dataset (a built-in, or
 * --classifier); otherwise a note saying how to get them. For families whose main metric is another
 * (a VAE's likelihood), so their samples are judged on the same scale as a GAN's.
 */
export function sampleQuality(
  dataset: string,
  options: { classifier?: string; clip?: string; samples?: number; seed: number; quiet: boolean },
  generate: GeneratorToJudge['generate'],
  imageShape: [number, number, number],
): Record<string, unknown> {
  if (!options.classifier && !(dataset in shippedClassifiers) && imageShape[2] !== 3) {
    return { sampleMetrics: `skipped: no shipped classifier for ${dataset}; pass --classifier DIR for fid_classifier, precision and recall` };
  }
  return evaluateForEval({ generate, conditional: false, imageShape }, dataset, options);
}

/**
 * The image metrics as `genloom eval` gives them to a family: a colour model with no classifier of
 * its own (none given, none shipped for its dataset) is judged in a clip model's features
 * (clip-metrics.ts); every other model by `evaluateGenerator`.
 */
export function evaluateForEval(
  generator: GeneratorToJudge,
  dataset: string,
  options: { classifier?: string; clip?: string; samples?: number; seed: number; quiet: boolean },
): Record<string, unknown> {
  if (generator.imageShape[2] === 3 && !options.classifier && !(dataset in shippedClassifiers)) {
    return evaluateColourGenerator(generator, { dataset, clipDir: options.clip, samples: options.samples, seed: options.seed, quiet: options.quiet });
  }
  return evaluateGenerator(generator, { dataset, classifierDir: options.classifier, samples: options.samples, seed: options.seed, quiet: options.quiet });
}
