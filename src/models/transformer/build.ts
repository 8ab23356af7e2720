/**
 * A GPT from its config, weights and tokenizer, with no Node API (the studio bundles it):
 * generation (at once, or token by token with awaits between) and attention maps. The family's
 * load() (index.ts) reads the tokenizer file, of either kind, and adds evaluation.
 *
 * From bytes (the builder below) only character tokenizers are read: byte-level BPE lives in a
 * module that also reads GPT-2's files from disk, and the shipped text model is character-level.
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { assignStored } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';
import type { CheckpointManifest } from '../../io/checkpoint-format.ts';
import type { StoredTensor } from '../../io/safetensors-format.ts';
import { CharTokenizer } from '../../text/char-tokenizer.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { companionFiles, filled, type BuiltModel, type CompanionTexts, type ModelBuilder } from '../builder.ts';
import type { TextModel } from '../family.ts';
import { parseTransformerConfig } from './config.ts';
import { generateText, generateTextAsync } from './generate.ts';
import { Gpt } from './gpt.ts';
import { parseJsonText } from '../../io/json.ts';

/** Attention probabilities for `prompt` (cut to the context): per layer, per head, a [T, T] row-major matrix. */
export function attentionMaps(model: Gpt, tokenizer: Tokenizer, prompt: string): { tokens: string[]; layers: Float32Array[][] } {
  if (prompt.length === 0) throw new GenloomError('BAD_ARGUMENT', 'give a prompt to show the attention of');
  let ids = tokenizer.encode(prompt);
  if (ids.length > model.config.context) ids = ids.subarray(ids.length - model.config.context);
  const captured: tf.Tensor4D[] = [];
  try {
    tf.tidy(() => {
      model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { attention: captured });
    });
    const layers = captured.map((probabilities) => {
      const values = probabilities.dataSync() as Float32Array;
      const [, heads, length] = probabilities.shape;
      return Array.from({ length: heads }, (_, head) => values.slice(head * length * length, (head + 1) * length * length));
    });
    return { tokens: Array.from(ids, (id) => tokenizer.decode([id])), layers };
  } finally {
    tf.dispose(captured);
  }
}

/** The text face of a GPT and its tokenizer (also for `import gpt2`'s models). */
export function textModelOf(model: Gpt, tokenizer: Tokenizer): TextModel {
  return {
    tokenizer,
    context: model.config.context,
    generate: (prompt, options) => generateText(model, tokenizer, prompt, options),
    generateAsync: (prompt, options, between) => generateTextAsync(model, tokenizer, prompt, options, between),
    attention: (prompt) => attentionMaps(model, tokenizer, prompt),
  };
}

/** A GPT built from its files with this tokenizer; `source` names the weights (and the tokenizer's folder) in messages. */
export function buildTransformer(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string, tokenizer: Tokenizer): BuiltModel<Gpt> {
  const config = parseTransformerConfig(manifest.config);
  if (tokenizer.vocabularySize !== config.vocabularySize) {
    throw new GenloomError('SHAPE_MISMATCH', `${source.replace(/[\\/]?model\.safetensors$/, '')}: the tokenizer has ${tokenizer.vocabularySize} tokens but the model was built for ${config.vocabularySize}`);
  }
  const gpt = filled(new Gpt(config, fromSeed(0)), (network) => assignStored(network.params, weights, source));
  return { network: gpt, model: { family: 'transformer', manifest, text: textModelOf(gpt, tokenizer), dispose: () => gpt.dispose() } };
}

/** A character tokenizer from tokenizer.json's text; `source` names the file in messages. */
export function charTokenizerFromText(text: string, source: string): CharTokenizer {
  const json = parseJsonText(text, source);
  const kind = (json as { kind?: unknown } | null)?.kind;
  if (kind !== 'char') throw new GenloomError('UNSUPPORTED', `${source} is a ${String(kind)} tokenizer; in-browser mode runs character-level models only (use the server's Generate tab)`);
  return CharTokenizer.fromJson(json, source);
}

function buildFromTexts(manifest: CheckpointManifest, weights: Map<string, StoredTensor>, source: string, files: CompanionTexts = {}): BuiltModel<Gpt> {
  const tokenizerSource = source.replace(/model\.safetensors$/, companionFiles.tokenizer);
  if (files.tokenizer === undefined) throw new GenloomError('NOT_FOUND', `a transformer needs its ${companionFiles.tokenizer} too (${tokenizerSource})`);
  return buildTransformer(manifest, weights, source, charTokenizerFromText(files.tokenizer, tokenizerSource));
}

export const transformerBuilder: ModelBuilder<Gpt> = { family: 'transformer', requires: ['tokenizer'], build: buildFromTexts };
