/**
 * The video model's hyperparameters: validated, with named presets, saved as JSON beside the weights.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

export const videoConfigSchema = z
  .object({
    /** The clip length the model is trained for (and generates). */
    frames: z.number().int().min(2).max(64),
    frameSize: z.number().int().min(16).max(256),
    digitsPerClip: z.number().int().min(1).max(4),
    classes: z.number().int().min(1).max(100),
    latentDim: z.number().int().min(1).max(512),
    /** Stride-2 conv layers of the frame encoder (mirrored by the decoder). */
    convChannels: z.array(z.number().int().min(1).max(512)).min(1).max(5),
    hiddenUnits: z.number().int().min(1).max(4096),
    /** GRU width of the prior over the frame latents. */
    dynamicsUnits: z.number().int().min(1).max(2048),
    /** KL weight of the frame VAE; 1 = the ELBO. */
    beta: z.number().min(0).max(100),
    /** Noise on the teacher-forced latents, so rollouts survive their own small errors. */
    inputNoise: z.number().min(0).max(10),
    /** Scale of the prior's σ when sampling: below 1 trades variety for steadier clips. */
    sampleTemperature: z.number().min(0).max(2),
  })
  .strict();

export type VideoConfig = z.infer<typeof videoConfigSchema>;

export const videoPresets = {
  /** For tests: trains in seconds. */
  tiny: { latentDim: 8, convChannels: [8, 16, 16], hiddenUnits: 64, dynamicsUnits: 32 },
  /** The shipped moving-MNIST model. */
  small: { latentDim: 16, convChannels: [16, 32, 64], hiddenUnits: 256, dynamicsUnits: 128 },
} as const satisfies Record<string, Partial<VideoConfig>>;

const videoDefaults = { frames: 16, frameSize: 64, digitsPerClip: 2, classes: 10, beta: 1, inputNoise: 0.1, sampleTemperature: 0.6, ...videoPresets.small } as const;

export function parseVideoConfig(overrides: Record<string, unknown>, preset = 'small'): VideoConfig {
  const config = parseFamilyConfig('video', videoConfigSchema, videoDefaults, videoPresets, overrides, preset);
  if (config.frameSize % 2 ** config.convChannels.length !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `invalid video config: frame size ${config.frameSize} must be divisible by ${2 ** config.convChannels.length} for ${config.convChannels.length} conv layers`);
  }
  return config;
}
