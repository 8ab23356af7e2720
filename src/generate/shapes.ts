/**
 * 3-D shapes from a shape model: voxel grids, made meshes by marching cubes, and each mesh as the
 * files people use (OBJ, PLY) with a rendered preview.
 */
import { GenloomError } from '../core/errors.ts';
import type { LoadedModel, VoxelGrid } from '../models/family.ts';
import { keepLargestComponent } from '../shapes/components.ts';
import { marchingCubes } from '../shapes/marching-cubes.ts';
import type { Mesh } from '../shapes/mesh.ts';
import { shapeLabels, type Condition } from './conditions.ts';
import { checkGenerationFields } from './fields.ts';
import { withSignal, type GenerationOptions } from './images.ts';
import { generationRandom } from './seeds.ts';

export interface ShapeRequest extends Condition {
  seed: number;
  n: number;
  /** Diffusion generators: denoising steps. */
  steps?: number;
}

export interface GeneratedShapes {
  /** Each shape's voxels, its largest connected piece only (components.ts). */
  grids: VoxelGrid[];
  /** The marching-cubes surface of each grid at 0.5, in the unit cube. */
  meshes: Mesh[];
  /** Per shape, the filled voxels that floated apart from its largest piece and were cleared. */
  fragmentVoxelsRemoved: number[];
  labels?: Int32Array;
  labelNames?: string[];
}

/**
 * `n` shapes for `seed`; `label` (or "all": each label in turn) or `prompt` for conditional models.
 *
 * @example
 * const { meshes } = generateShapes(loadModel('models/shape-voxels'), { seed: 4, n: 8, label: 'chair' });
 * writeFileSync('chair.obj', encodeObj(meshes[0]));
 */
export function generateShapes(model: LoadedModel, request: ShapeRequest, options: GenerationOptions = {}): GeneratedShapes {
  const name = options.name ?? 'the model';
  checkGenerationFields(model, name, request);
  const shape = model.shape;
  if (!shape) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not make shapes`);
  const labels = shapeLabels(model, shape, name, request, request.n);
  const hooks = withSignal(options);
  const cleaned = shape.generate({ count: request.n, labels, random: generationRandom(request.seed, 'sample'), steps: request.steps, onProgress: hooks.onProgress }).map((grid) => keepLargestComponent(grid));
  const grids = cleaned.map((result) => result.grid);
  return {
    grids,
    fragmentVoxelsRemoved: cleaned.map((result) => result.removedVoxels),
    meshes: grids.map((grid) => marchingCubes(grid)),
    ...(labels ? { labels, labelNames: Array.from(labels, (label) => shape.labelNames?.[label] ?? String(label)) } : {}),
  };
}
