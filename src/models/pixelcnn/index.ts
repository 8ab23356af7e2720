/**
 * The PixelCNN family: a Gated PixelCNN on binary images (binarized MNIST and the like), sampled
 * pixel by pixel, able to complete an image from its top rows, and evaluated by exact likelihood:
 * nats per image and bits per dimension.
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { binarize, fixedBinarization } from '../../data/binarize.ts';
import { gatherImages, gatherLabels, loadImageDataset, type ImageDataset } from '../../data/index.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { evaluateForEval } from '../../metrics/generator-eval.ts';
import { createProgress } from '../../train/progress.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { conditionalClasses, loadWeights, parseIntegerFlag, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { parsePixelCnnConfig, pixelCnnPresets } from './config.ts';
import { PixelCnn, type PixelCnnBatch } from './pixelcnn.ts';
import { samplePixelCnn } from './sampler.ts';
import { builtinDatasets } from '../../data/builtin.ts';

async function trainPixelCnn(request: TrainRequest): Promise<TrainSummary> {
  const { conditional, ...config } = request.config;
  const setup = prepareImageTraining('pixelcnn', { ...request, config }, { batchSize: 64, learningRate: 1e-3, epochs: 3 }, parsePixelCnnConfig, (data, spec) => {
    if (data.channels !== 1) throw new GenloomError('BAD_ARGUMENT', `a PixelCNN models black-and-white images, but ${spec} has ${data.channels}-channel (colour) images`);
    return { classes: conditionalClasses(conditional, data, spec) };
  });
  const { data, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const model = new PixelCnn(setup.config, fromSeed(seed).fork('init'));
  const classes = model.config.classes;
  const gridLabels = classes ? Int32Array.from({ length: 2 * classes }, (_, i) => i % classes) : undefined;
  try {
    const result = await train<PixelCnnBatch>(
      { params: model.params, loss: (batch) => model.loss(batch) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        // A fresh binarization at every draw (dynamic binarization).
        makeBatch: (indices, random) => ({
          images: tf.tidy(() => binarize(gatherImages(data, indices), random.fork('binarize'))),
          ...(classes ? { labels: gatherLabels(data, indices) } : {}),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
        clipNorm: 1,
        ...trainingCadence(totalSteps, stepsPerEpoch),
        manifest: (step, epoch) => setup.manifest(step, epoch, { schedule: 'cosine', binarization: 'dynamic (a fresh draw per batch)' }),
        afterCheckpoint: () => {
          const grid = samplePixelCnn(model, gridLabels?.length ?? 16, fromSeed('progress-grid'), { labels: gridLabels });
          writeImageGrid(join(request.outDir, 'samples.png'), grid, gridLabels ? classes : undefined);
          grid.dispose();
        },
      },
    );
    return trainSummary(request, result);
  } finally {
    model.dispose();
  }
}

/** Mean NLL in nats per image over the first `count` (binary) images of a dataset, in batches, with progress. */
function testNll(model: PixelCnn, data: ImageDataset, count: number, quiet: boolean): number {
  const batchSize = 100;
  const progress = createProgress({ total: count, label: 'NLL', quiet });
  let sum = 0;
  try {
    for (let start = 0; start < count; start += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
      sum += tf.tidy(() => {
        const labels = model.conditional ? gatherLabels(data, indices) : undefined;
        return model.negativeLogLikelihood(gatherImages(data, indices), labels).sum().dataSync()[0]!;
      });
      progress.update(start + indices.length, { nll: sum / (start + indices.length) });
    }
  } finally {
    progress.stop();
  }
  return sum / count;
}

function loadPixelCnn(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parsePixelCnnConfig(manifest.config);
  const model = new PixelCnn(config, fromSeed(0));
  loadWeights(dir, 'pixelcnn', model.params);
  const training = manifest.training as Record<string, unknown>;
  const imageShape: [number, number, number] = [config.imageHeight, config.imageWidth, 1];
  return {
    family: 'pixelcnn',
    manifest,
    imageShape,
    labelNames: training['labelNames'] as string[] | undefined,
    conditional: model.conditional,
    sampleImages: (count, random, options = {}) => samplePixelCnn(model, count, random, { labels: options.labels ?? conditionalDefault(model, count), onRow: rowReporter(options.onProgress, config.imageHeight) }),
    completion: {
      complete: (given, rows, random, options = {}) =>
        samplePixelCnn(model, given.shape[0], random, { given: binaryPixels(given), fromRow: rows, labels: options.labels ?? conditionalDefault(model, given.shape[0]), onRow: rowReporter(options.onProgress, config.imageHeight) }),
    },
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const test = fixedBinarization(loadImageDataset(spec, { split: 'test', height: config.imageHeight, width: config.imageWidth, channels: 1 }));
      if (model.conditional && !test.labels) throw new GenloomError('BAD_ARGUMENT', `this PixelCNN is conditional; ${spec} has no labels to condition on`);
      const count = Math.min(options.limit ?? test.count, test.count);
      const started = performance.now();
      const nll = testNll(model, test, count, options.quiet);
      const dimensions = config.imageHeight * config.imageWidth;
      return {
        family: 'pixelcnn',
        dataset: spec,
        split: test.split,
        images: count,
        binarization: 'fixed stochastic binarization of the test images (seed "genloom-test-binarization"; not the Larochelle & Murray file)',
        units: 'nats per image (exact: the product of the per-pixel Bernoullis in raster order)',
        nll: round(nll),
        bitsPerDim: round(nll / (dimensions * Math.LN2)),
        nllSeconds: round((performance.now() - started) / 1000),
        // Drawing thousands of images pixel by pixel takes hours: the image metrics only on request.
        ...(options.samples !== undefined
          ? evaluateForEval({ generate: (count, labels, random) => samplePixelCnn(model, count, random, { labels: labels ?? undefined }), conditional: model.conditional, classes: config.classes, imageShape }, spec, options)
          : {}),
      };
    },
    dispose: () => model.dispose(),
  };
}

function rowReporter(onProgress: ((done: number, total: number) => void) | undefined, rows: number): ((done: number) => void) | undefined {
  return onProgress ? (done) => onProgress(done, rows) : undefined;
}

/** Conditional models without a requested label: labels drawn in turn, 0, 1, 2, … */
function conditionalDefault(model: PixelCnn, count: number): Int32Array | undefined {
  return model.conditional ? Int32Array.from({ length: count }, (_, i) => i % model.config.classes) : undefined;
}

/** Images in [0, 1] → 0/1 pixels (thresholded at ½), as the model was trained on. */
function binaryPixels(images: tf.Tensor4D): Float32Array {
  return Float32Array.from(images.dataSync(), (value) => (value >= 0.5 ? 1 : 0));
}

function round(value: number): number {
  return Number(value.toFixed(4));
}

export const pixelCnnFamily: FamilyDefinition = {
  name: 'pixelcnn',
  summary: 'Gated PixelCNN: black-and-white images pixel by pixel, with exact likelihoods; completes images from their top rows',
  datasets: 'mnist, fashion-mnist, or a folder of black-and-white images (subfolders = labels), binarized',
  builtinDatasets,
  generates: 'images',
  capabilities: ['images', 'completion'],
  slowGeneration: true,
  // Pixel by pixel: one pass of the network over the image per pixel drawn (completion draws the rows below those kept).
  generationWork: (config, request, kind) => {
    const height = Number(config['imageHeight']), width = Number(config['imageWidth']);
    const rows = kind === 'complete' ? Math.max(0, height - Number(request['rows'] ?? Math.floor(height / 2))) : height;
    return { items: Number(request['n'] ?? 1), passesPerItem: kind === 'decode' || kind === 'encode' ? 1 : Math.max(1, rows * width), positionsPerPass: height * width, what: 'images' };
  },
  presets: Object.keys(pixelCnnPresets),
  options: [
    { flags: '--features <n>', description: 'feature maps p of each stack (the gates use 2p)', configKey: 'features', parse: parseIntegerFlag },
    { flags: '--layers <n>', description: 'gated layers after the 7×7 input layer', configKey: 'layers', parse: parseIntegerFlag },
    { flags: '--kernel <n>', description: 'kernel side of the gated layers (odd)', configKey: 'kernel', parse: parseIntegerFlag },
    { flags: '--input-kernel <n>', description: 'kernel side of the first, masked layer (odd)', configKey: 'inputKernel', parse: parseIntegerFlag },
    { flags: '--head-channels <n>', description: 'channels of the 1×1 output head', configKey: 'headChannels', parse: parseIntegerFlag },
    { flags: '--conditional', description: 'condition on the labels (subfolder names, or the digit classes)', configKey: 'conditional', parse: () => true },
  ],
  train: trainPixelCnn,
  load: loadPixelCnn,
};
