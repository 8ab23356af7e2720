/**
 * A GAN from its config and weights, with no Node API (the studio bundles it): sampling with a
 * label per image, truncation and discriminator rejection, and decoding latents. The family's
 * load() (index.ts) adds evaluation, which reads the dataset.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { assignStored } from '../../core/params.ts';
import { fromSeed, type Random } from '../../core/random.ts';
import type { CheckpointManifest } from '../../io/checkpoint-format.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { filled, labelNamesOf, type BuiltModel, type ModelBuilder } from '../builder.ts';
import type { SampleOptions } from '../family.ts';
import { parseGanConfig } from './config.ts';
import { Gan, toUnit } from './gan.ts';
import { rejectionSample } from './rejection.ts';

/** Samples with a label per image (drawn from random.fork('labels') when not given), truncation and optional discriminator rejection. */
export function sampleGan(gan: Gan, count: number, random: Random, options: SampleOptions): tf.Tensor4D {
  const truncation = options.truncation ?? 1;
  if (!(truncation > 0 && truncation <= 1)) throw new GenloomError('BAD_ARGUMENT', `truncation must be in (0, 1] (got ${truncation})`);
  const labels = gan.conditional ? gan.labels(count, random.fork('labels'), options.labels) : undefined;
  if (!options.reject) return gan.sample(count, random, { labels, truncation });
  const [height, width, channels] = [gan.config.imageHeight, gan.config.imageWidth, gan.config.channels];
  const size = height * width * channels;
  const out = new Float32Array(count * size);
  let batch: Float32Array = new Float32Array(0);
  rejectionSample(
    count,
    random.fork('reject'),
    (slots, proposalRandom) => {
      const slotLabels = labels ? Int32Array.from(slots, (slot) => labels[slot]!) : undefined;
      const images = gan.sample(slots.length, proposalRandom, { labels: slotLabels, truncation });
      const logits = tf.tidy(() => gan.discriminate(tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D, slotLabels ? tf.tensor1d(slotLabels, 'int32') : null));
      batch = images.dataSync() as Float32Array;
      const values = logits.dataSync() as Float32Array;
      tf.dispose([images, logits]);
      return { logits: values };
    },
    (slot, candidate) => out.set(batch.subarray(candidate * size, (candidate + 1) * size), slot * size),
  );
  return tf.tensor4d(out, [count, height, width, channels]);
}

/**
 * @example
 * const { model } = buildGan(manifest, weights, 'gan-mnist/model.safetensors');
 * const sevens = model.sampleImages!(8, fromSeed(1).fork('sample'), { labels: new Int32Array(8).fill(7), truncation: 0.7 });
 */
export function buildGan(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string): BuiltModel<Gan> {
  const config = parseGanConfig(manifest.config);
  const gan = filled(new Gan(config, fromSeed(0)), (network) => assignStored(network.params, weights, source));
  return {
    network: gan,
    model: {
      family: 'gan',
      manifest,
      imageShape: [config.imageHeight, config.imageWidth, config.channels],
      labelNames: labelNamesOf(manifest),
      conditional: gan.conditional,
      sampleImages: (count, random, options = {}) => sampleGan(gan, count, random, options),
      latent: {
        latentDim: config.latentDim,
        conditionDim: config.classes,
        decode: (z, condition) => {
          if (gan.conditional && !condition) throw new GenloomError('BAD_ARGUMENT', 'this GAN is conditional: give a label');
          return tf.tidy(() => toUnit(gan.generate(z, condition ?? null, true)));
        },
      },
      dispose: () => gan.dispose(),
    },
  };
}

export const ganBuilder: ModelBuilder<Gan> = { family: 'gan', requires: [], build: buildGan };
