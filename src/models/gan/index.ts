/**
 * The GAN family: train (unconditional or --conditional), sample with labels, truncation and
 * discriminator rejection, walk the latent space, and evaluate with the image metrics.
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed, type Random } from '../../core/random.ts';
import { gatherImages, gatherLabels } from '../../data/index.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { evaluateForEval } from '../../metrics/generator-eval.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, SampleOptions, TrainRequest, TrainSummary } from '../family.ts';
import { conditionalClasses, loadWeights, parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { channelsForSize, ganPresets, parseGanConfig } from './config.ts';
import { Gan, toUnit, type GanBatch } from './gan.ts';
import { createCollapseMonitor } from './monitor.ts';
import { rejectionSample } from './rejection.ts';
import { builtinDatasets } from '../../data/builtin.ts';

async function trainGan(request: TrainRequest): Promise<TrainSummary> {
  const { conditional, ...config } = request.config;
  const setup = prepareImageTraining('gan', { ...request, config }, { batchSize: 64, learningRate: 2e-4, epochs: 10 }, parseGanConfig, (data, spec) => {
    return { ...channelsForSize(data.height, request.preset ?? 'small'), classes: conditionalClasses(conditional, data, spec) };
  });
  const { data, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const gan = new Gan(setup.config, fromSeed(seed).fork('init'));
  const monitor = createCollapseMonitor(data, setup.datasetSpec, join(request.outDir, 'monitor.jsonl'), request.quiet, setup.resumeStep);
  const gridLabels = gan.conditional ? Int32Array.from({ length: 10 * gan.config.classes }, (_, i) => i % gan.config.classes) : undefined;
  try {
    const result = await train<GanBatch>(
      { params: gan.params, phases: gan.phases(gan.config.discriminatorLearningRateRatio), beforeStep: () => gan.beforeStep(), afterStep: (step) => gan.afterStep(step) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        makeBatch: (indices) => ({
          images: gatherImages(data, indices),
          ...(gan.conditional ? { labels: gatherLabels(data, indices) } : {}),
        }),
        schedule: { name: 'constant', peak: learningRate, warmupSteps: 0, minFactor: 1 },
        ...trainingCadence(totalSteps, stepsPerEpoch),
        manifest: (step, epoch) =>
          setup.manifest(step, epoch, {
            schedule: 'constant',
            generatorLearningRate: learningRate,
            discriminatorLearningRate: learningRate * gan.config.discriminatorLearningRateRatio,
          }),
        afterCheckpoint: (step) => {
          // Fixed latents, so successive grids show the same samples improving; one row per label.
          const grid = gan.sample(gridLabels?.length ?? 64, fromSeed('progress-grid'), gridLabels ? { labels: gridLabels } : {});
          writeImageGrid(join(request.outDir, 'samples.png'), grid, gridLabels ? gan.config.classes : undefined);
          monitor(gan, step);
        },
      },
    );
    return trainSummary(request, result);
  } finally {
    gan.dispose();
  }
}

/** Samples with a label per image, truncation and optional discriminator rejection. */
function sampleGan(gan: Gan, count: number, random: Random, options: SampleOptions): tf.Tensor4D {
  const truncation = options.truncation ?? 1;
  if (!(truncation > 0 && truncation <= 1)) throw new GenloomError('BAD_ARGUMENT', `truncation must be in (0, 1] (got ${truncation})`);
  const labels = gan.conditional ? gan.labels(count, random.fork('labels'), options.labels) : undefined;
  if (!options.reject) return gan.sample(count, random, { labels, truncation });
  const [height, width, channels] = [gan.config.imageHeight, gan.config.imageWidth, gan.config.channels];
  const size = height * width * channels;
  const out = new Float32Array(count * size);
  let batch: Float32Array = new Float32Array(0);
  rejectionSample(
    count,
    random.fork('reject'),
    (slots, proposalRandom) => {
      const slotLabels = labels ? Int32Array.from(slots, (slot) => labels[slot]!) : undefined;
      const images = gan.sample(slots.length, proposalRandom, { labels: slotLabels, truncation });
      const logits = tf.tidy(() => gan.discriminate(tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D, slotLabels ? tf.tensor1d(slotLabels, 'int32') : null));
      batch = images.dataSync() as Float32Array;
      const values = logits.dataSync() as Float32Array;
      tf.dispose([images, logits]);
      return { logits: values };
    },
    (slot, candidate) => out.set(batch.subarray(candidate * size, (candidate + 1) * size), slot * size),
  );
  return tf.tensor4d(out, [count, height, width, channels]);
}

function loadGan(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parseGanConfig(manifest.config);
  const gan = new Gan(config, fromSeed(0));
  loadWeights(dir, 'gan', gan.params);
  const training = manifest.training as Record<string, unknown>;
  return {
    family: 'gan',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames: training['labelNames'] as string[] | undefined,
    conditional: gan.conditional,
    sampleImages: (count, random, options = {}) => sampleGan(gan, count, random, options),
    latent: {
      latentDim: config.latentDim,
      conditionDim: config.classes,
      decode: (z, condition) => {
        if (gan.conditional && !condition) throw new GenloomError('BAD_ARGUMENT', 'this GAN is conditional: give a label');
        return tf.tidy(() => toUnit(gan.generate(z, condition ?? null, true)));
      },
    },
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const truncation = options.truncation ?? 1;
      if (!(truncation > 0 && truncation <= 1)) throw new GenloomError('BAD_ARGUMENT', `--truncation must be in (0, 1] (got ${truncation})`);
      return {
        family: 'gan',
        dataset: spec,
        conditional: gan.conditional,
        truncation,
        ...evaluateForEval(
          {
            generate: (count, labels, random) => gan.sample(count, random, { truncation, ...(labels ? { labels } : {}) }),
            conditional: gan.conditional,
            classes: gan.config.classes,
            imageShape: [config.imageHeight, config.imageWidth, config.channels],
          },
          spec,
          options,
        ),
      };
    },
    dispose: () => gan.dispose(),
  };
}

export const ganFamily: FamilyDefinition = {
  name: 'gan',
  summary: 'generative adversarial network: a generator and a discriminator trained against each other; sharp samples from noise (and labels)',
  builtinDatasets,
  generates: 'images',
  generationFields: ['truncation', 'reject'],
  capabilities: ['images', 'latent', 'in-browser'],
  presets: Object.keys(ganPresets),
  options: [
    { flags: '--conditional', description: 'condition on the dataset\'s labels (sample with --label)', configKey: 'conditional', parse: () => true },
    { flags: '--latent-dim <n>', description: 'size of the noise vector z', configKey: 'latentDim', parse: parseIntegerFlag },
    { flags: '--g-channels <list>', description: 'generator channels per upsampling layer, e.g. 32,16', configKey: 'generatorChannels', parse: parseIntegerList },
    { flags: '--d-channels <list>', description: 'discriminator channels per downsampling layer, e.g. 32,64', configKey: 'discriminatorChannels', parse: parseIntegerList },
    { flags: '--loss <kind>', description: 'hinge (default) or non-saturating', configKey: 'loss', parse: String },
    { flags: '--ema-decay <d>', description: 'decay of the generator weight average used for sampling (0 = off)', configKey: 'emaDecay', parse: Number },
    { flags: '--d-lr-ratio <r>', description: 'discriminator learning rate ÷ generator learning rate (TTUR; default 2)', configKey: 'discriminatorLearningRateRatio', parse: Number },
  ],
  train: trainGan,
  load: loadGan,
};
