/**
 * 2-D projections of latents for maps: PCA (fast, linear, deterministic) from ml-pca, or UMAP
 * (McInnes et al. 2018; nonlinear, keeps clusters apart) from umap-js with our seeded randomness.
 */
import { PCA } from 'ml-pca';
import { UMAP } from 'umap-js';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';

export type ProjectionMethod = 'pca' | 'umap';
export const projectionMethods: readonly ProjectionMethod[] = ['pca', 'umap'];

/**
 * Projects rows of latents to 2-D points. A 2-D latent is returned as it is.
 *
 * @example
 * const points = project2d(encodeMeans(latent, images), 'umap', 1); // [[x, y], …], one per image
 */
export function project2d(rows: Float32Array[], method: ProjectionMethod, seed: number): [number, number][] {
  if (rows.length === 0) throw new GenloomError('EMPTY_DATASET', 'nothing to project: no latents');
  const dims = rows[0]!.length;
  if (dims === 2) return rows.map((row) => [row[0]!, row[1]!]);
  if (dims === 1) return rows.map((row) => [row[0]!, 0]);
  const matrix = rows.map((row) => Array.from(row));
  if (method === 'pca') {
    const pca = new PCA(matrix, { center: true, scale: false });
    return pca.predict(matrix, { nComponents: 2 }).to2DArray().map((point) => [point[0]!, point[1]!]);
  }
  if (method === 'umap') {
    const random = fromSeed(seed).fork('umap');
    const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, rows.length - 1), random: () => random.uniform() });
    return umap.fit(matrix).map((point) => [point[0]!, point[1]!]);
  }
  throw new GenloomError('BAD_ARGUMENT', `unknown projection "${method as string}": choose ${projectionMethods.join(' or ')}`);
}
