/**
 * The image classifier's hyperparameters. It exists to judge the other image families: its
 * penultimate layer is the feature space of fid_classifier and precision/recall.
 */
import { z } from 'zod';
import { parseFamilyConfig } from '../config-util.ts';

export const classifierConfigSchema = z
  .object({
    imageHeight: z.number().int().min(4).max(256),
    imageWidth: z.number().int().min(4).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    classes: z.number().int().min(2).max(1000),
    /** 3×3 conv layers; each but the last is followed by 2×2 max pooling. */
    convChannels: z.array(z.number().int().min(1).max(1024)).min(1).max(5),
    /** Width of the penultimate layer: the feature vector the image metrics use. */
    featureDim: z.number().int().min(2).max(4096),
    dropout: z.number().min(0).max(0.9),
    /** Random translations of up to this many pixels during training. */
    augmentShift: z.number().int().min(0).max(8),
  })
  .strict();

export type ClassifierConfig = z.infer<typeof classifierConfigSchema>;

export const classifierPresets = {
  tiny: { convChannels: [4, 8], featureDim: 16 },
  small: { convChannels: [16, 32, 64], featureDim: 128 },
  base: { convChannels: [32, 64, 128], featureDim: 256 },
} as const satisfies Record<string, Partial<ClassifierConfig>>;

const defaults = { imageHeight: 28, imageWidth: 28, channels: 1, classes: 10, dropout: 0.3, augmentShift: 2 } as const;

export function parseClassifierConfig(overrides: Record<string, unknown>, preset = 'small'): ClassifierConfig {
  return parseFamilyConfig('classifier', classifierConfigSchema, defaults, classifierPresets, overrides, preset);
}
