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
import { filled, labelNamesOf, type BuiltModel, type CompanionTexts, type ModelBuilder } from '../builder.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { tokenizerFromText } from '../../text/tokenizer-json.ts';
import type { SampleOptions } from '../family.ts';
import { parseDiffusionConfig } from './config.ts';
import { Diffusion, diffusionSampling, toImages, type DiffusionSampleOptions } from './diffusion.ts';

/** The family-neutral sample options as the diffusion model takes them (trajectory frames as images in [0, 1]). */
export function diffusionOptions(options: SampleOptions, model?: Diffusion): DiffusionSampleOptions {
  const onStep = options.onStep;
  const images = (data: tf.Tensor4D) => (model ? model.toImages(data) : toImages(data));
  return {
    labels: options.labels,
    sampler: options.sampler,
    steps: options.steps,
    guidance: options.guidance,
    ...(options.prompts !== undefined ? { prompts: options.prompts } : {}),
    ...(options.negativePrompt !== undefined ? { negativePrompt: options.negativePrompt } : {}),
    onStep: onStep && ((index, t, x, x0) => tf.tidy(() => onStep(index, t, images(x), images(x0)))),
  };
}

/** Assigns a checkpoint's weights: every parameter, or only the average ("ema.*") that a shipped model keeps. */
function assignDiffusionWeights(model: Diffusion, all: Map<string, StoredTensor>, source: string): void {
  // The frozen parts (autoencoder, text encoder) are stored once, under their own names.
  const frozen = new Map([...all].filter(([name]) => Object.hasOwn(model.frozen, name)));
  const weights = new Map([...all].filter(([name]) => !Object.hasOwn(model.frozen, name)));
  for (const name of Object.keys(model.frozen)) if (!frozen.has(name)) throw new GenloomError('SHAPE_MISMATCH', `${source} has no tensor "${name}" that this model needs`);
  assignStored(model.frozen, frozen, source);
  if (!weights.has('in.weight') && weights.has('ema.in.weight')) {
    // A shipped model keeps only the averaged weights that sampling uses (scripts/ship-model.ts);
    // the trained U-Net gets them too, so fine-tuning starts from what the samples show.
    const averaged = new Map([...weights].map(([name, tensor]) => [name.replace(/^ema\./, ''), tensor]));
    assignStored(model.averaged.params, averaged, source);
    for (const [name, variable] of Object.entries(model.unet.params)) variable.assign(model.averaged.params[name]!);
  } else {
    assignStored(Object.fromEntries(Object.entries(model.params).filter(([name]) => !Object.hasOwn(model.frozen, name))), weights, source);
  }
}

/**
 * @example
 * const { model } = buildDiffusion(manifest, weights, 'diffusion-mnist/model.safetensors');
 * const images = model.sampleImages!(4, fromSeed(3).fork('sample'), { sampler: 'ddim', steps: 20 });
 */
export function buildDiffusion(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string, files?: CompanionTexts, tokenizer?: Tokenizer): BuiltModel<Diffusion> {
  const config = parseDiffusionConfig(manifest.config);
  const diffusion = filled(new Diffusion(config, fromSeed(0)), (network) => {
    assignDiffusionWeights(network, weights, source);
    if (!network.textConditioned) return;
    if (tokenizer) network.tokenizer = tokenizer;
    else if (files?.tokenizer) network.tokenizer = tokenizerFromText(files.tokenizer, source.replace(/model\.safetensors$/, 'tokenizer.json'));
    else throw new GenloomError('NOT_FOUND', `${source.replace(/model\.safetensors$/, '')}tokenizer.json is missing: a text-to-image model reads prompts with its text encoder's tokenizer`);
  });
  return {
    network: diffusion,
    model: {
      family: 'diffusion',
      manifest,
      imageShape: [config.imageHeight, config.imageWidth, config.channels],
      labelNames: labelNamesOf(manifest),
      conditional: diffusion.conditional,
      sampleImages: (count, random, options = {}) => diffusion.sample(count, random, diffusionOptions(options, diffusion)),
      editing: {
        img2img: (images, strength, random, options = {}) => diffusion.img2img(images, strength, random, diffusionOptions(options, diffusion)),
        inpaint: (images, mask, random, options = {}) => diffusion.inpaint(images, mask, random, diffusionOptions(options, diffusion)),
      },
      ...(diffusion.textConditioned
        ? {
            textConditioning: {
              contextTokens: diffusion.textEncoder!.config.context,
              tokenCount: (text: string) => diffusion.textEncoder!.tokenCount(diffusion.tokenizer!, text),
              interpolatePrompts: (from, to, frames, noise, options = {}) => diffusion.interpolatePrompts(from, to, frames, noise, diffusionOptions(options, diffusion)),
            },
          }
        : {}),
      dispose: () => diffusion.dispose(),
    },
  };
}

export const diffusionBuilder: ModelBuilder<Diffusion> = { family: 'diffusion', requires: [], sampling: diffusionSampling, build: buildDiffusion };
