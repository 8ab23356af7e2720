/**
 * Meshes to solid voxel grids.
 *
 * Method, in two steps:
 * 1. Surface voxelization: each triangle is sampled in rows parallel to its longest edge, a third
 *    of a voxel apart, each row at most a third of a voxel between samples, and its other two edges
 *    as finely; every voxel a sample falls in is marked, so every voxel the triangle passes through
 *    is marked. The samples are about 9 per voxel² of area (plus the perimeter's), so a long thin
 *    sliver costs its area, not the square of its length.
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
export function voxelize(mesh: Mesh, resolution: number, name = 'the mesh'): VoxelGrid {
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
    checkSurfaceArea(mesh, r, scale, name);
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
 * The most surface a mesh may have, in multiples of the grid's own cube surface (6 r² voxel²). A
 * closed shape filling the grid has about 3 (a sphere) to 1 (the cube), a crumpled scan a few dozen;
 * an assembly with many inner parts a few dozen; a file of 100,000 triangles each spanning the grid
 * has over 10,000 and would take minutes to mark. 200 is ~10,800 r² samples: about 1.5 s at 128³.
 */
export const maxSurfaceMultiple = 200;

/** Refuses a mesh whose triangles, scaled to the grid, cover more than maxSurfaceMultiple cube surfaces. */
function checkSurfaceArea(mesh: Mesh, r: number, scale: number, name: string): void {
  const { positions, faces } = mesh;
  let area = 0;
  for (let f = 0; f < faces.length; f += 3) {
    const a = 3 * faces[f];
    const b = 3 * faces[f + 1];
    const c = 3 * faces[f + 2];
    const ux = positions[b] - positions[a];
    const uy = positions[b + 1] - positions[a + 1];
    const uz = positions[b + 2] - positions[a + 2];
    const vx = positions[c] - positions[a];
    const vy = positions[c + 1] - positions[a + 1];
    const vz = positions[c + 2] - positions[a + 2];
    area += Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx) / 2;
  }
  const multiple = (area * scale * scale) / (6 * r * r);
  if (multiple > maxSurfaceMultiple) {
    throw new GenloomError(
      'CORRUPT_FILE',
      `${name}: its triangles, fitted to the ${r}³ grid, have ${Math.round(multiple)} times the area of the grid's own surface; genloom voxelizes meshes of up to ${maxSurfaceMultiple} times (a real shape has a few): the file is corrupt or its triangles pile on top of each other`,
    );
  }
}

/**
 * Marks the voxels under triangle abc: rows parallel to its longest edge, a third of a voxel apart
 * (within the half-voxel bound, so that grazing crossings near voxel corners are not missed, which
 * would let the flood fill leak through a closed surface), each sampled every third of a voxel, and
 * the two other edges sampled as finely (the rows' ends lie on them).
 */
function markTriangle(surface: Uint8Array, r: number, a: number[], b: number[], c: number[]): void {
  const length = (p: number[], q: number[]) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
  // Name the corners so that p→q is the longest edge and s the corner opposite it.
  const ab = length(a, b);
  const bc = length(b, c);
  const ca = length(c, a);
  const [p, q, s, base] = ab >= bc && ab >= ca ? [a, b, c, ab] : bc >= ca ? [b, c, a, bc] : [c, a, b, ca];
  const mark = (x: number, y: number, z: number) => {
    // Clamp: a vertex exactly on the far face of the box lands on index r.
    const xi = Math.min(r - 1, Math.max(0, Math.floor(x)));
    const yi = Math.min(r - 1, Math.max(0, Math.floor(y)));
    const zi = Math.min(r - 1, Math.max(0, Math.floor(z)));
    surface[(xi * r + yi) * r + zi] = 1;
  };
  const segment = (from: number[], to: number[], distance: number) => {
    const samples = Math.max(1, Math.ceil(3 * distance));
    for (let i = 0; i <= samples; i++) {
      const t = i / samples;
      mark(from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, from[2] + (to[2] - from[2]) * t);
    }
  };
  // The height of s over the line pq: twice the area over the base.
  const ux = q[0] - p[0], uy = q[1] - p[1], uz = q[2] - p[2];
  const vx = s[0] - p[0], vy = s[1] - p[1], vz = s[2] - p[2];
  const height = base > 0 ? Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx) / base : 0;
  const rows = Math.max(1, Math.ceil(3 * height));
  const from = [0, 0, 0];
  const to = [0, 0, 0];
  for (let k = 0; k < rows; k++) {
    // Row k runs from p + t(s − p) to q + t(s − q): parallel to pq, (1 − t) of its length.
    const t = k / rows;
    for (let axis = 0; axis < 3; axis++) {
      from[axis] = p[axis] + (s[axis] - p[axis]) * t;
      to[axis] = q[axis] + (s[axis] - q[axis]) * t;
    }
    segment(from, to, base * (1 - t));
  }
  segment(p, s, length(p, s));
  segment(q, s, length(q, s));
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
