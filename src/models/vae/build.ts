/**
 * A VAE from its config and weights, with no Node API (the studio bundles it): sampling and the
 * latent space. The family's load() (index.ts) adds evaluation, which reads the test set.
 */
import { fromSeed } from '../../core/random.ts';
import { assignStored } from '../../core/params.ts';
import { filled, labelNamesOf, type BuiltModel, type ModelBuilder } from '../builder.ts';
import type { CheckpointManifest } from '../../io/checkpoint-format.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { parseVaeConfig } from './config.ts';
import { Vae } from './vae.ts';

/**
 * @example
 * const { model } = buildVae(parseManifest(configText, 'config.json'), decodeSafetensors(bytes, 'model.safetensors').tensors, 'model.safetensors');
 * const images = model.sampleImages!(16, fromSeed(1).fork('sample'));
 */
export function buildVae(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string): BuiltModel<Vae> {
  const config = parseVaeConfig(manifest.config);
  const vae = filled(new Vae(config, fromSeed(0)), (network) => assignStored(network.params, weights, source));
  return {
    network: vae,
    model: {
      family: 'vae',
      manifest,
      imageShape: [config.imageHeight, config.imageWidth, config.channels],
      labelNames: labelNamesOf(manifest),
      sampleImages: (count, random) => vae.sample(count, random),
      latent: {
        latentDim: vae.latentDim,
        encode: (images) => vae.encode(images),
        decode: (z) => vae.decode(z),
      },
      dispose: () => vae.dispose(),
    },
  };
}

export const vaeBuilder: ModelBuilder<Vae> = { family: 'vae', requires: [], build: buildVae };
