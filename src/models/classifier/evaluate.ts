/**
 * Running a classifier over a whole dataset in batches.
 */
import * as tf from '../../core/tf.ts';
import { gatherImages, type ImageDataset } from '../../data/index.ts';
import type { Classifier } from './classifier.ts';

/** Predicted labels for every image, and the mean cross-entropy where the dataset has labels. */
export function classifyDataset(classifier: Classifier, data: ImageDataset, batchSize = 500): { predictions: Int32Array; meanLoss: number } {
  const predictions = new Int32Array(data.count);
  let lossSum = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    tf.tidy(() => {
      const logits = classifier.logits(gatherImages(data, indices));
      predictions.set(tf.argMax(logits, 1).dataSync() as Int32Array, start);
      if (data.labels) {
        const labels = tf.tensor1d(indices.map((i) => data.labels![i]!), 'int32');
        lossSum -= tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, logits.shape[1]))).dataSync()[0]!;
      }
    });
  }
  return { predictions, meanLoss: lossSum / data.count };
}
