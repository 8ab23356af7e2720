/**
 * The autoencoder's hyperparameters (Stable Diffusion's "first stage", Rombach et al. 2022): a
 * convolutional encoder to a small spatial latent and a decoder back, with a light KL term so the
 * latent stays near N(0, 1) in scale. Validated, with named presets, saved beside the weights.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

export const autoencoderConfigSchema = z
  .object({
    imageHeight: z.number().int().min(4).max(256),
    imageWidth: z.number().int().min(4).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Channels of the latent at each position (SD: 4). */
    latentChannels: z.number().int().min(1).max(64),
    /** Channels of each level; every level but the last halves the resolution (3 levels: 32×32 → 8×8). */
    levelChannels: z.array(z.number().int().min(4).max(512)).min(1).max(5),
    groups: z.number().int().min(1).max(64),
    /**
     * Weight of KL(q(z|x) ‖ N(0, 1)) against the per-image L1 reconstruction error, both summed
     * over the image as in the LDM code (1e-6 there): small enough that the latent keeps detail,
     * large enough that it does not drift to huge values.
     */
    klWeight: z.number().min(0).max(1),
  })
  .strict();

export type AutoencoderConfig = z.infer<typeof autoencoderConfigSchema>;

export const autoencoderPresets = {
  /** For tests: trains in seconds. 32×32 → 16×16. */
  tiny: { latentChannels: 2, levelChannels: [8, 16], groups: 4 },
  /** The default and the shipped emoji model: 32×32×3 → 8×8×4 (12× fewer values). */
  small: { latentChannels: 4, levelChannels: [32, 64, 128], groups: 8 },
  /** More capacity. */
  base: { latentChannels: 4, levelChannels: [64, 128, 256], groups: 16 },
} as const satisfies Record<string, Partial<AutoencoderConfig>>;

const defaults = { imageHeight: 32, imageWidth: 32, channels: 3, klWeight: 1e-6, ...autoencoderPresets.small } as const;

/** How many times smaller the latent is than the image on each side. */
export function downsampling(config: Pick<AutoencoderConfig, 'levelChannels'>): number {
  return 2 ** (config.levelChannels.length - 1);
}

/** The latent's height, width and channels. */
export function latentShape(config: AutoencoderConfig): [number, number, number] {
  const factor = downsampling(config);
  return [config.imageHeight / factor, config.imageWidth / factor, config.latentChannels];
}

export function parseAutoencoderConfig(overrides: Record<string, unknown>, preset = 'small'): AutoencoderConfig {
  const config = parseFamilyConfig('autoencoder', autoencoderConfigSchema, defaults, autoencoderPresets, overrides, preset);
  const factor = downsampling(config);
  if (config.imageHeight % factor !== 0 || config.imageWidth % factor !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `invalid autoencoder config: ${config.imageHeight}×${config.imageWidth} images do not halve ${config.levelChannels.length - 1} times`);
  }
  for (const channels of config.levelChannels) {
    if (channels % Math.min(config.groups, channels) !== 0) throw new GenloomError('BAD_ARGUMENT', `invalid autoencoder config: ${channels} channels do not split into ${config.groups} groups`);
  }
  return config;
}
