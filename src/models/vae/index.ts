/**
 * The VAE family: what the registry lists. Train on a built-in dataset or a folder, load a
 * checkpoint, and expose sampling, the latent space and evaluation to the CLI.
 */
import { join } from 'node:path';
import { GenloomError } from '../../core/errors.ts';
import { assignStored } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, isBuiltinDataset, loadImageDataset } from '../../data/index.ts';
import { loadCheckpoint, readManifest, hasCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { train } from '../../train/trainer.ts';
import { genloomVersion } from '../../version.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { parseVaeConfig, vaePresets, type VaeConfig } from './config.ts';
import { evaluateVae } from './evaluate.ts';
import { Vae } from './vae.ts';

const toInt = (value: string) => Number.parseInt(value, 10);
const toNumber = (value: string) => Number(value);

async function trainVae(request: TrainRequest): Promise<TrainSummary> {
  // --resume continues with the settings the run was started with, unless flags override them.
  const previous = request.resume && hasCheckpoint(request.outDir) ? readManifest(request.outDir) : null;
  if (previous && previous.family !== 'vae') {
    throw new GenloomError('WRONG_FAMILY', `${request.outDir} holds a ${previous.family} model; --resume needs a vae checkpoint there`);
  }
  const previousTraining = (previous?.training ?? {}) as Record<string, unknown>;
  const datasetSpec = request.dataset || (previousTraining['dataset'] as string);
  const previousConfig = previous?.config as { imageHeight?: number; imageWidth?: number } | undefined;
  const defaultSize = isBuiltinDataset(datasetSpec) ? 28 : 32;
  const data = loadImageDataset(datasetSpec, {
    split: 'train',
    height: request.imageSize ?? previousConfig?.imageHeight ?? defaultSize,
    width: request.imageSize ?? previousConfig?.imageWidth ?? defaultSize,
  });
  const config: VaeConfig = previous
    ? parseVaeConfig({ ...(previous.config as Record<string, unknown>), ...request.config })
    : parseVaeConfig(
        { ...request.config, imageHeight: data.height, imageWidth: data.width, channels: data.channels, likelihood: request.config['likelihood'] ?? (isBuiltinDataset(datasetSpec) ? 'bernoulli' : 'gaussian') },
        request.preset,
      );
  if (config.imageHeight !== data.height || config.imageWidth !== data.width || config.channels !== data.channels) {
    throw new GenloomError('SHAPE_MISMATCH', `the checkpoint in ${request.outDir} is for ${config.imageHeight}×${config.imageWidth}×${config.channels} images but ${datasetSpec} gives ${data.height}×${data.width}×${data.channels}`);
  }
  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const batchSize = request.batchSize ?? (previousTraining['batchSize'] as number) ?? 128;
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? 1e-3;
  const stepsPerEpoch = Math.max(1, Math.floor(data.count / Math.min(batchSize, data.count)));
  const epochs = request.epochs ?? (request.steps === undefined ? ((previousTraining['epochs'] as number) ?? 10) : undefined);
  const totalSteps = request.steps ?? Math.round((epochs ?? 1) * stepsPerEpoch);

  const vae = new Vae(config, fromSeed(seed).fork('init'));
  const manifest = (step: number, epoch: number): CheckpointManifest => ({
    format: 'genloom-checkpoint',
    formatVersion: 1,
    family: 'vae',
    genloomVersion,
    config: { ...config },
    training: {
      step,
      epoch,
      totalSteps,
      dataset: datasetSpec,
      imagesSeen: step * Math.min(batchSize, data.count),
      labelNames: data.labelNames,
      seed,
      epochs,
      batchSize,
      learningRate,
      schedule: 'cosine',
      backend: request.backend,
      command: request.command,
    },
  });
  try {
    const result = await train(vae, {
      outDir: request.outDir,
      seed,
      totalSteps,
      batchSize,
      datasetSize: data.count,
      makeBatch: (indices) => gatherImages(data, indices),
      schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
      checkpointEvery: Math.max(1, Math.min(stepsPerEpoch, 2000)),
      logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
      manifest,
      resume: request.resume,
      // A fixed seed for the progress grid, so successive grids show the same latents improving.
      afterCheckpoint: () => writeImageGrid(join(request.outDir, 'samples.png'), vae.sample(64, fromSeed('progress-grid'))),
      shouldStop: request.shouldStop,
      handleSignals: !request.shouldStop,
      quiet: request.quiet,
    });
    return { outDir: request.outDir, steps: result.step, stoppedEarly: result.stoppedEarly, last: result.last };
  } finally {
    vae.dispose();
  }
}

function loadVae(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parseVaeConfig(manifest.config);
  const checkpoint = loadCheckpoint(dir, { expectFamily: 'vae' });
  const vae = new Vae(config, fromSeed(0));
  assignStored(vae.params, checkpoint.weights, join(dir, 'model.safetensors'));
  const training = manifest.training as Record<string, unknown>;
  return {
    family: 'vae',
    manifest,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    labelNames: training['labelNames'] as string[] | undefined,
    sampleImages: (count, random) => vae.sample(count, random),
    latent: {
      latentDim: vae.latentDim,
      encode: (images) => vae.encode(images),
      decode: (z) => vae.decode(z),
    },
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
      };
    },
    dispose: () => vae.dispose(),
  };
}

export const vaeFamily: FamilyDefinition = {
  name: 'vae',
  summary: 'variational autoencoder: a smooth latent space you can encode into, walk and decode',
  presets: Object.keys(vaePresets),
  options: [
    { flags: '--latent-dim <n>', description: 'size of the latent space z', configKey: 'latentDim', parse: toInt },
    { flags: '--beta <value>', description: 'weight of the KL term (1 = the true ELBO; >1 disentangles)', configKey: 'beta', parse: toNumber },
    { flags: '--likelihood <kind>', description: 'bernoulli (binarized, MNIST) or gaussian (continuous images)', configKey: 'likelihood', parse: String },
    { flags: '--conv-channels <list>', description: 'channels of the encoder conv layers, e.g. 32,64', configKey: 'convChannels', parse: (value) => value.split(',').map(toInt) },
    { flags: '--hidden-units <n>', description: 'units of the dense hidden layer', configKey: 'hiddenUnits', parse: toInt },
  ],
  train: trainVae,
  load: loadVae,
};
