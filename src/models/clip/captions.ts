/**
 * Captions as the text encoder reads them: the tokenizer's ids, then the end token (the
 * vocabulary's last id), cut to the model's context, padded with the end token to the batch's
 * longest caption.
 */
import * as tf from '../../core/tf.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';

/** One caption's ids with its end token, at most `context` long (a long caption loses its tail, never its end token). */
export function captionIds(tokenizer: Tokenizer, caption: string, context: number, endToken: number): Int32Array {
  const ids = tokenizer.encode(caption);
  const kept = Math.min(ids.length, context - 1);
  const out = new Int32Array(kept + 1);
  out.set(ids.subarray(0, kept));
  out[kept] = endToken;
  return out;
}

/** Captions (as captionIds) → tokens [B, T] padded with the end token, and each one's end position [B]. */
export function captionTensors(captions: Int32Array[], endToken: number): { tokens: tf.Tensor2D; ends: tf.Tensor1D } {
  const length = Math.max(...captions.map((ids) => ids.length));
  const tokens = new Int32Array(captions.length * length).fill(endToken);
  captions.forEach((ids, b) => tokens.set(ids, b * length));
  return {
    tokens: tf.tensor2d(tokens, [captions.length, length], 'int32'),
    ends: tf.tensor1d(Int32Array.from(captions, (ids) => ids.length - 1), 'int32'),
  };
}
