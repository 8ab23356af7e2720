/**
 * The diffusion family: train a U-Net denoiser (unconditional or --conditional with label dropout),
 * sample with DDPM, DDIM or DPM-Solver++ and classifier-free guidance, and evaluate with the image
 * metrics.
 */
import { join } from 'node:path';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, gatherLabels } from '../../data/index.ts';
import { loadCheckpoint, readManifest, type CheckpointManifest } from '../../io/checkpoint.ts';
import { writeImageGrid } from '../../io/tensor-image.ts';
import { evaluateForEval } from '../../metrics/generator-eval.ts';
import { train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { conditionalClasses, parseIntegerFlag, parseIntegerList, prepareImageTraining, runControls, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { diffusionPresets, parseDiffusionConfig } from './config.ts';
import { downsampling } from '../autoencoder/config.ts';
import { Diffusion, diffusionSampling, type DiffusionBatch } from './diffusion.ts';
import { buildDiffusion, diffusionBuilder, diffusionOptions } from './build.ts';
import { builtinImageDatasets } from '../../data/index.ts';
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';
import { makeDirectories, writeFileAtomic } from '../../io/atomic.ts';
import { plotCaptionedGrid } from '../../io/plot.ts';
import { readTokenizer, writeTokenizer } from '../../text/tokenizer.ts';
import { textBatch } from './diffusion.ts';
import { evaluateTextToImage } from './evaluate-prompts.ts';
import { finetuneDiffusionDpo } from './dpo.ts';
import { assignCarriedParts, assignFrozenParts, encodeDataset, gridPrompts, readFrozenParts, type FrozenParts } from './parts.ts';

async function trainDiffusion(request: TrainRequest): Promise<TrainSummary> {
  const { conditional, autoencoderDir, textEncoderDir, ...config } = request.config;
  let parts: FrozenParts = {};
  const setup = prepareImageTraining('diffusion', { ...request, config }, { batchSize: 64, learningRate: 1e-3, epochs: 10 }, parseDiffusionConfig, (data, spec) => {
    // A fresh run: the frozen parts are read and checked here, before anything trains.
    parts = readFrozenParts(autoencoderDir, textEncoderDir, [data.height, data.width, data.channels]);
    if (parts.textEncoder && !data.captions) throw new GenloomError('BAD_ARGUMENT', `${spec} has no captions: --text-encoder trains on captioned images (emoji, or a folder with x.txt beside each x.png)`);
    if (parts.textEncoder && conditional) throw new GenloomError('BAD_ARGUMENT', 'give --conditional (labels) or --text-encoder (captions), not both');
    return {
      classes: conditionalClasses(conditional, data, spec),
      // The latent is small already (8×8 for 32×32 emoji): the U-Net runs on it unpatched.
      ...(parts.autoencoder ? { autoencoder: parts.autoencoder.config, latentScale: parts.autoencoder.latentScale, patchSize: 1 } : {}),
      ...(parts.textEncoder ? { textEncoder: parts.textEncoder.config } : {}),
    };
  });
  const { data, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  if (setup.resumeStep !== undefined && (autoencoderDir !== undefined || textEncoderDir !== undefined)) {
    throw new GenloomError('BAD_ARGUMENT', `${request.outDir} already carries its autoencoder and text encoder: --resume takes neither --autoencoder nor --text-encoder`);
  }
  const model = new Diffusion(setup.config, fromSeed(seed).fork('init'));
  assignFrozenParts(model, parts);
  // A resumed run or a fine-tune carries its frozen parts in its own file (or its parent's).
  if (setup.resumeStep !== undefined) assignCarriedParts(model, request.outDir);
  else if (request.parent) assignCarriedParts(model, request.parent);
  // A resumed run or a fine-tune reads the tokenizer its model carries.
  if (model.textConditioned && !model.tokenizer) model.tokenizer = readTokenizer(setup.resumeStep !== undefined || !request.parent ? request.outDir : request.parent);
  if (model.tokenizer && (parts.textEncoder || (request.parent && setup.resumeStep === undefined))) {
    makeDirectories(request.outDir);
    writeTokenizer(request.outDir, model.tokenizer);
  }
  const captions = data.captions;
  if (model.textConditioned && !captions) throw new GenloomError('BAD_ARGUMENT', `${setup.datasetSpec} has no captions, which this text-to-image model trains on`);
  const latents = model.autoencoder ? encodeDataset(model, data, request.quiet) : null;
  const gridLabels = model.conditional ? Int32Array.from({ length: 4 * model.config.classes }, (_, i) => i % model.config.classes) : undefined;
  const prompts = model.textConditioned ? gridPrompts(captions!, 16) : undefined;
  const makeLatents = (indices: Int32Array, random: Random): tf.Tensor4D => {
    const { mean, std, shape } = latents!;
    const size = shape[0] * shape[1] * shape[2];
    const epsilon = random.fork('latent').normalArray(indices.length * size);
    const z = new Float32Array(indices.length * size);
    const scale = model.config.latentScale!;
    indices.forEach((index, b) => {
      for (let j = 0; j < size; j++) z[b * size + j] = (mean[index * size + j]! + std[index * size + j]! * epsilon[b * size + j]!) * scale;
    });
    return tf.tensor4d(z, [indices.length, ...shape]);
  };
  const makeText = (indices: Int32Array, random: Random) => {
    // Caption dropout: the empty caption stands for "none", which classifier-free guidance samples with.
    const dropout = random.fork('caption-dropout');
    const texts = Array.from(indices, (index) => (dropout.uniform() < model.config.labelDropout ? '' : captions![index]!));
    return textBatch(model.textContext(texts));
  };
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
        makeBatch: (indices, random) => ({
          ...(latents ? { latents: makeLatents(indices, random) } : { images: gatherImages(data, indices) }),
          ...(model.conditional ? { labels: gatherLabels(data, indices) } : {}),
          ...(model.textConditioned ? makeText(indices, random) : {}),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(500, Math.floor(totalSteps / 10)), minFactor: 0.05 },
        clipNorm: 1,
        // At least 25 steps apart: each checkpoint draws a grid of 20 denoising steps, which on a small folder (a step per epoch) costs more than training.
        ...trainingCadence(totalSteps, stepsPerEpoch, 25),
        manifest: (step, epoch) =>
          setup.manifest(step, epoch, {
            schedule: 'cosine',
            ...(parts.autoencoder ? { autoencoderFrom: parts.autoencoder.dir } : {}),
            ...(parts.textEncoder ? { textEncoderFrom: parts.textEncoder.dir, captionDropout: model.config.labelDropout } : {}),
            ...(setup.resumeStep !== undefined ? pickRecorded(readManifest(request.outDir).training) : {}),
          }),
        afterCheckpoint: async () => {
          const grid = model.sample(gridLabels?.length ?? 16, fromSeed('progress-grid'), { labels: gridLabels, ...(prompts ? { prompts } : {}), sampler: 'ddim', steps: Math.min(20, model.config.timesteps) });
          if (prompts) await writeCaptionedGrid(join(request.outDir, 'samples.png'), grid, prompts);
          else writeImageGrid(join(request.outDir, 'samples.png'), grid, gridLabels ? model.config.classes : undefined);
          grid.dispose();
        },
      },
    );
    return trainSummary(request, result);
  } finally {
    model.dispose();
  }
}

/** A resumed run keeps the record of where its frozen parts came from. */
function pickRecorded(training: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(['autoencoderFrom', 'textEncoderFrom', 'captionDropout'].filter((key) => training[key] !== undefined).map((key) => [key, training[key]]));
}

/** A prompt grid: each sample over its prompt. */
async function writeCaptionedGrid(path: string, images: tf.Tensor4D, prompts: string[]): Promise<void> {
  const [count, height, width, channels] = images.shape;
  const data = images.dataSync() as Float32Array;
  const size = height * width * channels;
  const tiles = Array.from({ length: count }, (_, i) => ({ width, height, channels: channels as 1 | 3, data: data.slice(i * size, (i + 1) * size) }));
  writeFileAtomic(path, await plotCaptionedGrid(tiles, prompts, { columns: 4 }));
}

function loadDiffusion(dir: string, manifest: CheckpointManifest): LoadedModel {
  const { weights } = loadCheckpoint(dir, { expectFamily: 'diffusion' });
  const textual = manifest.config['textEncoder'] !== undefined;
  const { model: built, network: model } = buildDiffusion(manifest, weights, join(dir, 'model.safetensors'), {}, textual ? readTokenizer(dir) : undefined);
  const config = model.config;
  const training = manifest.training as Record<string, unknown>;
  return {
    ...built,
    async evaluate(options) {
      const spec = options.dataset ?? (training['dataset'] as string);
      const sampling = diffusionOptions({ sampler: options.sampler, steps: options.steps, guidance: options.guidance });
      const recorded = { family: 'diffusion', dataset: spec, conditional: model.conditional, textConditioned: model.textConditioned, sampler: model.samplerFor(sampling), steps: model.stepsFor(sampling), guidance: model.guidanceFor(sampling) };
      if (model.textConditioned) return { ...recorded, ...evaluateTextToImage(model, options, sampling) };
      return {
        ...recorded,
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
  summary: 'denoising diffusion model: a U-Net learns to remove noise step by step; samples from pure noise, guided by labels or, for text-to-image models, by prompts',
  builtinDatasets: builtinImageDatasets,
  generates: 'images',
  generationFields: ['sampler', 'steps', 'guidance', 'trajectory', 'negativePrompt'],
  capabilities: ['images', 'trajectory', 'in-browser'],
  // A model trained with --text-encoder carries it (config.textEncoder) and follows free-text prompts.
  capabilitiesOf: (manifest) => (manifest.config['textEncoder'] !== undefined ? ['text-to-image'] : []),
  slowGeneration: true,
  sampling: diffusionSampling,
  // Step by step: one U-Net pass per denoising step, two with classifier-free guidance; the U-Net runs at 1/patch resolution.
  generationWork: (config, request) => {
    const sampler = String(request['sampler'] ?? diffusionSampling.defaultSampler);
    const steps = Number(request['steps'] ?? (diffusionSampling.defaultSteps[sampler] === 'all' ? config['timesteps'] : diffusionSampling.defaultSteps[sampler]) ?? 50);
    const guided = (Number(config['classes'] ?? 0) > 0 || config['textEncoder'] !== undefined) && Number(request['guidance'] ?? diffusionSampling.defaultGuidance) !== 1;
    const patch = Number(config['patchSize'] ?? 1);
    // Latent diffusion: the U-Net runs on the autoencoder's latent, `downsampling` times smaller on each side.
    const autoencoder = config['autoencoder'] as { levelChannels?: unknown } | undefined;
    const shrink = Array.isArray(autoencoder?.levelChannels) ? downsampling({ levelChannels: autoencoder.levelChannels as number[] }) : 1;
    const positions = (Number(config['imageHeight']) * Number(config['imageWidth'])) / (patch * shrink) ** 2;
    return { items: Number(request['n'] ?? 1), passesPerItem: steps * (guided ? 2 : 1), positionsPerPass: positions, what: 'images' };
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
    { flags: '--autoencoder <dir>', description: 'latent diffusion: denoise in this autoencoder\'s latent (genloom train autoencoder); it is copied into the model', configKey: 'autoencoderDir', parse: String },
    { flags: '--text-encoder <dir>', description: 'text-to-image: condition on captions through this clip model\'s frozen text encoder (copied into the model)', configKey: 'textEncoderDir', parse: String },
    { flags: '--label-dropout <p>', description: 'share of labels replaced by "none" while training (classifier-free guidance)', configKey: 'labelDropout', parse: Number },
  ],
  train: trainDiffusion,
  finetunePreferences: finetuneDiffusionDpo,
  build: diffusionBuilder,
  load: loadDiffusion,
};
