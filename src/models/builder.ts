/**
 * The pure half of a family's loader: a network built from its config and its weights, as values
 * rather than files. A builder imports no Node API, so the studio bundles the same builders that
 * `loadModel` uses (builders.ts lists them); each family's Node `load()` reads the model folder,
 * calls its builder, and adds what needs files (evaluation).
 *
 * This module has no runtime imports at all: the studio's page reads `companionFiles` without
 * loading TensorFlow.js.
 */
import type { CheckpointManifest } from '../io/checkpoint-format.ts';
import type { StoredTensor } from '../io/safetensors-format.ts';
import type { LoadedModel, SamplingDeclaration } from './family.ts';

/**
 * Files beside config.json and model.safetensors that a builder may read, by the key it takes them
 * under. The page fetches those a model folder has (before the weights, the big one).
 */
export const companionFiles = { tokenizer: 'tokenizer.json' } as const;

/** The companion files' text, by key (see companionFiles). */
export type CompanionTexts = { -readonly [key in keyof typeof companionFiles]?: string };

/** A built model: its family-neutral face, and the network inside (for the family's own Node code). */
export interface BuiltModel<Network = unknown> {
  model: LoadedModel;
  network: Network;
}

/** Builds one family's models from a parsed config.json and decoded model.safetensors. */
export interface ModelBuilder<Network = unknown> {
  family: string;
  /** The companion files it cannot build without (a transformer's tokenizer). */
  requires: readonly (keyof typeof companionFiles)[];
  /** Families with a choice of samplers: the declaration the studio offers (the FamilyDefinition's too). */
  sampling?: SamplingDeclaration;
  /**
   * `source` names the weights in messages (a path, or "vae-mnist/model.safetensors"). Throws a
   * GenloomError for a config or weights that do not fit; the network is freed then.
   */
  build(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string, files?: CompanionTexts): BuiltModel<Network>;
}

/** Fills a freshly made network (assigning its weights); frees it when that fails, so a bad file leaks nothing. */
export function filled<Network extends { dispose(): void }>(network: Network, fill: (network: Network) => void): Network {
  try {
    fill(network);
  } catch (error) {
    network.dispose();
    throw error;
  }
  return network;
}

/** The label names a model's training recorded (conditional or labelled datasets). */
export function labelNamesOf(manifest: CheckpointManifest): string[] | undefined {
  return manifest.training['labelNames'] as string[] | undefined;
}
