/**
 * Pictures of a latent space: a 2-D map of a dataset's latents, and one attribute vector per label.
 * The map is a PCA projection rather than UMAP so that a point clicked on it maps back to a latent
 * exactly (mean + x·axis₁ + y·axis₂).
 */
import { PCA } from 'ml-pca';
import { gatherImages, indicesWithLabel, type ImageDataset } from '../data/index.ts';
import type { LatentModel } from '../models/family.ts';
import { attributeVector, encodeMeans } from './latent.ts';
import { encodeDataset } from './dataset-latents.ts';

export interface LatentMap {
  points: { x: number; y: number; label?: string }[];
  /** The projection: a point (x, y) is the latent mean + x·axes[0] + y·axes[1]. */
  basis: { mean: number[]; axes: [number[], number[]] };
  extent: { xMin: number; xMax: number; yMin: number; yMax: number };
}

/** The dataset's posterior means projected on their first two principal axes (or the latent's own two axes when it has two). */
export function latentMap(latent: LatentModel, dataset: ImageDataset): LatentMap {
  const rows = encodeDataset(latent, dataset);
  const dims = latent.latentDim;
  const mean = Array.from({ length: dims }, (_, d) => rows.reduce((sum, row) => sum + row[d]!, 0) / rows.length);
  let axes: [number[], number[]];
  if (dims <= 2) {
    axes = [Array.from({ length: dims }, (_, d) => (d === 0 ? 1 : 0)), Array.from({ length: dims }, (_, d) => (d === 1 ? 1 : 0))];
  } else {
    const pca = new PCA(rows.map((row) => Array.from(row)), { center: true, scale: false });
    const loadings = pca.getLoadings().to2DArray();
    axes = [loadings[0]!, loadings[1]!];
  }
  const points = rows.map((row, i) => {
    let x = 0;
    let y = 0;
    for (let d = 0; d < dims; d++) {
      x += (row[d]! - mean[d]!) * axes[0][d]!;
      y += (row[d]! - mean[d]!) * axes[1][d]!;
    }
    const label = dataset.labels ? dataset.labelNames?.[dataset.labels[i]!] ?? String(dataset.labels[i]) : undefined;
    return { x, y, ...(label !== undefined ? { label } : {}) };
  });
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  return { points, basis: { mean, axes }, extent: { xMin: Math.min(...xs), xMax: Math.max(...xs), yMin: Math.min(...ys), yMax: Math.max(...ys) } };
}

/**
 * One attribute vector per label: the mean latent of up to `perLabel` of that label's images minus
 * that of as many others. `beforeLabel` is called before each (it may throw to cancel).
 */
export function labelAttributeVectors(latent: LatentModel, dataset: ImageDataset, perLabel: number, beforeLabel?: (label: number) => void): { name: string; vector: Float32Array }[] {
  const encodeIndices = (indices: number[]) => {
    const images = gatherImages(dataset, indices);
    const rows = encodeMeans(latent, images);
    images.dispose();
    return rows;
  };
  return (dataset.labelNames ?? []).map((name, label) => {
    beforeLabel?.(label);
    const positive = encodeIndices(indicesWithLabel(dataset, label, true).slice(0, perLabel));
    const negative = encodeIndices(indicesWithLabel(dataset, label, false).slice(0, perLabel));
    return { name, vector: attributeVector(positive, negative) };
  });
}
