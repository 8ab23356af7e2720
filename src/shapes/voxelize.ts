/**
 * Meshes to solid voxel grids.
 *
 * Method, in two steps:
 * 1. Surface voxelization: each triangle is sampled on a barycentric lattice whose step is at most
 *    half a voxel along every edge, and every voxel a sample falls in is marked, so every voxel
 *    the triangle passes through is marked.
 * 2. Flood fill: the empty voxels reachable from the grid's border through 6-connected empty
 *    voxels are outside; every voxel not reached (the surface and what it encloses) is inside.
 *
 * A watertight mesh therefore comes out solid, and so does a mesh whose holes are smaller than a
 * voxel (the marked surface closes them). A mesh with larger holes lets the fill leak in and comes
 * out as a shell one or two voxels thick.
 *
 * Normalisation: the mesh's bounding box is centred in the grid and its longest side scaled to
 * resolution − 2 voxels, leaving a one-voxel empty margin on every side.
 */
import { GenloomError } from '../core/errors.ts';
import type { VoxelGrid } from '../models/family.ts';
import type { Mesh } from './mesh.ts';

export const minResolution = 8;
export const maxResolution = 128;

function formatBytes(bytes: number): string {
  const mebibytes = bytes / 2 ** 20;
  return mebibytes >= 1024 ? `${Math.round(mebibytes / 1024)} GiB` : `${Math.round(mebibytes)} MiB`;
}

/**
 * Throws BAD_ARGUMENT unless `resolution` is an integer in 8..128. Past the maximum the message
 * says how much memory one grid would take. It allocates nothing, so call it before allocating.
 * @example
 * checkResolution(32); // ok
 * checkResolution(512); // throws: --resolution 512 needs 512³ = 134M voxels (512 MiB as float32) per shape; the most is 128
 */
export function checkResolution(resolution: number): void {
  if (!Number.isInteger(resolution) || resolution < minResolution) {
    throw new GenloomError('BAD_ARGUMENT', `--resolution must be an integer from ${minResolution} to ${maxResolution}, got ${resolution}`);
  }
  if (resolution > maxResolution) {
    const voxels = resolution ** 3;
    throw new GenloomError(
      'BAD_ARGUMENT',
      `--resolution ${resolution} needs ${resolution}³ = ${Math.round(voxels / 1e6)}M voxels (${formatBytes(voxels * 4)} as float32) per shape; the most is ${maxResolution}`,
    );
  }
}

/**
 * A solid voxel grid of `mesh` (values 0 or 1), by surface marking and a flood fill from the
 * border (see the file's header).
 * @example
 * const grid = voxelize(readMesh('chair.obj'), 32); // grid.values.length === 32 ** 3
 */
export function voxelize(mesh: Mesh, resolution: number): VoxelGrid {
  checkResolution(resolution);
  const r = resolution;
  const surface = new Uint8Array(r * r * r);
  const { positions, faces } = mesh;
  if (faces.length > 0) {
    const { centre, longest } = boundingBox(mesh);
    // Mesh point p → continuous grid coordinate g; voxel i covers [i, i + 1).
    // Scaled a hair under r − 2 so that faces lying exactly on the box's sides (floor(r − 1) would
    // be the margin voxel) land in voxels 1..r − 2, keeping the margin empty.
    const scale = longest > 0 ? ((r - 2) * (1 - 1e-6)) / longest : 1;
    const toGrid = (vertex: number, axis: number) => (positions[3 * vertex + axis] - centre[axis]) * scale + r / 2;
    const a = [0, 0, 0];
    const b = [0, 0, 0];
    const c = [0, 0, 0];
    for (let f = 0; f < faces.length; f += 3) {
      for (let axis = 0; axis < 3; axis++) {
        a[axis] = toGrid(faces[f], axis);
        b[axis] = toGrid(faces[f + 1], axis);
        c[axis] = toGrid(faces[f + 2], axis);
      }
      markTriangle(surface, r, a, b, c);
    }
  }
  const outside = floodFillFromBorder(surface, r);
  const values = new Float32Array(r * r * r);
  for (let i = 0; i < values.length; i++) values[i] = outside[i] ? 0 : 1;
  return { resolution: r, values };
}

function boundingBox(mesh: Mesh): { centre: number[]; longest: number } {
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  const { positions, faces } = mesh;
  // Only vertices used by a face count: stray unused vertices must not shrink the shape.
  for (let f = 0; f < faces.length; f++) {
    for (let axis = 0; axis < 3; axis++) {
      const value = positions[3 * faces[f] + axis];
      if (value < low[axis]) low[axis] = value;
      if (value > high[axis]) high[axis] = value;
    }
  }
  const centre = low.map((value, axis) => (value + high[axis]) / 2);
  const longest = Math.max(high[0] - low[0], high[1] - low[1], high[2] - low[2]);
  return { centre, longest };
}

/**
 * Marks the voxels under a barycentric lattice on triangle abc. The step is a third of a voxel
 * (within the half-voxel bound) so that grazing crossings near voxel corners are not missed, which
 * would let the flood fill leak through a closed surface.
 */
function markTriangle(surface: Uint8Array, r: number, a: number[], b: number[], c: number[]): void {
  const length = (p: number[], q: number[]) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
  const steps = Math.max(1, Math.ceil(3 * Math.max(length(a, b), length(b, c), length(c, a))));
  for (let i = 0; i <= steps; i++) {
    for (let j = 0; i + j <= steps; j++) {
      const u = i / steps;
      const v = j / steps;
      const x = Math.floor(a[0] + (b[0] - a[0]) * u + (c[0] - a[0]) * v);
      const y = Math.floor(a[1] + (b[1] - a[1]) * u + (c[1] - a[1]) * v);
      const z = Math.floor(a[2] + (b[2] - a[2]) * u + (c[2] - a[2]) * v);
      // Clamp: a vertex exactly on the far face of the box lands on index r.
      const xi = Math.min(r - 1, Math.max(0, x));
      const yi = Math.min(r - 1, Math.max(0, y));
      const zi = Math.min(r - 1, Math.max(0, z));
      surface[(xi * r + yi) * r + zi] = 1;
    }
  }
}

/** 1 for every empty voxel 6-connected to the border through empty voxels (breadth-first). */
function floodFillFromBorder(surface: Uint8Array, r: number): Uint8Array {
  const outside = new Uint8Array(r * r * r);
  const queue = new Int32Array(r * r * r);
  let head = 0;
  let tail = 0;
  const visit = (index: number) => {
    if (!surface[index] && !outside[index]) {
      outside[index] = 1;
      queue[tail++] = index;
    }
  };
  for (let x = 0; x < r; x++) {
    for (let y = 0; y < r; y++) {
      for (let z = 0; z < r; z++) {
        if (x === 0 || y === 0 || z === 0 || x === r - 1 || y === r - 1 || z === r - 1) visit((x * r + y) * r + z);
      }
    }
  }
  const strideX = r * r;
  while (head < tail) {
    const index = queue[head++];
    const x = Math.floor(index / strideX);
    const y = Math.floor(index / r) % r;
    const z = index % r;
    if (x > 0) visit(index - strideX);
    if (x < r - 1) visit(index + strideX);
    if (y > 0) visit(index - r);
    if (y < r - 1) visit(index + r);
    if (z > 0) visit(index - 1);
    if (z < r - 1) visit(index + 1);
  }
  return outside;
}

/**
 * Intersection over union of the voxels at or above `threshold` in two grids of the same
 * resolution; 1 when both are empty.
 * @example
 * voxelIou(voxelize(marchingCubes(grid), grid.resolution), grid); // ≈ 1 for a faithful round trip
 */
export function voxelIou(a: VoxelGrid, b: VoxelGrid, threshold = 0.5): number {
  if (a.resolution !== b.resolution || a.values.length !== b.values.length) {
    throw new GenloomError('SHAPE_MISMATCH', `voxelIou: grids of resolution ${a.resolution} and ${b.resolution} cannot be compared; voxelize both at one resolution`);
  }
  let intersection = 0;
  let union = 0;
  for (let i = 0; i < a.values.length; i++) {
    const inA = a.values[i] >= threshold;
    const inB = b.values[i] >= threshold;
    if (inA && inB) intersection++;
    if (inA || inB) union++;
  }
  return union === 0 ? 1 : intersection / union;
}
