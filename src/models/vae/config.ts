/**
 * The VAE's hyperparameters: validated, with named presets, saved as JSON beside the weights.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

export const vaeConfigSchema = z
  .object({
    /** Image height and width; each must be divisible by 2^(number of conv layers). */
    imageHeight: z.number().int().min(4).max(256),
    imageWidth: z.number().int().min(4).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    latentDim: z.number().int().min(1).max(1024),
    /** Weight of the KL term (β-VAE, Higgins et al. 2017); 1 is the true ELBO. */
    beta: z.number().min(0).max(100),
    /**
     * bernoulli: pixels are binarized on the fly (dynamic binarization) and modelled as coin flips,
     * the setting of the published MNIST NLL numbers. gaussian: continuous pixels with one learned
     * scale per channel (the "σ-VAE", Rybkin et al. 2021), for photos and greyscale detail.
     */
    likelihood: z.enum(['bernoulli', 'gaussian']),
    /** Output channels of each stride-2 conv layer of the encoder (mirrored by the decoder). */
    convChannels: z.array(z.number().int().min(1).max(1024)).min(1).max(5),
    hiddenUnits: z.number().int().min(1).max(8192),
  })
  .strict();

export type VaeConfig = z.infer<typeof vaeConfigSchema>;

export const vaePresets = {
  /** For tests and first experiments: trains in seconds. */
  tiny: { latentDim: 2, convChannels: [8, 16], hiddenUnits: 32 },
  /** The default: the shipped MNIST model. */
  small: { latentDim: 16, convChannels: [32, 64], hiddenUnits: 128 },
  /** More capacity for 32×32/64×64 colour folders. */
  base: { latentDim: 64, convChannels: [32, 64, 128], hiddenUnits: 512 },
} as const satisfies Record<string, Partial<VaeConfig>>;

export type VaePreset = keyof typeof vaePresets;

export const vaeDefaults = {
  imageHeight: 28,
  imageWidth: 28,
  channels: 1,
  beta: 1,
  likelihood: 'bernoulli',
  ...vaePresets.small,
} as const;

/** Merges `overrides` over a preset over the defaults and validates the result. */
export function parseVaeConfig(overrides: Record<string, unknown>, preset: string = 'small'): VaeConfig {
  const config = parseFamilyConfig('VAE', vaeConfigSchema, vaeDefaults, vaePresets, overrides, preset);
  const factor = 2 ** config.convChannels.length;
  if (config.imageHeight % factor !== 0 || config.imageWidth % factor !== 0) {
    throw new GenloomError(
      'BAD_ARGUMENT',
      `invalid VAE config: image size ${config.imageHeight}×${config.imageWidth} must be divisible by ${factor} for ${config.convChannels.length} conv layers`,
    );
  }
  return config;
}
