/**
 * The VAE family: what the registry lists. Train on a built-in dataset or a folder, load a
 * checkpoint, and expose sampling, the latent space and evaluation to the CLI.
 */
import type { VaeConfig } from './config.ts';
import { join } from 'node:path';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, isBuiltinDataset, loadImageDataset } from '../../data/index.ts';
import { parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { parseVaeConfig, vaePresets } from './config.ts';
import { evaluateVae } from './evaluate.ts';
import { sampleQuality } from '../../metrics/generator-eval.ts';
import { Vae } from './vae.ts';
import { buildVae, vaeBuilder } from './build.ts';
import { builtinImageDatasets } from '../../data/index.ts';

const toNumber = (value: string) => Number(value);

async function trainVae(request: TrainRequest): Promise<TrainSummary> {
  const setup = prepareImageTraining('vae', request, { batchSize: 128, learningRate: 1e-3, epochs: 10 }, parseVaeConfig, (_, spec) => ({
    likelihood: isBuiltinDataset(spec) ? 'bernoulli' : 'gaussian',
  }));
  const { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const vae = new Vae(config, fromSeed(seed).fork('init'));
  try {
    const result = await train(vae, {
      ...runControls(request),
      seed,
      totalSteps,
      batchSize,
      datasetSize: data.count,
      makeBatch: (indices) => gatherImages(data, indices),
      schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
      ...trainingCadence(totalSteps, stepsPerEpoch),
      manifest: (step, epoch) => setup.manifest(step, epoch, { schedule: 'cosine' }),
      // A fixed seed for the progress grid, so successive grids show the same latents improving.
      afterCheckpoint: () => writeImageGrid(join(request.outDir, 'samples.png'), vae.sample(64, fromSeed('progress-grid'))),
    });
    return trainSummary(request, result);
  } finally {
    vae.dispose();
  }
}

function loadVae(dir: string, manifest: CheckpointManifest): LoadedModel {
  const { weights } = loadCheckpoint(dir, { expectFamily: 'vae' });
  const { model, network: vae } = buildVae(manifest, weights, join(dir, 'model.safetensors'));
  const config = vae.config;
  const training = manifest.training as Record<string, unknown>;
  return {
    ...model,
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const test = loadImageDataset(spec, { split: 'test', height: config.imageHeight, width: config.imageWidth, channels: config.channels });
      const result = await evaluateVae(vae, test, {
        importanceSamples: options.importanceSamples ?? 1000,
        limit: options.limit ?? 500,
        seed: options.seed,
        quiet: options.quiet,
      });
      return {
        family: 'vae',
        dataset: spec,
        split: test.split,
        likelihood: config.likelihood,
        binarization: config.likelihood === 'bernoulli' ? 'fixed stochastic binarization of the test images (seed "genloom-test-binarization")' : 'none (continuous pixels)',
        units: 'nats per image',
        ...result,
        ...bitsPerDimension(result.iwaeNll, config),
        ...sampleQuality(spec, options, (count, _labels, random) => vae.sample(count, random), [config.imageHeight, config.imageWidth, config.channels]),
      };
    },
  };
}

/**
 * The IWAE bound per dimension in bits. Bernoulli: the exact discrete likelihood of binary pixels.
 * Gaussian: a density over pixel values in [0, 1], so the probability of an 8-bit pixel value is
 * about the density times its bin width 1/256: the discrete figure adds log2(256) = 8 bits per
 * dimension (the usual dequantization bound), comparable with published bits/dim of colour images.
 */
function bitsPerDimension(nll: number, config: VaeConfig): Record<string, unknown> {
  const dims = config.imageHeight * config.imageWidth * config.channels;
  const bits = nll / (dims * Math.LN2);
  if (config.likelihood === 'bernoulli') return { bitsPerDim: Number(bits.toFixed(4)) };
  return { bitsPerDim: Number((bits + 8).toFixed(4)), bitsPerDimNote: 'IWAE bound of the Gaussian density on pixels/255 plus 8 bits for the 1/256 bin width of an 8-bit value' };
}

export const vaeFamily: FamilyDefinition = {
  name: 'vae',
  summary: 'variational autoencoder: a smooth latent space you can encode into, walk and decode',
  builtinDatasets: builtinImageDatasets,
  generates: 'images',
  capabilities: ['images', 'latent', 'encode', 'latent-map', 'in-browser'],
  // A VAE trained with labels has one attribute vector per label (mean latent of the label minus the rest).
  capabilitiesOf: (manifest) => (Array.isArray(manifest.training['labelNames']) ? ['attributes'] : []),
  presets: Object.keys(vaePresets),
  options: [
    { flags: '--latent-dim <n>', description: 'size of the latent space z', configKey: 'latentDim', parse: parseIntegerFlag },
    { flags: '--beta <value>', description: 'weight of the KL term (1 = the true ELBO; >1 disentangles)', configKey: 'beta', parse: toNumber },
    { flags: '--likelihood <kind>', description: 'bernoulli (binarized, MNIST) or gaussian (continuous images)', configKey: 'likelihood', parse: String },
    { flags: '--conv-channels <list>', description: 'channels of the encoder conv layers, e.g. 32,64', configKey: 'convChannels', parse: parseIntegerList },
    { flags: '--hidden-units <n>', description: 'units of the dense hidden layer', configKey: 'hiddenUnits', parse: parseIntegerFlag },
  ],
  train: trainVae,
  build: vaeBuilder,
  load: loadVae,
};
