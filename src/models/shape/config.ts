/**
 * The shape family's hyperparameters, for both of its generators (a VAE and a diffusion model on
 * voxel grids): validated, with named presets, saved as JSON beside the weights.
 */
import { z } from 'zod';
import { checkResolution } from '../../shapes/voxelize.ts';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

/** The largest grid the family trains on: activations grow with r³ (64³ × batch 32 × 16 channels is 0.5 GiB per layer). */
export const maxTrainingResolution = 64;

export const shapeConfigSchema = z
  .object({
    /** "vae" (a latent space to encode, walk and decode) or "diffusion" (a 3-D U-Net denoiser). */
    generator: z.enum(['vae', 'diffusion']),
    /** Voxels per side; divisible by 2^(levels) and at most 64. */
    resolution: z.number().int().min(8).max(128),
    /** Channels of each level; every level halves the grid with a 2³ patch convolution. */
    channels: z.array(z.number().int().min(1).max(512)).min(1).max(5),
    /** VAE: size of the latent space z. */
    latentDim: z.number().int().min(1).max(1024),
    /** 0: unconditional; otherwise the number of labels the generator is conditioned on. */
    classes: z.number().int().min(0).max(1000),
    /** VAE: weight of the KL term (1 = the true ELBO). */
    beta: z.number().min(0).max(100),
    /** Diffusion: steps T of the (cosine) noise schedule. */
    timesteps: z.number().int().min(10).max(10_000),
    /** Diffusion: DDIM steps when generating. */
    sampleSteps: z.number().int().min(1).max(10_000),
    /** Diffusion: share of training labels replaced by "none" (classifier-free guidance). */
    labelDropout: z.number().min(0).max(1),
    /** Diffusion: classifier-free guidance scale w for conditional sampling (1 = plain conditional). */
    guidance: z.number().min(0).max(50),
    /** Diffusion: decay of the weight average sampling uses (0 = the latest weights). */
    emaDecay: z.number().min(0).max(0.99999),
  })
  .strict();

export type ShapeConfig = z.infer<typeof shapeConfigSchema>;

export const shapePresets = {
  /** For tests: 16³ grids, trains in seconds. */
  tiny: { resolution: 16, channels: [8, 16], latentDim: 8 },
  /** 32³ grids, three levels (16³, 8³, 4³). */
  default: { resolution: 32, channels: [16, 32, 64], latentDim: 64 },
} as const satisfies Record<string, Partial<ShapeConfig>>;

const defaults = {
  generator: 'vae',
  classes: 0,
  beta: 1,
  timesteps: 1000,
  sampleSteps: 50,
  labelDropout: 0.1,
  guidance: 2,
  emaDecay: 0.999,
} as const;

/** Merges `overrides` over a preset over the defaults and validates the result. */
export function parseShapeConfig(overrides: Record<string, unknown>, preset = 'default'): ShapeConfig {
  // A huge grid is refused by what it would take in memory, before anything is allocated.
  if (typeof overrides['resolution'] === 'number') checkResolution(overrides['resolution']);
  const config = parseFamilyConfig('shape', shapeConfigSchema, defaults, shapePresets, overrides, preset);
  const { resolution, channels } = config;
  if (resolution > maxTrainingResolution) {
    const gib = (resolution ** 3 * 32 * channels[0]! * 4) / 2 ** 30;
    throw new GenloomError(
      'BAD_ARGUMENT',
      `--resolution ${resolution} is too large to train: one ${channels[0]}-channel activation of a batch of 32 at ${resolution}³ takes ${gib.toFixed(1)} GiB; use ${maxTrainingResolution} or less`,
    );
  }
  const factor = 2 ** channels.length;
  if (resolution % factor !== 0 || resolution / factor < 2) {
    throw new GenloomError('BAD_ARGUMENT', `invalid shape config: --resolution ${resolution} must be divisible by ${factor} (and at least ${2 * factor}) for ${channels.length} levels of --channels ${channels.join(',')}`);
  }
  if (config.sampleSteps > config.timesteps) {
    throw new GenloomError('BAD_ARGUMENT', `invalid shape config: sampleSteps ${config.sampleSteps} exceeds timesteps ${config.timesteps}`);
  }
  return config;
}
