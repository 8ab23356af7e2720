/**
 * The frozen parts a latent or text-to-image diffusion run starts from (Node: they are model
 * folders): an autoencoder (--autoencoder DIR) and a clip model's text encoder (--text-encoder
 * DIR). Each is checked before training starts, and copied into the new model's own file, so the
 * model needs neither folder afterwards.
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { assignStored } from '../../core/params.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { gatherImages, type ImageDataset } from '../../data/index.ts';
import { loadCheckpoint, readManifest } from '../../io/checkpoint.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { readTokenizer, type Tokenizer } from '../../text/tokenizer.ts';
import { createProgress } from '../../train/progress.ts';
import { latentScaleOf } from '../autoencoder/build.ts';
import { parseAutoencoderConfig } from '../autoencoder/config.ts';
import type { Diffusion } from './diffusion.ts';

export interface FrozenParts {
  autoencoder?: { dir: string; config: Record<string, unknown>; latentScale: number; weights: Map<string, StoredTensor> };
  textEncoder?: { dir: string; config: Record<string, unknown>; tokenizer: Tokenizer; weights: Map<string, StoredTensor> };
}

/** Reads and checks the parts named by the flags; `image` is the dataset's image shape. */
export function readFrozenParts(autoencoderDir: unknown, textEncoderDir: unknown, image: [number, number, number]): FrozenParts {
  const parts: FrozenParts = {};
  if (autoencoderDir !== undefined) {
    const dir = String(autoencoderDir);
    const manifest = readManifest(dir);
    if (manifest.family !== 'autoencoder') throw new GenloomError('WRONG_FAMILY', `--autoencoder ${dir} is a ${manifest.family} model; latent diffusion needs an autoencoder (genloom train autoencoder)`);
    const config = parseAutoencoderConfig(manifest.config);
    if (config.imageHeight !== image[0] || config.imageWidth !== image[1] || config.channels !== image[2]) {
      throw new GenloomError('SHAPE_MISMATCH', `--autoencoder ${dir} works on ${config.imageHeight}×${config.imageWidth}×${config.channels} images but the dataset gives ${image.join('×')}`);
    }
    const { weights } = loadCheckpoint(dir, { expectFamily: 'autoencoder' });
    parts.autoencoder = { dir, config: { ...config }, latentScale: latentScaleOf(manifest, `${dir}/config.json`), weights };
  }
  if (textEncoderDir !== undefined) {
    const dir = String(textEncoderDir);
    const manifest = readManifest(dir);
    if (manifest.family !== 'clip') throw new GenloomError('WRONG_FAMILY', `--text-encoder ${dir} is a ${manifest.family} model; text conditioning needs a clip model (genloom train clip)`);
    const { weights } = loadCheckpoint(dir, { expectFamily: 'clip' });
    const text = new Map([...weights].filter(([name]) => name.startsWith('text.')));
    parts.textEncoder = { dir, config: { ...manifest.config }, tokenizer: readTokenizer(dir), weights: text };
  }
  return parts;
}

/** Copies the parts' weights into a fresh model's frozen parameters. */
export function assignFrozenParts(model: Diffusion, parts: FrozenParts): void {
  tf.tidy(() => {
    for (const [name, tensor] of parts.autoencoder?.weights ?? []) model.frozen[`autoencoder.${name}`]?.assign(tf.tensor(tensor.data, tensor.shape));
    for (const [name, tensor] of parts.textEncoder?.weights ?? []) model.frozen[name]?.assign(tf.tensor(tensor.data, tensor.shape));
  });
  if (parts.textEncoder) model.tokenizer = parts.textEncoder.tokenizer;
}

/**
 * Copies the frozen parts a model folder carries (a run being resumed, or a fine-tune's parent) into
 * a fresh model, before anything reads them: the training latents are encoded with the autoencoder
 * before the trainer loads the rest of the weights.
 */
export function assignCarriedParts(model: Diffusion, dir: string): void {
  if (Object.keys(model.frozen).length === 0) return;
  const { weights } = loadCheckpoint(dir, { expectFamily: 'diffusion' });
  const carried = new Map([...weights].filter(([name]) => name in model.frozen));
  assignStored(model.frozen, carried, join(dir, 'model.safetensors'));
}

/**
 * The posterior of every training image under the model's autoencoder, encoded once before
 * training: its mean and standard deviation per latent value (batches draw z = μ + σ·ε from them).
 */
export function encodeDataset(model: Diffusion, data: ImageDataset, quiet: boolean): { mean: Float32Array; std: Float32Array; shape: [number, number, number] } {
  const autoencoder = model.autoencoder!;
  const shape = autoencoder.latentShape;
  const size = shape[0] * shape[1] * shape[2];
  const mean = new Float32Array(data.count * size);
  const std = new Float32Array(data.count * size);
  const progress = createProgress({ total: data.count, label: 'encode', quiet });
  for (let start = 0; start < data.count; start += 128) {
    const indices = Int32Array.from({ length: Math.min(128, data.count - start) }, (_, i) => start + i);
    tf.tidy(() => {
      const posterior = autoencoder.encode(gatherImages(data, indices));
      mean.set(posterior.mean.dataSync() as Float32Array, start * size);
      std.set(tf.exp(tf.mul(posterior.logVariance, 0.5)).dataSync() as Float32Array, start * size);
    });
    progress.update(start + indices.length, {});
  }
  progress.stop();
  return { mean, std, shape };
}

/** Fixed prompts for the progress grid: training captions spread over the set (seeded). */
export function gridPrompts(captions: string[], count: number): string[] {
  const order = fromSeed('progress-prompts').permutation(captions.length);
  return Array.from({ length: count }, (_, i) => captions[order[i % captions.length]!]!);
}

export const tokenizerPath = (dir: string) => join(dir, 'tokenizer.json');
