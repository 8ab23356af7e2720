/**
 * An autoencoder from its config and weights, with no Node API (the studio bundles it, and the
 * latent diffusion model builds its own copy from the weights it carries).
 */
import * as tf from '../../core/tf.ts';
import { assignStored } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import { GenloomError } from '../../core/errors.ts';
import type { CheckpointManifest } from '../../io/checkpoint-format.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { filled, type BuiltModel } from '../builder.ts';
import { parseAutoencoderConfig } from './config.ts';
import { Autoencoder } from './autoencoder.ts';

/** The scale factor a finished run recorded (1/std of the training latents, as SD's scale_factor). */
export function latentScaleOf(manifest: CheckpointManifest, source: string): number {
  const scale = Number(manifest.training['latentScale']);
  if (!(scale > 0 && Number.isFinite(scale))) throw new GenloomError('CORRUPT_FILE', `${source} records no latent scale (training.latentScale): it is not a finished autoencoder checkpoint`);
  return scale;
}

export function buildAutoencoder(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string): BuiltModel<Autoencoder> {
  const config = parseAutoencoderConfig(manifest.config);
  const network = filled(new Autoencoder(config, fromSeed(0)), (built) => assignStored(built.params, weights, source));
  const [h, w, c] = network.latentShape;
  return {
    network,
    model: {
      family: 'autoencoder',
      manifest,
      imageShape: [config.imageHeight, config.imageWidth, config.channels],
      // The flat view of the spatial latent, so interpolation and encode/decode work as for a VAE.
      latent: {
        latentDim: h * w * c,
        encode: (images) => tf.tidy(() => {
          const { mean, logVariance } = network.encode(images);
          return { mean: mean.reshape([images.shape[0], -1]) as tf.Tensor2D, logVariance: logVariance.reshape([images.shape[0], -1]) as tf.Tensor2D };
        }),
        decode: (z) => tf.tidy(() => network.decode(z.reshape([z.shape[0], h, w, c]))),
      },
      dispose: () => network.dispose(),
    },
  };
}

