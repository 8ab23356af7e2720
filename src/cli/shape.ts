/**
 * `sample` and `interpolate` for 3-D shape models: voxel grids become meshes by marching cubes,
 * written as OBJ and PLY, with rendered PNG previews.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { makeDirectories } from '../io/atomic.ts';
import { writeGif } from '../io/gif.ts';
import { imageStrip, writePng } from '../io/image.ts';
import { interpolate, type InterpolationMethod } from '../latent/latent.ts';
import type { LoadedModel, ShapeModel, VoxelGrid } from '../models/family.ts';
import { keepLargestComponent } from '../shapes/components.ts';
import { marchingCubes } from '../shapes/marching-cubes.ts';
import { readMesh, writeMeshFiles } from '../shapes/mesh.ts';
import { renderMesh, renderMeshes } from '../shapes/render.ts';
import { voxelize } from '../shapes/voxelize.ts';
import { LazyProgress } from '../train/progress.ts';
import { generateShapes, latentsForSeed, resolveModelLabel, type ShapeRequest } from '../generate/index.ts';

/** Generates shapes and writes shape-000.obj/.ply, … and preview.png (all of them rendered) into `out`. */
export function sampleShapes(model: LoadedModel, dir: string, request: ShapeRequest, out: string, quiet: boolean): string {
  if (/\.(obj|ply|png|stl)$/i.test(out)) throw new GenloomError('BAD_ARGUMENT', `for shape models --out is a folder (each shape is an .obj and a .ply, with preview.png); got ${out}`);
  const progress = new LazyProgress('shapes', quiet);
  const { meshes, labelNames } = generateShapes(model, request, { name: dir, onProgress: progress.update });
  progress.stop();
  makeDirectories(out);
  for (const name of readdirSync(out)) if (/^shape-\d{3,}\.(obj|ply)$/.test(name)) unlinkSync(join(out, name));
  meshes.forEach((mesh, i) => writeMeshFiles(join(out, `shape-${String(i).padStart(3, '0')}`), mesh));
  writePng(join(out, 'preview.png'), renderMeshes(meshes, { size: 160 }));
  const empty = meshes.filter((mesh) => mesh.faces.length === 0).length;
  const named = labelNames ? ` (${[...new Set(labelNames)].join(', ')})` : '';
  return `wrote ${meshes.length} shapes${named} to ${out}/shape-000.obj (+ .ply) … and ${out}/preview.png${empty ? `; ${empty} came out empty (no voxel above 0.5)` : ''}`;
}

export interface ShapeInterpolateFlags {
  from?: string;
  to?: string;
  seedFrom?: number;
  seedTo?: number;
  frames: number;
  method: InterpolationMethod;
  out: string;
  delay: number;
  label?: string;
}

/**
 * A morph between two shapes through a VAE's latent space: meshes (OBJ/STL/PLY, voxelized at the
 * model's resolution) or seeds at the ends; a GIF of the rendered frames, turning slowly so the
 * shape reads as 3-D, and a PNG strip.
 */
export function interpolateShapes(model: LoadedModel, shape: ShapeModel, dir: string, flags: ShapeInterpolateFlags): string {
  if (!shape.encode || !shape.decode || !shape.latentDim) {
    throw new GenloomError('UNSUPPORTED', `${dir} is a ${shape.generator} shape model, which has no encoder to interpolate through: train one with --family vae`);
  }
  const label = flags.label !== undefined ? resolveModelLabel(model, dir, flags.label) : undefined;
  const labels = (count: number) => (label === undefined ? undefined : new Int32Array(count).fill(label));
  const endpoint = (path: string | undefined, seed: number | undefined, which: string): { latent: Float32Array; grid?: VoxelGrid } => {
    if (path !== undefined) {
      const grid = voxelize(readMesh(path), shape.resolution, path);
      return { latent: shape.encode!([grid], labels(1))[0]!, grid };
    }
    if (seed !== undefined) return { latent: latentsForSeed(seed, 1, shape.latentDim!)[0]! };
    throw new GenloomError('BAD_ARGUMENT', `give --${which} <mesh.obj|.stl|.ply> or --seed-${which} <n>`);
  };
  if (!/\.gif$/i.test(flags.out)) throw new GenloomError('BAD_ARGUMENT', `--out names the GIF of the morph (got ${flags.out})`);
  if (shape.conditional && label === undefined) {
    throw new GenloomError('BAD_ARGUMENT', `${dir} is conditional: say which label the morph keeps with --label (${(shape.labelNames ?? []).join(', ')})`);
  }
  const start = endpoint(flags.from, flags.seedFrom, 'from');
  const end = endpoint(flags.to, flags.seedTo, 'to');
  const rows = interpolate(start.latent, end.latent, flags.frames, flags.method);
  const grids = shape.decode(rows, labels(rows.length));
  const frames = grids.map((grid, i) => renderMesh(marchingCubes(keepLargestComponent(grid).grid), { size: 192, yaw: 0.6 + (i / Math.max(1, rows.length - 1)) * Math.PI * 0.5 }));
  writeGif(flags.out, frames, { delayMs: flags.delay });
  const stripPath = flags.out.replace(/\.gif$/i, '') + '.png';
  writePng(stripPath, imageStrip(frames));
  return `wrote ${flags.frames} frames to ${flags.out} and ${stripPath}`;
}
