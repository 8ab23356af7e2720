/**
 * A diffusion model from its config and weights, with no Node API (the studio bundles it):
 * sampling with any of the samplers and guidance, the denoising trajectory, and editing (img2img,
 * inpainting). The family's load() (index.ts) adds evaluation, which reads the dataset.
 */
import * as tf from '../../core/tf.ts';
import { assignStored } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import type { CheckpointManifest } from '../../io/checkpoint-format.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { filled, labelNamesOf, type BuiltModel, type ModelBuilder } from '../builder.ts';
import type { SampleOptions } from '../family.ts';
import { parseDiffusionConfig } from './config.ts';
import { Diffusion, diffusionSampling, toImages, type DiffusionSampleOptions } from './diffusion.ts';

/** The family-neutral sample options as the diffusion model takes them (trajectory frames as images in [0, 1]). */
export function diffusionOptions(options: SampleOptions): DiffusionSampleOptions {
  const onStep = options.onStep;
  return {
    labels: options.labels,
    sampler: options.sampler,
    steps: options.steps,
    guidance: options.guidance,
    onStep: onStep && ((index, t, x, x0) => tf.tidy(() => onStep(index, t, toImages(x), toImages(x0)))),
  };
}

/** Assigns a checkpoint's weights: every parameter, or only the average ("ema.*") that a shipped model keeps. */
function assignDiffusionWeights(model: Diffusion, weights: Map<string, StoredTensor>, source: string): void {
  if (!weights.has('in.weight') && weights.has('ema.in.weight')) {
    // A shipped model keeps only the averaged weights that sampling uses (scripts/ship-model.ts);
    // the trained U-Net gets them too, so fine-tuning starts from what the samples show.
    const averaged = new Map([...weights].map(([name, tensor]) => [name.replace(/^ema\./, ''), tensor]));
    assignStored(model.averaged.params, averaged, source);
    for (const [name, variable] of Object.entries(model.unet.params)) variable.assign(model.averaged.params[name]!);
  } else {
    assignStored(model.params, weights, source);
  }
}

/**
 * @example
 * const { model } = buildDiffusion(manifest, weights, 'diffusion-mnist/model.safetensors');
 * const images = model.sampleImages!(4, fromSeed(3).fork('sample'), { sampler: 'ddim', steps: 20 });
 */
export function buildDiffusion(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string): BuiltModel<Diffusion> {
  const config = parseDiffusionConfig(manifest.config);
  const diffusion = filled(new Diffusion(config, fromSeed(0)), (network) => assignDiffusionWeights(network, weights, source));
  return {
    network: diffusion,
    model: {
      family: 'diffusion',
      manifest,
      imageShape: [config.imageHeight, config.imageWidth, config.channels],
      labelNames: labelNamesOf(manifest),
      conditional: diffusion.conditional,
      sampleImages: (count, random, options = {}) => diffusion.sample(count, random, diffusionOptions(options)),
      editing: {
        img2img: (images, strength, random, options = {}) => diffusion.img2img(images, strength, random, diffusionOptions(options)),
        inpaint: (images, mask, random, options = {}) => diffusion.inpaint(images, mask, random, diffusionOptions(options)),
      },
      dispose: () => diffusion.dispose(),
    },
  };
}

export const diffusionBuilder: ModelBuilder<Diffusion> = { family: 'diffusion', requires: [], sampling: diffusionSampling, build: buildDiffusion };
