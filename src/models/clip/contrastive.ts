/**
 * A trained Clip and its tokenizer as the family-neutral ContrastiveModel: texts and images in,
 * unit vectors out, in batches small enough to keep memory flat.
 */
import * as tf from '../../core/tf.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import type { ContrastiveModel } from '../family.ts';
import { captionIds, captionTensors } from './captions.ts';
import type { Clip } from './clip.ts';

const embedBatch = 256;

export function contrastiveModelOf(clip: Clip, tokenizer: Tokenizer): ContrastiveModel {
  const { config } = clip;
  return {
    embedDim: config.embedDim,
    imageShape: [config.imageHeight, config.imageWidth, config.channels],
    logitScale: tf.tidy(() => clip.logitScale().dataSync()[0]!),
    embedTexts(texts) {
      const parts: tf.Tensor2D[] = [];
      for (let start = 0; start < texts.length; start += embedBatch) {
        const ids = texts.slice(start, start + embedBatch).map((text) => captionIds(tokenizer, text, config.context, clip.endToken));
        const { tokens, ends } = captionTensors(ids, clip.endToken);
        parts.push(clip.encodeTexts(tokens, ends));
        tf.dispose([tokens, ends]);
      }
      return concatenated(parts, config.embedDim);
    },
    embedImages(images) {
      const parts: tf.Tensor2D[] = [];
      for (let start = 0; start < images.shape[0]; start += embedBatch) {
        parts.push(tf.tidy(() => clip.encodeImages(tf.slice(images, [start, 0, 0, 0], [Math.min(embedBatch, images.shape[0] - start), -1, -1, -1]))));
      }
      return concatenated(parts, config.embedDim);
    },
  };
}

function concatenated(parts: tf.Tensor2D[], dim: number): tf.Tensor2D {
  if (parts.length === 0) return tf.zeros([0, dim]);
  if (parts.length === 1) return parts[0]!;
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}
