/**
 * The diffusion family: train a U-Net denoiser (unconditional or --conditional with label dropout),
 * sample with DDPM, DDIM or DPM-Solver++ and classifier-free guidance, and evaluate with the image
 * metrics.
 */
import { join } from 'node:path';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, gatherLabels } from '../../data/index.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { evaluateForEval } from '../../metrics/generator-eval.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { conditionalClasses, parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { diffusionPresets, parseDiffusionConfig } from './config.ts';
import { Diffusion, diffusionSampling, type DiffusionBatch } from './diffusion.ts';
import { buildDiffusion, diffusionBuilder, diffusionOptions } from './build.ts';
import { builtinImageDatasets } from '../../data/index.ts';

async function trainDiffusion(request: TrainRequest): Promise<TrainSummary> {
  const { conditional, ...config } = request.config;
  const setup = prepareImageTraining('diffusion', { ...request, config }, { batchSize: 64, learningRate: 1e-3, epochs: 10 }, parseDiffusionConfig, (data, spec) => {
    return { classes: conditionalClasses(conditional, data, spec) };
  });
  const { data, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const model = new Diffusion(setup.config, fromSeed(seed).fork('init'));
  const gridLabels = model.conditional ? Int32Array.from({ length: 4 * model.config.classes }, (_, i) => i % model.config.classes) : undefined;
  try {
    const result = await train<DiffusionBatch>(
      {
        params: model.params,
        phases: [{ name: 'denoiser', params: model.unet.params, loss: (batch, random) => model.loss(batch, random) }],
        afterStep: (step) => model.afterStep(step),
      },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        datasetSize: data.count,
        makeBatch: (indices) => ({
          images: gatherImages(data, indices),
          ...(model.conditional ? { labels: gatherLabels(data, indices) } : {}),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(500, Math.floor(totalSteps / 10)), minFactor: 0.05 },
        clipNorm: 1,
        ...trainingCadence(totalSteps, stepsPerEpoch),
        manifest: (step, epoch) => setup.manifest(step, epoch, { schedule: 'cosine' }),
        afterCheckpoint: () => {
          const grid = model.sample(gridLabels?.length ?? 16, fromSeed('progress-grid'), { labels: gridLabels, sampler: 'ddim', steps: Math.min(20, model.config.timesteps) });
          writeImageGrid(join(request.outDir, 'samples.png'), grid, gridLabels ? model.config.classes : undefined);
        },
      },
    );
    return trainSummary(request, result);
  } finally {
    model.dispose();
  }
}

function loadDiffusion(dir: string, manifest: CheckpointManifest): LoadedModel {
  const { weights } = loadCheckpoint(dir, { expectFamily: 'diffusion' });
  const { model: built, network: model } = buildDiffusion(manifest, weights, join(dir, 'model.safetensors'));
  const config = model.config;
  const training = manifest.training as Record<string, unknown>;
  return {
    ...built,
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const sampling = diffusionOptions({ sampler: options.sampler, steps: options.steps, guidance: options.guidance });
      return {
        family: 'diffusion',
        dataset: spec,
        conditional: model.conditional,
        sampler: model.samplerFor(sampling),
        steps: model.stepsFor(sampling),
        guidance: model.guidanceFor(sampling),
        ...evaluateForEval(
          {
            generate: (count, labels, random) => model.sample(count, random, { ...sampling, ...(labels ? { labels } : {}) }),
            conditional: model.conditional,
            classes: config.classes,
            imageShape: [config.imageHeight, config.imageWidth, config.channels],
          },
          spec,
          options,
        ),
      };
    },
  };
}

export const diffusionFamily: FamilyDefinition = {
  name: 'diffusion',
  summary: 'denoising diffusion model: a U-Net learns to remove noise step by step; samples from pure noise (and labels, with guidance)',
  builtinDatasets: builtinImageDatasets,
  generates: 'images',
  generationFields: ['sampler', 'steps', 'guidance', 'trajectory'],
  capabilities: ['images', 'trajectory', 'in-browser'],
  slowGeneration: true,
  sampling: diffusionSampling,
  // Step by step: one U-Net pass per denoising step, two with classifier-free guidance; the U-Net runs at 1/patch resolution.
  generationWork: (config, request) => {
    const sampler = String(request['sampler'] ?? diffusionSampling.defaultSampler);
    const steps = Number(request['steps'] ?? (diffusionSampling.defaultSteps[sampler] === 'all' ? config['timesteps'] : diffusionSampling.defaultSteps[sampler]) ?? 50);
    const guided = Number(config['classes'] ?? 0) > 0 && Number(request['guidance'] ?? diffusionSampling.defaultGuidance) !== 1;
    const patch = Number(config['patchSize'] ?? 1);
    return { items: Number(request['n'] ?? 1), passesPerItem: steps * (guided ? 2 : 1), positionsPerPass: (Number(config['imageHeight']) * Number(config['imageWidth'])) / patch ** 2, what: 'images' };
  },
  presets: Object.keys(diffusionPresets),
  options: [
    { flags: '--conditional', description: 'condition on the dataset\'s labels (with label dropout, for classifier-free guidance)', configKey: 'conditional', parse: () => true },
    { flags: '--base-channels <n>', description: 'U-Net channels at full resolution', configKey: 'baseChannels', parse: parseIntegerFlag },
    { flags: '--channel-multipliers <list>', description: 'channels per U-Net level as multiples of the base, e.g. 1,2,2', configKey: 'channelMultipliers', parse: parseIntegerList },
    { flags: '--noise-schedule <kind>', description: 'cosine (default) or linear', configKey: 'schedule', parse: String },
    { flags: '--timesteps <n>', description: 'diffusion steps T (default 1000)', configKey: 'timesteps', parse: parseIntegerFlag },
    { flags: '--prediction <kind>', description: 'epsilon (default) or v', configKey: 'prediction', parse: String },
    { flags: '--patch-size <n>', description: 'fold n×n patches into channels so the U-Net runs at 1/n resolution (small and base: 2)', configKey: 'patchSize', parse: parseIntegerFlag },
    { flags: '--ema-decay <d>', description: 'decay of the weight average used for sampling (0 = off)', configKey: 'emaDecay', parse: Number },
    { flags: '--label-dropout <p>', description: 'share of labels replaced by "none" while training (classifier-free guidance)', configKey: 'labelDropout', parse: Number },
  ],
  train: trainDiffusion,
  build: diffusionBuilder,
  load: loadDiffusion,
};
