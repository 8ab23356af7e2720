/**
 * The classifier family: `genloom train classifier` makes the feature nets the image metrics use
 * (models/classifier-mnist, models/classifier-fashion), and any user can train one on a folder.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherLabels, loadImageDataset, type ImageDataset } from '../../data/index.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { loadWeights, parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { Classifier, type ClassifierBatch } from './classifier.ts';
import { shiftImages } from '../../data/augment.ts';
import { classifierPresets, parseClassifierConfig } from './config.ts';
import { classifyDataset } from './evaluate.ts';
import { builtinImageDatasets } from '../../data/index.ts';

async function trainClassifier(request: TrainRequest): Promise<TrainSummary> {
  const setup = prepareImageTraining('classifier', request, { batchSize: 128, learningRate: 2e-3, epochs: 8 }, parseClassifierConfig, (data, spec) => {
    if (!data.labels || !data.labelNames) throw new GenloomError('BAD_ARGUMENT', `${spec} has no labels: a classifier needs a labelled dataset (a folder with one subfolder per class)`);
    return { classes: data.labelNames.length };
  });
  const { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  if (!data.labels) throw new GenloomError('BAD_ARGUMENT', `${setup.datasetSpec} has no labels: a classifier needs a labelled dataset`);
  const classifier = new Classifier(config, fromSeed(seed).fork('init'));
  const shape: [number, number, number] = [data.height, data.width, data.channels];
  try {
    const result = await train<ClassifierBatch>(
      { params: classifier.params, loss: (batch, random) => classifier.loss(batch, random) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        makeBatch: (indices, random) => ({
          images: tf.tensor4d(shiftImages(data.pixels, indices, shape, config.augmentShift, random), [indices.length, ...shape]),
          labels: gatherLabels(data, indices),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.02 },
        ...trainingCadence(totalSteps, stepsPerEpoch),
        manifest: (step, epoch) => setup.manifest(step, epoch, { schedule: 'cosine', augmentation: `random shifts of up to ${config.augmentShift} px` }),
      },
    );
    return trainSummary(request, result);
  } finally {
    classifier.dispose();
  }
}

function loadClassifier(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parseClassifierConfig(manifest.config);
  const classifier = new Classifier(config, fromSeed(0));
  loadWeights(dir, 'classifier', classifier.params);
  const training = manifest.training as Record<string, unknown>;
  const labelNames = training['labelNames'] as string[] | undefined;
  return {
    family: 'classifier',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames,
    classifier: {
      classes: config.classes,
      featureDim: config.featureDim,
      features: (images) => classifier.features(images),
      logitsFromFeatures: (features) => classifier.logitsFromFeatures(features),
    },
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const test: ImageDataset = loadImageDataset(spec, { split: 'test', height: config.imageHeight, width: config.imageWidth, channels: config.channels });
      if (!test.labels) throw new GenloomError('BAD_ARGUMENT', `${spec} has no labels to measure accuracy against`);
      if ((test.labelNames?.length ?? 0) !== config.classes) {
        throw new GenloomError('SHAPE_MISMATCH', `${spec} has ${test.labelNames?.length ?? 0} labels but the classifier knows ${config.classes}`);
      }
      const { predictions, meanLoss } = classifyDataset(classifier, test);
      let correct = 0;
      const perClass = new Array<{ correct: number; total: number }>(config.classes).fill({ correct: 0, total: 0 }).map(() => ({ correct: 0, total: 0 }));
      predictions.forEach((predicted, i) => {
        const label = test.labels![i]!;
        perClass[label]!.total += 1;
        if (predicted === label) {
          correct += 1;
          perClass[label]!.correct += 1;
        }
      });
      return {
        family: 'classifier',
        dataset: spec,
        split: test.split,
        images: test.count,
        accuracy: correct / test.count,
        crossEntropy: meanLoss,
        perClassAccuracy: Object.fromEntries(perClass.map((entry, label) => [labelNames?.[label] ?? String(label), Number((entry.correct / Math.max(1, entry.total)).toFixed(4))])),
      };
    },
    dispose: () => classifier.dispose(),
  };
}

export const classifierFamily: FamilyDefinition = {
  name: 'classifier',
  summary: 'image classifier: labels images, and is the feature net of the image metrics (fid_classifier, precision/recall)',
  builtinDatasets: builtinImageDatasets,
  capabilities: [],
  presets: Object.keys(classifierPresets),
  options: [
    { flags: '--conv-channels <list>', description: 'channels of the 3×3 conv layers, e.g. 16,32,64', configKey: 'convChannels', parse: parseIntegerList },
    { flags: '--feature-dim <n>', description: 'width of the feature layer the image metrics use', configKey: 'featureDim', parse: parseIntegerFlag },
    { flags: '--dropout <p>', description: 'dropout on the features while training', configKey: 'dropout', parse: Number },
    { flags: '--augment-shift <px>', description: 'random shifts of up to this many pixels while training (0 = off)', configKey: 'augmentShift', parse: parseIntegerFlag },
  ],
  train: trainClassifier,
  load: loadClassifier,
};
