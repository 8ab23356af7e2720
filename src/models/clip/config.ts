/**
 * The contrastive image–text model's hyperparameters (CLIP, Radford et al. 2021): a conv image
 * encoder, a transformer text encoder made of the GPT's blocks, and the shared embedding space.
 * Validated, with named presets, saved as JSON beside the weights.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

export const clipConfigSchema = z
  .object({
    imageHeight: z.number().int().min(8).max(256),
    imageWidth: z.number().int().min(8).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Channels of each level of the image encoder: a 3×3 conv, then a 4×4 stride-2 conv (halves the size). */
    convChannels: z.array(z.number().int().min(1).max(1024)).min(1).max(5),
    imageHidden: z.number().int().min(1).max(8192),
    /** The tokenizer's vocabulary plus one: the last id ends every caption (and pads it). */
    vocabularySize: z.number().int().min(2).max(1_000_000),
    /** The most tokens of a caption the text encoder reads, its end token included. */
    context: z.number().int().min(2).max(1024),
    textLayers: z.number().int().min(1).max(48),
    textHeads: z.number().int().min(1).max(64),
    textDim: z.number().int().min(1).max(4096),
    /** The shared space both encoders project into. */
    embedDim: z.number().int().min(1).max(4096),
    /** The starting temperature τ of the logits cos/τ; τ is learned (as log 1/τ, capped at 100). */
    initialTemperature: z.number().min(0.01).max(1),
  })
  .strict()
  .refine((config) => config.textDim % config.textHeads === 0, { message: 'textDim must be a multiple of textHeads', path: ['textDim'] });

export type ClipConfig = z.infer<typeof clipConfigSchema>;

export const clipPresets = {
  /** For tests: trains in seconds. */
  tiny: { convChannels: [8, 16], imageHidden: 32, textLayers: 1, textHeads: 2, textDim: 32, embedDim: 32 },
  /** The default and the shipped emoji model. */
  small: { convChannels: [32, 64, 128], imageHidden: 256, textLayers: 2, textHeads: 4, textDim: 128, embedDim: 128 },
  /** More capacity, for 64×64 images. */
  base: { convChannels: [32, 64, 128, 256], imageHidden: 512, textLayers: 4, textHeads: 4, textDim: 256, embedDim: 256 },
} as const satisfies Record<string, Partial<ClipConfig>>;

const clipDefaults = { imageHeight: 32, imageWidth: 32, channels: 3, context: 32, initialTemperature: 0.07, ...clipPresets.small } as const;

export function parseClipConfig(overrides: Record<string, unknown>, preset: string = 'small'): ClipConfig {
  const config = parseFamilyConfig('clip', clipConfigSchema, clipDefaults, clipPresets, overrides, preset);
  const factor = 2 ** config.convChannels.length;
  if (config.imageHeight % factor !== 0 || config.imageWidth % factor !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `invalid clip config: image size ${config.imageHeight}×${config.imageWidth} must be divisible by ${factor} for ${config.convChannels.length} conv levels`);
  }
  return config;
}
