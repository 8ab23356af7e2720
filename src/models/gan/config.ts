/**
 * The GAN's hyperparameters. The defaults are a recipe that does not collapse on a first run:
 * hinge loss, spectral normalisation in the discriminator, a projection discriminator for labels,
 * an exponential moving average of the generator, and a faster discriminator (TTUR).
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';

export const ganConfigSchema = z
  .object({
    imageHeight: z.number().int().min(4).max(256),
    imageWidth: z.number().int().min(4).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** 0: unconditional; otherwise the number of labels the generator and discriminator take. */
    classes: z.number().int().min(0).max(1000),
    latentDim: z.number().int().min(1).max(1024),
    /** Output channels of each stride-2 transposed conv of the generator (each doubles the size). */
    generatorChannels: z.array(z.number().int().min(1).max(1024)).min(1).max(6),
    /** Output channels of each stride-2 conv of the discriminator (each halves the size). */
    discriminatorChannels: z.array(z.number().int().min(1).max(1024)).min(1).max(6),
    loss: z.enum(['hinge', 'non-saturating']),
    /** Decay of the generator's weight average that sampling uses (0 = no averaging). */
    emaDecay: z.number().min(0).max(0.99999),
    /** Discriminator learning rate ÷ generator learning rate (two time-scale update rule). */
    discriminatorLearningRateRatio: z.number().min(0.01).max(100),
  })
  .strict();

export type GanConfig = z.infer<typeof ganConfigSchema>;

export const ganPresets = {
  tiny: { latentDim: 8, generatorChannels: [8, 4], discriminatorChannels: [4, 8] },
  small: { latentDim: 64, generatorChannels: [32, 16], discriminatorChannels: [32, 64] },
  base: { latentDim: 128, generatorChannels: [128, 64, 32], discriminatorChannels: [32, 64, 128] },
} as const satisfies Record<string, Partial<GanConfig>>;

const defaults = {
  imageHeight: 28,
  imageWidth: 28,
  channels: 1,
  classes: 0,
  loss: 'hinge',
  emaDecay: 0.999,
  discriminatorLearningRateRatio: 2,
} as const;

export function parseGanConfig(overrides: Record<string, unknown>, preset = 'small'): GanConfig {
  const config = parseFamilyConfig('GAN', ganConfigSchema, defaults, ganPresets, overrides, preset);
  for (const [name, list] of [['generator', config.generatorChannels], ['discriminator', config.discriminatorChannels]] as const) {
    const factor = 2 ** list.length;
    if (config.imageHeight % factor !== 0 || config.imageWidth % factor !== 0) {
      throw new GenloomError('BAD_ARGUMENT', `invalid GAN config: image size ${config.imageHeight}×${config.imageWidth} must be divisible by ${factor} for ${list.length} ${name} layers (give --${name === 'generator' ? 'g' : 'd'}-channels with fewer entries)`);
    }
  }
  return config;
}

/** Layer lists that fit an image size: as many stride-2 layers as leave a start of at most 8×8. */
export function channelsForSize(size: number, preset: string): Partial<GanConfig> {
  if (!(preset in ganPresets)) return {};
  const base = ganPresets[preset as keyof typeof ganPresets];
  let layers = 0;
  while (size % 2 ** (layers + 1) === 0 && size / 2 ** layers > 8 && layers < 5) layers++;
  layers = Math.max(1, layers);
  const widest = base.generatorChannels[0]!;
  return {
    generatorChannels: Array.from({ length: layers }, (_, i) => Math.max(4, widest >> i)),
    discriminatorChannels: Array.from({ length: layers }, (_, i) => Math.max(4, (base.discriminatorChannels[0]! << i))),
  };
}
