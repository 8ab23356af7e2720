/**
 * Sample-quality metrics for image generators, computed on feature vectors (rows of a
 * [count × dim] matrix): the Fréchet distance between Gaussian fits, improved precision and recall
 * (Kynkäänniemi et al. 2019), conditional accuracy and class-coverage entropy.
 *
 * Our features come from the project's own classifier for each dataset, not from Inception-v3, so
 * the Fréchet distance here is named `fid_classifier`: comparable between models measured with the
 * same classifier, not with published Inception FIDs.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';

/** Feature vectors: `count` rows of `dim` numbers, row-major. */
export interface FeatureSet {
  count: number;
  dim: number;
  data: Float32Array;
}

export interface GaussianFit {
  mean: Float64Array;
  /** dim × dim, row-major, unbiased (divided by count − 1). */
  covariance: Float64Array;
  dim: number;
}

/**
 * The mean and unbiased covariance of feature vectors: the Gaussian the Fréchet distance compares.
 *
 * @example
 * const fit = fitGaussian({ count: 3, dim: 2, data: Float32Array.of(0, 0, 1, 0, 0, 1) }); // fit.mean: [⅓, ⅓]
 */
export function fitGaussian(features: FeatureSet): GaussianFit {
  const { count, dim, data } = features;
  if (count < 2) throw new GenloomError('BAD_ARGUMENT', 'a Gaussian fit needs at least 2 feature vectors');
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) centred[j] = data[i * dim + j]! - mean[j]!;
    for (let a = 0; a < dim; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      const row = a * dim;
      for (let b = a; b < dim; b++) covariance[row + b] += ca * centred[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const value = covariance[a * dim + b]! / (count - 1);
      covariance[a * dim + b] = value;
      covariance[b * dim + a] = value;
    }
  }
  return { mean, covariance, dim };
}

function toMatrix(values: Float64Array, dim: number): Matrix {
  return new Matrix(Array.from({ length: dim }, (_, i) => Array.from(values.subarray(i * dim, (i + 1) * dim))));
}

/** The symmetric PSD square root via an eigendecomposition (negative round-off clipped to 0). */
function symmetricSqrt(matrix: Matrix): Matrix {
  const decomposition = new EigenvalueDecomposition(matrix, { assumeSymmetric: true });
  const vectors = decomposition.eigenvectorMatrix;
  const roots = decomposition.realEigenvalues.map((value) => Math.sqrt(Math.max(0, value)));
  return vectors.mmul(Matrix.diag(roots)).mmul(vectors.transpose());
}

/**
 * Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2):
 *   ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2·Tr((Σ1 Σ2)^½)
 * Tr((Σ1 Σ2)^½) is computed as Σ √λ over the eigenvalues of the symmetric Σ1^½ Σ2 Σ1^½, which has
 * the same spectrum and avoids a non-symmetric matrix square root.
 *
 * @example
 * const fid = frechetDistance(fitGaussian(realFeatures), fitGaussian(generatedFeatures)); // 0: same fit
 */
export function frechetDistance(a: GaussianFit, b: GaussianFit): number {
  if (a.dim !== b.dim) throw new GenloomError('SHAPE_MISMATCH', `feature sizes differ: ${a.dim} and ${b.dim}`);
  const dim = a.dim;
  let meanTerm = 0;
  for (let j = 0; j < dim; j++) meanTerm += (a.mean[j]! - b.mean[j]!) ** 2;
  let traces = 0;
  for (let j = 0; j < dim; j++) traces += a.covariance[j * dim + j]! + b.covariance[j * dim + j]!;
  const rootA = symmetricSqrt(toMatrix(a.covariance, dim));
  const product = rootA.mmul(toMatrix(b.covariance, dim)).mmul(rootA);
  const symmetric = product.add(product.transpose()).div(2);
  const eigenvalues = new EigenvalueDecomposition(symmetric, { assumeSymmetric: true }).realEigenvalues;
  const traceOfRoot = eigenvalues.reduce((sum, value) => sum + Math.sqrt(Math.max(0, value)), 0);
  return Math.max(0, meanTerm + traces - 2 * traceOfRoot);
}

/** Squared Euclidean distances between every row of `a` and every row of `b`, chunked over `a`. */
function forEachDistanceRow(a: FeatureSet, b: FeatureSet, visit: (row: number, squared: Float32Array) => void): void {
  const chunk = Math.max(1, Math.floor(4_000_000 / Math.max(1, b.count)));
  const bTensor = tf.tensor2d(b.data, [b.count, b.dim]);
  const bNorms = tf.tidy(() => tf.sum(tf.square(bTensor), 1).reshape([1, b.count]));
  const bTransposed = tf.transpose(bTensor);
  try {
    for (let start = 0; start < a.count; start += chunk) {
      const rows = Math.min(chunk, a.count - start);
      const squared = tf.tidy(() => {
        const aChunk = tf.tensor2d(a.data.subarray(start * a.dim, (start + rows) * a.dim), [rows, a.dim]);
        const aNorms = tf.sum(tf.square(aChunk), 1).reshape([rows, 1]);
        return tf.relu(tf.add(tf.add(aNorms, bNorms), tf.mul(tf.matMul(aChunk, bTransposed), -2)));
      });
      const values = squared.dataSync() as Float32Array;
      squared.dispose();
      for (let r = 0; r < rows; r++) visit(start + r, values.subarray(r * b.count, (r + 1) * b.count));
    }
  } finally {
    tf.dispose([bTensor, bNorms, bTransposed]);
  }
}

/** Each row's squared distance to its k-th nearest neighbour in the same set (itself excluded). */
export function kthNeighbourRadii(features: FeatureSet, k: number): Float32Array {
  if (features.count <= k) throw new GenloomError('BAD_ARGUMENT', `precision/recall with k=${k} needs more than ${k} samples per set`);
  const radii = new Float32Array(features.count);
  const nearest = new Float32Array(k + 1);
  forEachDistanceRow(features, features, (row, squared) => {
    // The k+1 smallest distances, including the zero distance to itself.
    nearest.fill(Infinity);
    for (const value of squared) {
      if (value >= nearest[k]!) continue;
      let i = k;
      while (i > 0 && nearest[i - 1]! > value) {
        nearest[i] = nearest[i - 1]!;
        i--;
      }
      nearest[i] = value;
    }
    radii[row] = nearest[k]!;
  });
  return radii;
}

/** The share of `queries` that fall inside at least one k-NN ball of `support`. */
function coverage(support: FeatureSet, supportRadii: Float32Array, queries: FeatureSet): number {
  let inside = 0;
  forEachDistanceRow(queries, support, (_, squared) => {
    for (let j = 0; j < squared.length; j++) {
      if (squared[j]! <= supportRadii[j]!) {
        inside += 1;
        return;
      }
    }
  });
  return inside / queries.count;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): the real manifold is the union of balls
 * around real features reaching each one's k-th nearest real neighbour. Precision: the share of
 * generated samples inside it (are samples realistic?). Recall: the share of real samples inside the
 * generated manifold (is the data's variety covered?). k = 3 as in the paper.
 *
 * @example
 * const { precision, recall } = precisionRecall(realFeatures, generatedFeatures); // each in [0, 1]
 */
export function precisionRecall(real: FeatureSet, generated: FeatureSet, k = 3): { precision: number; recall: number } {
  const precision = coverage(real, kthNeighbourRadii(real, k), generated);
  const recall = coverage(generated, kthNeighbourRadii(generated, k), real);
  return { precision, recall };
}

/**
 * The share of samples the classifier assigns the label they were generated for.
 *
 * @example
 * conditionalAccuracy([7, 7, 1], [7, 7, 7]); // 0.666…
 */
export function conditionalAccuracy(predicted: ArrayLike<number>, requested: ArrayLike<number>): number {
  if (predicted.length !== requested.length || predicted.length === 0) throw new GenloomError('BAD_ARGUMENT', 'conditional accuracy needs one prediction per requested label');
  let hits = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === requested[i]) hits += 1;
  return hits / predicted.length;
}

/**
 * Entropy of the predicted-class histogram divided by log(classes): 1 when samples cover all
 * classes equally, 0 when every sample is one class (mode collapse).
 *
 * @example
 * classCoverageEntropy([0, 1, 2, 3], 4); // 1
 * classCoverageEntropy([3, 3, 3, 3], 4); // 0: mode collapse
 */
export function classCoverageEntropy(predicted: ArrayLike<number>, classes: number): number {
  if (classes < 2 || predicted.length === 0) throw new GenloomError('BAD_ARGUMENT', 'class coverage needs at least 2 classes and 1 prediction');
  const counts = new Float64Array(classes);
  for (let i = 0; i < predicted.length; i++) {
    const label = predicted[i]!;
    if (!(label >= 0 && label < classes)) throw new GenloomError('BAD_ARGUMENT', `prediction ${label} is outside 0..${classes - 1}`);
    counts[label] += 1;
  }
  let entropy = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / predicted.length;
    entropy -= p * Math.log(p);
  }
  return entropy / Math.log(classes);
}

/** The first `count` rows of a feature set (all of them when it has fewer), sharing its memory. */
export function firstRows(set: FeatureSet, count: number): FeatureSet {
  const n = Math.min(count, set.count);
  return { count: n, dim: set.dim, data: set.data.subarray(0, n * set.dim) };
}

/** A metric as reported: four decimals. */
export function roundMetric(value: number): number {
  return Number(value.toFixed(4));
}

/** Each value of a record rounded as reported. */
export function roundMetrics<T extends Record<string, number>>(record: T): T {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, roundMetric(value)])) as T;
}
