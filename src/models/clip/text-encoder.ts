/**
 * CLIP's text tower on its own: the GPT's causal blocks over a caption's tokens, and the
 * projection of the end token's features into the shared space. The clip model trains it; a
 * text-to-image diffusion model carries a frozen copy (its parameters keep the clip model's names,
 * "text.encoder.*" and "text.project.*") and attends to its per-token states.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, dense } from '../../layers/dense-conv.ts';
import type { TextContext } from '../../layers/cross-attention.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { transformerDefaults } from '../transformer/config.ts';
import { Gpt } from '../transformer/gpt.ts';
import { captionIds, captionTensors } from './captions.ts';
import type { ClipConfig } from './config.ts';

export type TextTowerConfig = Pick<ClipConfig, 'vocabularySize' | 'context' | 'textLayers' | 'textHeads' | 'textDim' | 'embedDim'>;

export class ClipTextEncoder {
  readonly params: Params;
  private readonly gpt: Gpt;

  /** `builder` receives the projection (so a clip model's other parameters keep their draws); the GPT draws from `random`. */
  constructor(readonly config: TextTowerConfig, builder: ParamBuilder, random: Random) {
    addDense(builder, 'text.project', config.textDim, config.embedDim, 1);
    // GPT-2's block shape (transformerDefaults: GELU MLP of 4× width, pre-LayerNorm, learned
    // positions, biases), at the text encoder's own size.
    this.gpt = new Gpt({ ...transformerDefaults, vocabularySize: config.vocabularySize, context: config.context, layers: config.textLayers, heads: config.textHeads, dim: config.textDim }, random);
    this.params = { 'text.project.weight': builder.params['text.project.weight']!, 'text.project.bias': builder.params['text.project.bias']! };
    for (const [name, variable] of Object.entries(this.gpt.params)) this.params[`text.encoder.${name}`] = variable;
  }

  /** A text encoder with parameters of its own (to be assigned from a clip model's weights). */
  static standalone(config: TextTowerConfig, random: Random): ClipTextEncoder {
    return new ClipTextEncoder(config, new ParamBuilder(random.fork('projection')), random.fork('text'));
  }

  /** The token id that ends (and pads) every caption. */
  get endToken(): number {
    return this.config.vocabularySize - 1;
  }

  /** Tokens [B, T] → the final LayerNorm's states [B·T, textDim]. */
  states(tokens: tf.Tensor2D): tf.Tensor2D {
    return this.gpt.hiddenStates(tokens);
  }

  /** The end token's states [B·T, D] → unit vectors [B, embedDim] in the shared space. */
  pool(states: tf.Tensor2D, length: number, ends: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const rows = tf.add(tf.range(0, ends.shape[0] * length, length, 'int32'), ends.toInt()); // b·T + end_b
      return unit(dense(this.params, 'text.project', tf.gather(states, rows) as tf.Tensor2D));
    });
  }

  /** Captions as ids [B, T] and their end positions [B] → unit vectors [B, embedDim]. */
  embed(tokens: tf.Tensor2D, ends: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => this.pool(this.states(tokens), tokens.shape[1], ends));
  }

  /**
   * Texts → what a text-conditioned U-Net reads: per-token states [B, T, textDim] (T: the longest
   * text, at most the context), which tokens are the text's (its end token included) and which are
   * padding, and the pooled embedding. The empty text is the end token alone: the "no caption" of
   * classifier-free guidance.
   */
  context(tokenizer: Tokenizer, texts: string[]): TextContext {
    const ids = texts.map((text) => captionIds(tokenizer, text, this.config.context, this.endToken));
    return tf.tidy(() => {
      const { tokens, ends } = captionTensors(ids, this.endToken);
      const [batch, length] = tokens.shape;
      const states = this.states(tokens);
      const mask = tf.tensor2d(Float32Array.from({ length: batch * length }, (_, i) => (i % length <= ids[Math.floor(i / length)]!.length - 1 ? 1 : 0)), [batch, length]);
      return { states: states.reshape([batch, length, this.config.textDim]) as tf.Tensor3D, mask, pooled: this.pool(states, length, ends) };
    });
  }

  /** How many tokens a text takes (its end token included) before it is cut to the context. */
  tokenCount(tokenizer: Tokenizer, text: string): number {
    return tokenizer.encode(text).length + 1;
  }

  dispose(): void {
    // The GPT frees its own parameters and the attention masks it caches (CPU and wasm paths).
    this.gpt.dispose();
    disposeParams({ 'text.project.weight': this.params['text.project.weight']!, 'text.project.bias': this.params['text.project.bias']! });
  }
}

export function unit(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.add(tf.norm(x, 'euclidean', 1, true), 1e-8)) as tf.Tensor2D;
}
