/**
 * The video family: short clips of moving-MNIST digits, conditioned on the digits shown. Two
 * designs (config.ts): layered (each digit's glyph and path, composited: layered.ts), the default,
 * and the first one, a per-frame VAE with a GRU prior (clip-vae.ts), whose checkpoints still load.
 * Trains on 'moving-mnist', loads checkpoints, generates clips of the digits asked for, and evaluates.
 */
import { join } from 'node:path';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { mnistLabelNames } from '../../data/builtin.ts';
import { gatherClips, gatherLayers, movingMnist, movingMnistName, type ClipDataset, type RenderedClip } from '../../data/moving-mnist.ts';
import type { CheckpointManifest } from '../../io/checkpoint.ts';
import { imageGrid, imageStrip, writePng } from '../../io/image.ts';
import { clipFrames } from '../../io/video.ts';
import { stepGeometry, train, type TrainableModel } from '../../train/trainer.ts';
import type { Random } from '../../core/random.ts';
import type { Clip, FamilyDefinition, LoadedModel, TrainRequest, TrainSummary, VideoModel } from '../family.ts';
import { loadWeights, parseIntegerFlag, parseIntegerList, previousRun, runControls, runLength, runManifest, trainingCadence, trainSummary } from '../../train/run-setup.ts';
import { ClipVae } from './clip-vae.ts';
import { parseVideoConfig, storedVideoConfig, videoDesigns, videoPresets, type VideoConfig } from './config.ts';
import { concatFloats, evaluateVideo, type VideoUnderTest } from './evaluate.ts';
import { LayeredClipModel } from './layered.ts';

type VideoNetwork = ClipVae | LayeredClipModel;

function createNetwork(config: VideoConfig, random: Random): VideoNetwork {
  return config.design === 'layered' ? new LayeredClipModel(config, random) : new ClipVae(config, random);
}

/** A training batch of clips `indices`: the frames for the frame VAE, the layers for the layered model. */
function trainingBatch(network: VideoNetwork, data: ClipDataset, indices: ArrayLike<number>): Record<string, tf.Tensor> {
  if (network instanceof LayeredClipModel) {
    const { glyphs, tracks, digits } = gatherLayers(data, indices);
    return { glyphs, tracks, labels: network.labels(digits) };
  }
  const { frames, digits } = gatherClips(data, indices);
  return { frames, condition: network.condition(digits) };
}

/** Each design seen the same way by generation and evaluation. */
function underTest(network: VideoNetwork): VideoUnderTest {
  const { frames, frameSize, digitsPerClip } = network.config;
  const stack = concatFloats;
  if (network instanceof LayeredClipModel) {
    const redrawn = (clips: RenderedClip[]) => {
      const glyphs = tf.tensor4d(stack(clips.map((clip) => clip.glyphs)), [clips.length * digitsPerClip, 28, 28, 1]);
      const drawn = network.redrawGlyphs(glyphs, stack(clips.map((clip) => Float32Array.from(clip.digits))));
      glyphs.dispose();
      return drawn;
    };
    return {
      frames, frameSize, digitsPerClip,
      reconstruct: (clips) => network.composite(redrawn(clips), stack(clips.map((clip) => clip.tracks)), frames),
      predict: (clips, context) => {
        // The first `context` corners given, the rest the path model's most likely moves.
        const given = stack(clips.map((clip) => clip.tracks)).filter((_, i) => Math.floor(i / 2) % frames < context);
        const tracks = network.rollOutPaths(clips.length * digitsPerClip, frames, undefined, { tracks: given, frames: context });
        return network.composite(redrawn(clips), tracks, frames);
      },
      generate: (digits, random) => network.generate(digits, frames, random),
    };
  }
  const asTensors = (clips: RenderedClip[]) => ({
    frames: tf.tensor5d(stack(clips.map((clip) => clip.clip.pixels)), [clips.length, frames, frameSize, frameSize, 1]),
    condition: network.condition(stack(clips.map((clip) => Float32Array.from(clip.digits)))),
  });
  const read = (make: (batch: ReturnType<typeof asTensors>) => tf.Tensor, clips: RenderedClip[]) => {
    const batch = asTensors(clips);
    const made = make(batch);
    const pixels = made.dataSync() as Float32Array;
    tf.dispose([batch.frames, batch.condition, made]);
    return pixels;
  };
  return {
    frames, frameSize, digitsPerClip,
    reconstruct: (clips) => read((batch) => network.reconstruct(batch), clips),
    predict: (clips, context) => read((batch) => network.predict(batch, context), clips),
    generate: (digits, random) => ({ pixels: generatePixels(network, digits, random) }),
  };
}

const defaults = { batchSize: 8, learningRate: 1e-3, epochs: 1 };

function prepare(request: TrainRequest) {
  const { previous, previousTraining, parent } = previousRun(request, 'video');
  const template = previous ?? parent;
  const dataset = request.dataset || (previousTraining['dataset'] as string) || movingMnistName;
  if (dataset !== movingMnistName) throw new GenloomError('BAD_ARGUMENT', `the video family trains on --dataset ${movingMnistName} (got "${dataset}")`);
  const config = template ? storedVideoConfig({ ...(template.config as Record<string, unknown>), ...request.config }) : parseVideoConfig(request.config, request.preset);
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
function videoModel(network: VideoNetwork, source = 'this model'): VideoModel {
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
      const pixels = generatePixels(network, chosen.flat(), random.fork('clips'), (done) => onProgress?.(done, frames));
      const size = frames * frameSize * frameSize;
      return chosen.map((_, i): Clip => ({ frames, height: frameSize, width: frameSize, pixels: pixels.slice(i * size, (i + 1) * size) }));
    },
  };
}

/** Clips of `digits` (clips × digitsPerClip, row-major) as frames [clips, T, H, W]. */
function generatePixels(network: VideoNetwork, digits: number[], random: Random, onFrame?: (done: number) => void): Float32Array {
  const { frames } = network.config;
  if (network instanceof LayeredClipModel) return network.generate(digits, frames, random, onFrame).pixels;
  const condition = network.condition(digits);
  const made = network.generate(condition, frames, random, onFrame);
  const pixels = made.dataSync() as Float32Array;
  tf.dispose([condition, made]);
  return pixels;
}

/** A progress picture: four clips (fixed digits and seed, so successive ones compare), one frame strip each. */
function writePreview(path: string, network: VideoNetwork): void {
  const clips = videoModel(network).generate({ count: 4, digits: [[3, 7], [1, 4], [0, 9], [2, 5]].map((row) => row.slice(0, network.config.digitsPerClip)), random: fromSeed('progress-grid') });
  writePng(path, imageGrid(clips.map((clip) => imageStrip(clipFrames(clip))), { columns: 1 }));
}

async function trainVideo(request: TrainRequest): Promise<TrainSummary> {
  const setup = prepare(request);
  const { data, config, seed, batchSize, learningRate, totalSteps, stepsPerEpoch } = setup;
  const network = createNetwork(config, fromSeed(seed).fork('init'));
  try {
    const cadence = trainingCadence(totalSteps, stepsPerEpoch);
    // Each design's loss reads the batch trainingBatch made for it.
    const result = await train(network as unknown as TrainableModel<Record<string, tf.Tensor>>, {
      ...runControls(request),
      seed,
      totalSteps,
      batchSize,
      datasetSize: data.count,
      makeBatch: (indices) => trainingBatch(network, data, indices),
      schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(200, Math.floor(totalSteps / 10)), minFactor: 0.05 },
      // The layered model's two parts share no weight; a global norm clip would let the glyph
      // model's large reconstruction gradients shrink the path model's steps.
      ...(config.design === 'frame-vae' ? { clipNorm: 5 } : {}),
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
  const config = storedVideoConfig(manifest.config as Record<string, unknown>);
  const network = createNetwork(config, fromSeed(0));
  loadWeights(dir, 'video', network.params);
  const video = videoModel(network, dir);
  return {
    family: 'video',
    manifest,
    labelNames: video.digitNames,
    conditional: true,
    video,
    evaluate: (options) => evaluateVideo(underTest(network), options),
    dispose: () => network.dispose(),
  };
}

export const videoFamily: FamilyDefinition = {
  name: 'video',
  summary: 'short clips (moving MNIST) of the digits asked for: each digit drawn once by a class-conditional VAE and moved along a path from a GRU mixture-density model (layered design), or a per-frame VAE with a GRU prior (frame-vae design)',
  datasets: movingMnistName,
  builtinDatasets: [movingMnistName],
  generates: 'clips',
  generationFields: ['frames', 'fps'],
  capabilities: ['clips'],
  // Frame by frame: the path model (or the prior) steps once per frame; the frame VAE's decoder
  // draws each frame, mostly from its dense layers and small feature maps (a frame is drawn up from
  // 8×8), and the layered model draws each glyph once. Each weight is counted once per frame.
  generationWork: (config, request) => ({ items: Number(request['n'] ?? 1), passesPerItem: Number(config['frames'] ?? 16), positionsPerPass: 1, what: 'clips' }),
  presets: Object.keys(videoPresets),
  options: [
    { flags: '--frames <n>', description: 'clip length the model is trained for and generates (default 16)', configKey: 'frames', parse: parseIntegerFlag },
    { flags: '--design <name>', description: `${videoDesigns.join(' or ')}: glyphs and paths composited (default), or whole frames from a frame VAE`, configKey: 'design', parse: String },
    { flags: '--style-dim <n>', description: 'layered: size of a glyph\'s style latent', configKey: 'styleDim', parse: parseIntegerFlag },
    { flags: '--motion-units <n>', description: 'layered: GRU width of the path model', configKey: 'motionUnits', parse: parseIntegerFlag },
    { flags: '--mixtures <n>', description: 'layered: Gaussian components of the path model\'s next move', configKey: 'mixtures', parse: parseIntegerFlag },
    { flags: '--latent-dim <n>', description: 'frame-vae: size of each frame\'s latent z', configKey: 'latentDim', parse: parseIntegerFlag },
    { flags: '--conv-channels <list>', description: 'frame-vae: channels of the frame encoder\'s conv layers, e.g. 16,32,64', configKey: 'convChannels', parse: parseIntegerList },
    { flags: '--hidden-units <n>', description: 'frame-vae: units of the frame VAE\'s dense layer', configKey: 'hiddenUnits', parse: parseIntegerFlag },
    { flags: '--dynamics-units <n>', description: 'frame-vae: GRU width of the prior over frame latents', configKey: 'dynamicsUnits', parse: parseIntegerFlag },
    { flags: '--beta <value>', description: 'KL weight of the glyph VAE (layered) or frame VAE (1 = the ELBO)', configKey: 'beta', parse: Number },
  ],
  train: trainVideo,
  load: loadVideo,
};
