/**
 * The video model's hyperparameters: validated, with named presets, saved as JSON beside the weights.
 *
 * Two designs share the family (see layered.ts and clip-vae.ts for each one's why):
 *   layered    what and where: a class-conditional VAE draws each digit's glyph once per clip and
 *              a recurrent mixture-density model draws its path; frames are composited as moving
 *              MNIST composites them. The default since 2026-12.
 *   frame-vae  a per-frame conditional VAE with a GRU prior over its frame latents: the first
 *              design, kept so its checkpoints (config.json without `design`) still load and train.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

const clipShape = {
  /** The clip length the model is trained for (and generates). */
  frames: z.number().int().min(2).max(64),
  frameSize: z.number().int().min(16).max(256),
  digitsPerClip: z.number().int().min(1).max(4),
  classes: z.number().int().min(1).max(100),
};

export const frameVaeConfigSchema = z
  .object({
    design: z.literal('frame-vae'),
    ...clipShape,
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

export const layeredConfigSchema = z
  .object({
    design: z.literal('layered'),
    ...clipShape,
    /** Size of a glyph's style latent (how the digit is written; which digit comes from its label). */
    styleDim: z.number().int().min(1).max(256),
    /** Stride-2 conv layers of the glyph encoder on 28 × 28 digits (mirrored by the decoder): 1 or 2. */
    glyphChannels: z.array(z.number().int().min(1).max(512)).min(1).max(2),
    glyphHiddenUnits: z.number().int().min(1).max(4096),
    /** KL weight of the glyph VAE; 1 = the ELBO. */
    beta: z.number().min(0).max(100),
    /** GRU width of the path model. */
    motionUnits: z.number().int().min(1).max(2048),
    /** Gaussian components of the path model's next-move distribution. */
    mixtures: z.number().int().min(1).max(64),
    /** Noise (in the model's input units) on the teacher-forced positions, so rollouts survive their own small errors. */
    inputNoise: z.number().min(0).max(1),
    /** Scale of the glyph prior's σ when sampling: below 1 gives plainer, more legible digits. */
    styleTemperature: z.number().min(0).max(2),
    /** Scale of the path model's σ when sampling. */
    motionTemperature: z.number().min(0).max(2),
  })
  .strict();

export type FrameVaeConfig = z.infer<typeof frameVaeConfigSchema>;
export type LayeredConfig = z.infer<typeof layeredConfigSchema>;
export type VideoConfig = FrameVaeConfig | LayeredConfig;
export type VideoDesign = VideoConfig['design'];
export const videoDesigns: readonly VideoDesign[] = ['layered', 'frame-vae'];

const presetsByDesign = {
  'frame-vae': {
    /** For tests: trains in seconds. */
    tiny: { latentDim: 8, convChannels: [8, 16, 16], hiddenUnits: 64, dynamicsUnits: 32 },
    /** The first shipped moving-MNIST model. */
    small: { latentDim: 16, convChannels: [16, 32, 64], hiddenUnits: 256, dynamicsUnits: 128 },
  },
  layered: {
    tiny: { styleDim: 4, glyphChannels: [8, 16], glyphHiddenUnits: 32, motionUnits: 16, mixtures: 3 },
    /** The shipped moving-MNIST model. */
    small: { styleDim: 16, glyphChannels: [32, 64], glyphHiddenUnits: 256, motionUnits: 128, mixtures: 8 },
  },
} as const satisfies Record<VideoDesign, Record<string, Record<string, unknown>>>;

/** The preset names (the same for both designs). */
export const videoPresets = presetsByDesign.layered;

const clipDefaults = { frames: 16, frameSize: 64, digitsPerClip: 2, classes: 10 } as const;
const defaultsByDesign = {
  'frame-vae': { design: 'frame-vae', ...clipDefaults, beta: 1, inputNoise: 0.1, sampleTemperature: 0.6, ...presetsByDesign['frame-vae'].small },
  layered: { design: 'layered', ...clipDefaults, beta: 1, inputNoise: 0.02, styleTemperature: 0.8, motionTemperature: 1, ...presetsByDesign.layered.small },
} as const;

/** A new run's config: `overrides.design` picks the design (default layered). */
export function parseVideoConfig(overrides: Record<string, unknown>, preset = 'small'): VideoConfig {
  const design = overrides['design'] ?? 'layered';
  if (design !== 'layered' && design !== 'frame-vae') throw new GenloomError('BAD_ARGUMENT', `invalid video config: design must be one of ${videoDesigns.join(', ')} (got "${String(design)}")`);
  if (design === 'layered') {
    const config = parseFamilyConfig('video', layeredConfigSchema, defaultsByDesign.layered, presetsByDesign.layered, overrides, preset);
    if (config.frameSize < 28) throw new GenloomError('BAD_ARGUMENT', `invalid video config: the layered design draws 28 × 28 digits, so frame size must be at least 28 (got ${config.frameSize})`);
    if (28 % 2 ** config.glyphChannels.length !== 0) throw new GenloomError('BAD_ARGUMENT', 'invalid video config: glyphChannels takes 1 or 2 layers (28 px halves twice)');
    return config;
  }
  const config = parseFamilyConfig('video', frameVaeConfigSchema, defaultsByDesign['frame-vae'], presetsByDesign['frame-vae'], overrides, preset);
  if (config.frameSize % 2 ** config.convChannels.length !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `invalid video config: frame size ${config.frameSize} must be divisible by ${2 ** config.convChannels.length} for ${config.convChannels.length} conv layers`);
  }
  return config;
}

/** A config read from a checkpoint: one written before the layered design has no `design` and is a frame VAE. */
export function storedVideoConfig(config: Record<string, unknown>): VideoConfig {
  return parseVideoConfig({ design: 'frame-vae', ...config });
}
