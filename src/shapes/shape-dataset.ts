/**
 * 3-D shape datasets as 0/1 voxel grids: the built-in procedural 'shapes' (seven labelled
 * classes), or the user's meshes: one .obj/.stl/.ply file, or a folder of them where subfolders
 * name the labels (as image folders do: `furniture/chair/*.obj` + `furniture/lamp/*.stl`; a single
 * subfolder is no labelling, so `data/chair/*.obj` trains an unconditional model of chairs).
 * Each mesh is voxelized solid at the requested resolution (see voxelize.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import type { VoxelGrid } from '../models/family.ts';
import { meshExtensions, readMesh } from './mesh.ts';
import { proceduralShape, shapeLabelNames } from './procedural.ts';
import { checkResolution, voxelize } from './voxelize.ts';

export const builtinShapeDataset = 'shapes';

export interface ShapeDataset {
  name: string;
  split: 'train' | 'test';
  count: number;
  resolution: number;
  /** count · r³ values, 0 or 1; shape n's voxel (x, y, z) at n·r³ + (x·r + y)·r + z. */
  voxels: Uint8Array;
  labels?: Int32Array;
  labelNames?: string[];
}

export interface ShapeDatasetOptions {
  split: 'train' | 'test';
  resolution: number;
  /** Procedural: how many shapes (default 2000 train, 300 test). Mesh folders: at most this many. */
  count?: number;
  /** Procedural shapes only; default 'shapes'. */
  seed?: number | string;
}

const defaultCounts = { train: 2000, test: 300 } as const;
/** Voxels held at once, 1 byte each: 1 GiB, so a large --count at a high resolution fails early. */
const maxTotalVoxels = 2 ** 30;

/**
 * Loads 'shapes' (procedural) or a mesh file or folder as voxel grids. Throws a one-line error for
 * a bad resolution (before allocating), a path that does not exist, or a folder with no meshes.
 * @example
 * const data = loadShapeDataset('shapes', { split: 'train', resolution: 32, count: 500 });
 * const batch = gatherVoxels(data, [0, 1, 2, 3]); // [4, 32, 32, 32, 1]
 */
export function loadShapeDataset(spec: string, options: ShapeDatasetOptions): ShapeDataset {
  checkResolution(options.resolution);
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 1)) {
    throw new GenloomError('BAD_ARGUMENT', `--count must be a positive integer, got ${options.count}`);
  }
  if (spec === builtinShapeDataset) return proceduralDataset(options);
  if (!existsSync(spec)) {
    throw new GenloomError('NOT_FOUND', `shape dataset '${spec}' is neither '${builtinShapeDataset}' (the built-in procedural shapes) nor an existing mesh file or folder of ${meshExtensions.join('/')} files`);
  }
  return statSync(spec).isDirectory() ? meshFolderDataset(spec, options) : meshFileDataset(spec, options);
}

function allocate(count: number, resolution: number): Uint8Array {
  const total = count * resolution ** 3;
  if (total > maxTotalVoxels) {
    throw new GenloomError('BAD_ARGUMENT', `${count} shapes at --resolution ${resolution} need ${Math.round(total / 2 ** 20)} MiB of voxels; the most is ${maxTotalVoxels / 2 ** 20} MiB: lower --count or --resolution`);
  }
  return new Uint8Array(total);
}

function store(voxels: Uint8Array, index: number, grid: VoxelGrid): void {
  const size = grid.values.length;
  for (let i = 0; i < size; i++) voxels[index * size + i] = grid.values[i] >= 0.5 ? 1 : 0;
}

function proceduralDataset(options: ShapeDatasetOptions): ShapeDataset {
  const { split, resolution } = options;
  const count = options.count ?? defaultCounts[split];
  const voxels = allocate(count, resolution);
  const labels = new Int32Array(count);
  const root = fromSeed(options.seed ?? builtinShapeDataset);
  for (let i = 0; i < count; i++) {
    // Labels cycle so every class is equally common in any prefix of the dataset.
    labels[i] = i % shapeLabelNames.length;
    store(voxels, i, proceduralShape(labels[i], root.fork(split, i), resolution));
  }
  return { name: builtinShapeDataset, split, count, resolution, voxels, labels, labelNames: [...shapeLabelNames] };
}

function meshFileDataset(path: string, options: ShapeDatasetOptions): ShapeDataset {
  const voxels = allocate(1, options.resolution);
  store(voxels, 0, voxelize(readMesh(path), options.resolution, path));
  return { name: path, split: options.split, count: 1, resolution: options.resolution, voxels };
}

/** Mesh files under `dir`, recursively and sorted; other files (.mtl, textures, notes) are skipped. */
function listMeshFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if ((meshExtensions as readonly string[]).includes(extname(entry.name).toLowerCase())) out.push(path);
    }
  };
  walk(dir);
  return out;
}

function meshFolderDataset(dir: string, options: ShapeDatasetOptions): ShapeDataset {
  const files = listMeshFiles(dir).slice(0, options.count);
  if (files.length === 0) throw new GenloomError('EMPTY_DATASET', `dataset folder ${dir} has no mesh files (${meshExtensions.join(', ')})`);
  const voxels = allocate(files.length, options.resolution);
  files.forEach((file, i) => store(voxels, i, voxelize(readMesh(file), options.resolution, file)));
  const dataset: ShapeDataset = { name: dir, split: options.split, count: files.length, resolution: options.resolution, voxels };
  const labelOf = files.map((file) => {
    const parts = relative(dir, file).split(sep);
    return parts.length > 1 ? parts[0] : null;
  });
  // Labels only when every mesh sits in a subfolder: a mix of labelled and loose files has no
  // consistent labelling, so it is treated as unlabelled. So is a single subfolder (`data/chairs/`):
  // one label tells nothing apart, and a conditional model of one class has nothing to condition on.
  const labelNames = [...new Set(labelOf.filter((label) => label !== null))].sort();
  if (labelOf.every((label) => label !== null) && labelNames.length >= 2) {
    dataset.labelNames = labelNames;
    dataset.labels = Int32Array.from(labelOf, (label) => labelNames.indexOf(label!));
  }
  return dataset;
}

function checkIndex(data: ShapeDataset, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= data.count) {
    throw new GenloomError('BAD_ARGUMENT', `shape index ${index} is out of range: ${data.name} holds ${data.count} shapes`);
  }
}

/**
 * The shapes at `indices` as one float32 tensor [B, r, r, r, 1] of 0/1 values (the caller owns it).
 * @example
 * const batch = gatherVoxels(data, order.subarray(0, 16));
 */
export function gatherVoxels(data: ShapeDataset, indices: ArrayLike<number>): tf.Tensor5D {
  const r = data.resolution;
  const size = r ** 3;
  const values = new Float32Array(indices.length * size);
  for (let b = 0; b < indices.length; b++) {
    const index = indices[b];
    checkIndex(data, index);
    const source = data.voxels.subarray(index * size, (index + 1) * size);
    for (let i = 0; i < size; i++) values[b * size + i] = source[i];
  }
  return tf.tensor5d(values, [indices.length, r, r, r, 1]);
}

/** Shape `index` as a VoxelGrid (a copy, float 0/1), e.g. for marchingCubes or voxelIou. */
export function gridOf(data: ShapeDataset, index: number): VoxelGrid {
  checkIndex(data, index);
  const size = data.resolution ** 3;
  return { resolution: data.resolution, values: Float32Array.from(data.voxels.subarray(index * size, (index + 1) * size)) };
}
