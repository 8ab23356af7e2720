/**
 * The diffusion model's hyperparameters: the U-Net's size, the noise schedule and the training
 * objective, validated and saved beside the weights.
 */
import { z } from 'zod';
import { GenloomError } from '../../core/errors.ts';
import { parseFamilyConfig } from '../config-util.ts';
import { latentShape, parseAutoencoderConfig } from '../autoencoder/config.ts';
import { parseClipConfig } from '../clip/config.ts';

export const diffusionConfigSchema = z
  .object({
    imageHeight: z.number().int().min(4).max(256),
    imageWidth: z.number().int().min(4).max(256),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** 0: unconditional; otherwise labels, with label dropout for classifier-free guidance. */
    classes: z.number().int().min(0).max(1000),
    baseChannels: z.number().int().min(4).max(512),
    /** One U-Net level per entry; every level but the last halves the resolution. */
    channelMultipliers: z.array(z.number().int().min(1).max(16)).min(1).max(5),
    groups: z.number().int().min(1).max(64),
    /** Side of the patches folded into channels (space-to-depth) so the U-Net runs at lower resolution. */
    patchSize: z.number().int().min(1).max(8),
    schedule: z.enum(['linear', 'cosine']),
    timesteps: z.number().int().min(10).max(10_000),
    prediction: z.enum(['epsilon', 'v']),
    /** Share of training examples whose label is replaced by "none" (classifier-free guidance). */
    labelDropout: z.number().min(0).max(1),
    /** Decay of the weight average that sampling uses (0: sample from the latest weights). */
    emaDecay: z.number().min(0).max(0.99999),
    /**
     * Latent diffusion: the config of the autoencoder whose latent the U-Net denoises (its weights
     * travel in this model's file as "autoencoder.*"), and the scale latents are multiplied by.
     */
    autoencoder: z.record(z.string(), z.unknown()).optional(),
    latentScale: z.number().positive().optional(),
    /** Text conditioning: the config of the clip model whose frozen text encoder ("text.*") the U-Net attends to. */
    textEncoder: z.record(z.string(), z.unknown()).optional(),
    /** Heads of each cross-attention block, and the first U-Net level that has them (the middle always does). */
    attentionHeads: z.number().int().min(1).max(64),
    crossAttentionFrom: z.number().int().min(0).max(4),
  })
  .strict();

export type DiffusionConfig = z.infer<typeof diffusionConfigSchema>;

export const diffusionPresets = {
  tiny: { baseChannels: 8, channelMultipliers: [1, 2], groups: 4, patchSize: 1 },
  small: { baseChannels: 32, channelMultipliers: [1, 2, 2], groups: 8, patchSize: 2 },
  base: { baseChannels: 64, channelMultipliers: [1, 2, 2], groups: 16, patchSize: 2 },
} as const satisfies Record<string, Partial<DiffusionConfig>>;

const defaults = { imageHeight: 28, imageWidth: 28, channels: 1, classes: 0, schedule: 'cosine', timesteps: 1000, prediction: 'epsilon', labelDropout: 0.1, emaDecay: 0.999, attentionHeads: 4, crossAttentionFrom: 0 } as const;

/** What the U-Net denoises: the images themselves, or the autoencoder's latent (height, width, channels). */
export function denoisedShape(config: DiffusionConfig): [number, number, number] {
  if (config.autoencoder) return latentShape(parseAutoencoderConfig(config.autoencoder));
  return [config.imageHeight, config.imageWidth, config.channels];
}

export function parseDiffusionConfig(overrides: Record<string, unknown>, preset = 'small'): DiffusionConfig {
  const config = parseFamilyConfig('diffusion', diffusionConfigSchema, defaults, diffusionPresets, overrides, preset);
  if (config.autoencoder) {
    const autoencoder = parseAutoencoderConfig(config.autoencoder);
    if (autoencoder.imageHeight !== config.imageHeight || autoencoder.imageWidth !== config.imageWidth || autoencoder.channels !== config.channels) {
      throw new GenloomError('SHAPE_MISMATCH', `the autoencoder works on ${autoencoder.imageHeight}×${autoencoder.imageWidth}×${autoencoder.channels} images but the diffusion model's are ${config.imageHeight}×${config.imageWidth}×${config.channels}`);
    }
    if (config.latentScale === undefined) throw new GenloomError('BAD_ARGUMENT', 'invalid diffusion config: a latent diffusion model needs the autoencoder\'s latentScale');
  }
  if (config.textEncoder) parseClipConfig(config.textEncoder);
  const [denoisedHeight, denoisedWidth] = denoisedShape(config);
  if (denoisedHeight % config.patchSize !== 0 || denoisedWidth % config.patchSize !== 0) {
    throw new GenloomError('BAD_ARGUMENT', `invalid diffusion config: ${denoisedHeight}×${denoisedWidth} ${config.autoencoder ? 'latents' : 'images'} do not split into ${config.patchSize}×${config.patchSize} patches`);
  }
  const downsamplings = config.channelMultipliers.length - 1;
  const [height, width] = [denoisedHeight / config.patchSize, denoisedWidth / config.patchSize];
  if (downsamplings > 0 && (Math.ceil(height / 2 ** downsamplings) < 2 || Math.ceil(width / 2 ** downsamplings) < 2)) {
    throw new GenloomError('BAD_ARGUMENT', `invalid diffusion config: ${denoisedHeight}×${denoisedWidth} is too small for ${config.channelMultipliers.length} U-Net levels`);
  }
  const baseChannels = config.baseChannels;
  if (config.textEncoder && config.channelMultipliers.some((m) => (baseChannels * m) % config.attentionHeads !== 0)) {
    throw new GenloomError('BAD_ARGUMENT', `invalid diffusion config: the U-Net's channels (${config.channelMultipliers.map((m) => baseChannels * m).join(', ')}) do not split into ${config.attentionHeads} attention heads`);
  }
  for (const multiplier of config.channelMultipliers) {
    if ((config.baseChannels * multiplier) % Math.min(config.groups, config.baseChannels * multiplier) !== 0) {
      throw new GenloomError('BAD_ARGUMENT', `invalid diffusion config: ${config.baseChannels * multiplier} channels do not split into ${config.groups} groups`);
    }
  }
  return config;
}
