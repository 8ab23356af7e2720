/**
 * The music model's hyperparameters: the recurrent network's size and the event encoding it reads,
 * validated and saved beside the weights.
 */
import { z } from 'zod';
import { parseFamilyConfig } from '../config-util.ts';
import type { EventEncoding } from '../../music/events.ts';

export const musicConfigSchema = z
  .object({
    cell: z.enum(['lstm', 'gru']),
    layers: z.number().int().min(1).max(8),
    hidden: z.number().int().min(4).max(4096),
    embedding: z.number().int().min(2).max(4096),
    /** Dropout between layers and before the output while training (Zaremba et al. 2014). */
    dropout: z.number().min(0).max(0.9),
    /** Styles (composers) the model is conditioned on; 1 for a single-style dataset. */
    styles: z.number().int().min(1).max(10_000),
    /** The event encoding (see music/events.ts). */
    stepsPerQuarter: z.number().int().min(1).max(96),
    maxShift: z.number().int().min(1).max(1000),
    velocityBins: z.number().int().min(0).max(127),
    /** Training windows: the most events backpropagated through at once. */
    context: z.number().int().min(8).max(100_000),
    /**
     * Each step also reads which pitches are sounding (a 128-wide multi-hot through its own
     * embedding), so the model sees what it has left on and learns to release it. Models trained
     * before this input existed have it off (their configs do not name it).
     */
    soundingInput: z.boolean(),
  })
  .strict();

export type MusicConfig = z.infer<typeof musicConfigSchema>;

export const musicPresets = {
  /** For tests: trains in seconds. */
  tiny: { layers: 1, hidden: 32, embedding: 16 },
  /** The default and the shipped JSB model. */
  small: { layers: 2, hidden: 256, embedding: 64 },
  /** Larger MIDI collections. */
  base: { layers: 3, hidden: 512, embedding: 128 },
} as const satisfies Record<string, Partial<MusicConfig>>;

const defaults = { cell: 'lstm', dropout: 0.3, styles: 1, stepsPerQuarter: 4, maxShift: 16, velocityBins: 32, context: 256, soundingInput: true } as const;

export function parseMusicConfig(overrides: Record<string, unknown>, preset = 'small'): MusicConfig {
  return parseFamilyConfig('music', musicConfigSchema, defaults, musicPresets, overrides, preset);
}

/** The config a checkpoint was built with: one written before `soundingInput` existed has it off. */
export function storedMusicConfig(stored: Record<string, unknown>, overrides: Record<string, unknown> = {}): MusicConfig {
  return parseMusicConfig({ soundingInput: false, ...stored, ...overrides });
}

export function encodingOf(config: MusicConfig): EventEncoding {
  return { stepsPerQuarter: config.stepsPerQuarter, maxShift: config.maxShift, velocityBins: config.velocityBins };
}
