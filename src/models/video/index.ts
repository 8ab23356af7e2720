/**
 * The video family: short clips of moving-MNIST digits from a per-frame conditional VAE and a GRU
 * prior over its latents (see clip-vae.ts for the why). Trains on 'moving-mnist', loads
 * checkpoints, generates clips of the digits asked for, and evaluates.
 */
import { join } from 'node:path';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { mnistLabelNames } from '../../data/builtin.ts';
import { gatherClips, movingMnist, movingMnistName } from '../../data/moving-mnist.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { imageGrid, imageStrip, writePng } from '../../io/image.ts';
import { clipFrames } from '../../io/video.ts';
import { stepGeometry, train } from '../../train/trainer.ts';
import type { Clip, FamilyDefinition, LoadedModel, TrainRequest, TrainSummary, VideoModel } from '../family.ts';
import { loadWeights, parseIntegerFlag, parseIntegerList, previousRun, runControls, runLength, runManifest, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { ClipVae, type ClipBatch } from './clip-vae.ts';
import { parseVideoConfig, videoPresets } from './config.ts';
import { evaluateVideo } from './evaluate.ts';

const defaults = { batchSize: 8, learningRate: 1e-3, epochs: 1 };

function prepare(request: TrainRequest) {
  const { previous, previousTraining, parent } = previousRun(request, 'video');
  const template = previous ?? parent;
  const dataset = request.dataset || (previousTraining['dataset'] as string) || movingMnistName;
  if (dataset !== movingMnistName) throw new GenloomError('BAD_ARGUMENT', `the video family trains on --dataset ${movingMnistName} (got "${dataset}")`);
  const config = template ? parseVideoConfig({ ...(template.config as Record<string, unknown>), ...request.config }) : parseVideoConfig(request.config, request.preset);
  if (template && (template.config as { frames: number }).frames !== config.frames) {
    throw new GenloomError('SHAPE_MISMATCH', `the checkpoint in ${previous ? request.outDir : request.parent} is for ${(template.config as { frames: number }).frames}-frame clips; drop --frames ${config.frames}`);
  }
  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const data = movingMnist({ split: 'train', frames: config.frames, size: config.frameSize, digitsPerClip: config.digitsPerClip });
  const batchSize = request.batchSize ?? (previousTraining['batchSize'] as number) ?? defaults.batchSize;
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? defaults.learningRate;
  const { stepsPerEpoch } = stepGeometry(data.count, batchSize);
  const { epochs, totalSteps } = runLength(request, previous ? previousTraining : null, stepsPerEpoch, defaults.epochs);
  const manifest = (step: number, epoch: number): CheckpointManifest =>
    runManifest('video', { ...config }, request, previous, {
      step, epoch, totalSteps, dataset, clipsSeen: step * batchSize, labelNames: mnistLabelNames, seed, epochs, batchSize, learningRate, schedule: 'cosine',
    });
  return { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch, manifest };
}

/** The VideoModel of `network`; `source` (its directory) names it in errors. */
function videoModel(network: ClipVae, source = 'this model'): VideoModel {
  const { frames, frameSize, digitsPerClip, classes } = network.config;
  return {
    frames,
    height: frameSize,
    width: frameSize,
    digitNames: mnistLabelNames.slice(0, classes),
    digitsPerClip,
    generate({ count, digits, frames: asked, random, onProgress }) {
      if (asked !== undefined && asked !== frames) throw new GenloomError('BAD_ARGUMENT', `${source} was trained for ${frames}-frame clips; --frames ${asked} needs a model trained with --frames ${asked} (or drop --frames)`);
      if (digits && digits.length !== count) throw new GenloomError('BAD_ARGUMENT', `${digits.length} digit lists for ${count} clips`);
      const chosen = Array.from({ length: count }, (_, i) => digits?.[i] ?? Array.from({ length: digitsPerClip }, (_, d) => random.fork('digits', i, d).integer(classes)));
      for (const row of chosen) {
        if (row.length !== digitsPerClip || row.some((digit) => !Number.isInteger(digit) || digit < 0 || digit >= classes)) {
          throw new GenloomError('BAD_ARGUMENT', `each clip shows ${digitsPerClip} digits from 0 to ${classes - 1} (got ${row.join(', ')})`);
        }
      }
      const condition = network.condition(chosen.flat());
      const made = network.generate(condition, frames, random.fork('clips'), (done) => onProgress?.(done, frames));
      const pixels = made.dataSync() as Float32Array;
      tf.dispose([condition, made]);
      const size = frames * frameSize * frameSize;
      return chosen.map((_, i): Clip => ({ frames, height: frameSize, width: frameSize, pixels: pixels.slice(i * size, (i + 1) * size) }));
    },
  };
}

/** A progress picture: four clips (fixed digits and seed, so successive ones compare), one frame strip each. */
function writePreview(path: string, network: ClipVae): void {
  const clips = videoModel(network).generate({ count: 4, digits: [[3, 7], [1, 4], [0, 9], [2, 5]].map((row) => row.slice(0, network.config.digitsPerClip)), random: fromSeed('progress-grid') });
  writePng(path, imageGrid(clips.map((clip) => imageStrip(clipFrames(clip))), { columns: 1 }));
}

async function trainVideo(request: TrainRequest): Promise<TrainSummary> {
  const setup = prepare(request);
  const { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const network = new ClipVae(config, fromSeed(seed).fork('init'));
  try {
    const cadence = trainingCadence(totalSteps, stepsPerEpoch);
    const result = await train<ClipBatch>(network, {
      ...runControls(request),
      seed,
      totalSteps,
      batchSize,
      datasetSize: data.count,
      makeBatch: (indices) => {
        const { frames, digits } = gatherClips(data, indices);
        return { frames, condition: network.condition(digits) };
      },
      schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
      clipNorm: 5,
      // An epoch at batch 8 is 1,250 steps (~15 min at the ~0.7 s per step measured on a busy 2-core
      // machine): checkpoint and preview every 250 steps rather than once at the end.
      checkpointEvery: Math.min(totalSteps, cadence.checkpointEvery, 250),
      logEvery: cadence.logEvery,
      unitsPerStep: batchSize * config.frames,
      manifest: setup.manifest,
      afterCheckpoint: () => writePreview(join(request.outDir, 'samples.png'), network),
    });
    return trainSummary(request, result);
  } finally {
    network.dispose();
  }
}

function loadVideo(dir: string, manifest: CheckpointManifest): LoadedModel {
  const config = parseVideoConfig(manifest.config);
  const network = new ClipVae(config, fromSeed(0));
  loadWeights(dir, 'video', network.params);
  const video = videoModel(network, dir);
  return {
    family: 'video',
    manifest,
    labelNames: video.digitNames,
    conditional: true,
    video,
    evaluate: (options) => evaluateVideo(network, options),
    dispose: () => network.dispose(),
  };
}

export const videoFamily: FamilyDefinition = {
  name: 'video',
  summary: 'short clips (moving MNIST): a per-frame conditional VAE with a GRU prior over its latents, conditioned on the digits shown',
  datasets: movingMnistName,
  builtinDatasets: [movingMnistName],
  generates: 'clips',
  generationFields: ['frames', 'fps'],
  capabilities: ['clips'],
  // Frame by frame: the prior steps once per frame and the decoder draws each frame. The decoder's
  // weights are mostly its dense layers and small feature maps (a frame is drawn up from 8×8), so
  // each weight is counted once per frame, not once per pixel.
  generationWork: (config, request) => ({ items: Number(request['n'] ?? 1), passesPerItem: Number(config['frames'] ?? 16), positionsPerPass: 1, what: 'clips' }),
  presets: Object.keys(videoPresets),
  options: [
    { flags: '--frames <n>', description: 'clip length the model is trained for and generates (default 16)', configKey: 'frames', parse: parseIntegerFlag },
    { flags: '--latent-dim <n>', description: 'size of each frame\'s latent z', configKey: 'latentDim', parse: parseIntegerFlag },
    { flags: '--conv-channels <list>', description: 'channels of the frame encoder\'s conv layers, e.g. 16,32,64', configKey: 'convChannels', parse: parseIntegerList },
    { flags: '--hidden-units <n>', description: 'units of the frame VAE\'s dense layer', configKey: 'hiddenUnits', parse: parseIntegerFlag },
    { flags: '--dynamics-units <n>', description: 'GRU width of the prior over frame latents', configKey: 'dynamicsUnits', parse: parseIntegerFlag },
    { flags: '--beta <value>', description: 'KL weight of the frame VAE (1 = the ELBO)', configKey: 'beta', parse: Number },
  ],
  train: trainVideo,
  load: loadVideo,
};
