/**
 * The Gated PixelCNN's hyperparameters, validated and saved beside the weights.
 */
import { z } from 'zod';
import { parseFamilyConfig } from '../config-util.ts';

export const pixelCnnConfigSchema = z
  .object({
    imageHeight: z.number().int().min(2).max(128),
    imageWidth: z.number().int().min(2).max(128),
    /** Binary images: one Bernoulli per pixel, so one channel. */
    channels: z.literal(1),
    /** 0: unconditional; otherwise a label embedding biases every gated layer (van den Oord et al. 2016, eq. 4). */
    classes: z.number().int().min(0).max(1000),
    /** Feature maps p of each stack; the gates work on 2p. */
    features: z.number().int().min(2).max(512),
    /** Side of the first (type A) layer's kernel: odd. */
    inputKernel: z.number().int().min(3).max(15).refine((k) => k % 2 === 1, 'must be odd'),
    /** Side of the gated layers' kernels: odd. */
    kernel: z.number().int().min(3).max(9).refine((k) => k % 2 === 1, 'must be odd'),
    /** Gated layers after the input layer. */
    layers: z.number().int().min(0).max(40),
    /** Channels of the output head (two 1×1 convolutions). */
    headChannels: z.number().int().min(1).max(1024),
  })
  .strict();

export type PixelCnnConfig = z.infer<typeof pixelCnnConfigSchema>;

export const pixelCnnPresets = {
  /** For tests: trains in seconds. */
  tiny: { features: 8, layers: 2, headChannels: 16, inputKernel: 5 },
  /** The shipped MNIST model: fits a 2-core CPU in a few hours. */
  small: { features: 32, layers: 6, headChannels: 64 },
  /** Closer to the paper's MNIST setting (p = 128, 10 layers): for machines with time. */
  base: { features: 64, layers: 10, headChannels: 128 },
} as const satisfies Record<string, Partial<PixelCnnConfig>>;

const defaults = { imageHeight: 28, imageWidth: 28, channels: 1, classes: 0, inputKernel: 7, kernel: 3 } as const;

export function parsePixelCnnConfig(overrides: Record<string, unknown>, preset = 'small'): PixelCnnConfig {
  return parseFamilyConfig('PixelCNN', pixelCnnConfigSchema, defaults, pixelCnnPresets, overrides, preset);
}
