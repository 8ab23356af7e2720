/**
 * Hyperparameters of the decoder-only transformer (GPT). Presets span a few hundred thousand to tens
 * of millions of parameters; `baby` is nanoGPT's CPU character model, the one the benchmark runs.
 */
import { z } from 'zod';
import { parseFamilyConfig } from '../config-util.ts';

export const transformerConfigSchema = z
  .object({
    vocabularySize: z.number().int().min(1).max(1_000_000),
    context: z.number().int().min(1).max(8192),
    layers: z.number().int().min(1).max(96),
    heads: z.number().int().min(1).max(128),
    dim: z.number().int().min(1).max(8192),
    /** MLP width as a multiple of dim (GPT-2: 4). */
    mlpRatio: z.number().int().min(1).max(16),
    /** learned: a position embedding table (GPT-2); rotary: rotate queries and keys (RoPE), no table. */
    positions: z.enum(['learned', 'rotary']),
    dropout: z.number().min(0).max(0.9),
    /** The output layer reuses the token embedding (transposed) instead of its own matrix. */
    tieWeights: z.boolean(),
    /** Biases in the linear layers and layer norms (GPT-2 has them). */
    bias: z.boolean(),
    layerNormEpsilon: z.number().positive(),
  })
  .refine((config) => config.dim % config.heads === 0, { message: 'dim must be a multiple of heads', path: ['dim'] })
  .refine((config) => config.positions !== 'rotary' || (config.dim / config.heads) % 2 === 0, { message: 'rotary positions need an even head size (dim / heads)', path: ['positions'] });

export type TransformerConfig = z.infer<typeof transformerConfigSchema>;

export const transformerDefaults: Omit<TransformerConfig, 'vocabularySize'> = {
  context: 128,
  layers: 4,
  heads: 4,
  dim: 128,
  mlpRatio: 4,
  positions: 'learned',
  dropout: 0,
  tieWeights: true,
  bias: true,
  layerNormEpsilon: 1e-5,
};

export const transformerPresets: Record<string, Partial<TransformerConfig>> = {
  /** 0.2M parameters: tests and quick tries. */
  tiny: { layers: 2, heads: 2, dim: 64, context: 64 },
  /** nanoGPT's CPU "baby" config: 4 layers, 4 heads, width 128, context 64 (0.8M parameters). */
  baby: { layers: 4, heads: 4, dim: 128, context: 64 },
  /** 3.2M parameters. */
  small: { layers: 4, heads: 4, dim: 256, context: 128 },
  /** nanoGPT's shakespeare-char config: 6 layers, 6 heads, width 384, context 256 (10.7M). */
  base: { layers: 6, heads: 6, dim: 384, context: 256 },
  /** GPT-2 small's shape: 12 layers, 12 heads, width 768, context 1024 (85M + embeddings). */
  large: { layers: 12, heads: 12, dim: 768, context: 1024 },
};

export function parseTransformerConfig(overrides: Record<string, unknown>, preset = 'baby'): TransformerConfig {
  return parseFamilyConfig('transformer', transformerConfigSchema, transformerDefaults, transformerPresets, overrides, preset);
}
