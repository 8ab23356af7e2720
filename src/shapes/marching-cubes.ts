/**
 * Voxel grids to triangle meshes by marching cubes (Lorensen & Cline 1987).
 *
 * For every cell of 2×2×2 neighbouring voxel centres, the corners below `level` form an 8-bit
 * case index; the case's row of the triangle table lists which cell edges the surface crosses,
 * three edges per triangle. Each crossing point is placed by linear interpolation of the two
 * corner values along its edge. Crossing points are shared between the cells around an edge (one
 * vertex per grid edge), so the mesh comes out indexed and, on a padded grid, closed.
 *
 * The case tables are Paul Bourke's standard ones (from Cory Bloyd), which three.js exports; we
 * import them rather than keep a second copy of 4,096 numbers. Bourke's corner numbering:
 *   corner 0 (0,0,0)  1 (1,0,0)  2 (1,1,0)  3 (0,1,0)  4 (0,0,1)  5 (1,0,1)  6 (1,1,1)  7 (0,1,1)
 *   edges 0–3 ring z = 0, edges 4–7 ring z = 1, edges 8–11 join the rings.
 */
import { triTable } from 'three/examples/jsm/objects/MarchingCubes.js';
import type { VoxelGrid } from '../models/family.ts';
import type { Mesh } from './mesh.ts';

const cornerOffsets = [
  [0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
  [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1],
] as const;

const edgeCorners = [
  [0, 1], [1, 2], [2, 3], [3, 0],
  [4, 5], [5, 6], [6, 7], [7, 4],
  [0, 4], [1, 5], [2, 6], [3, 7],
] as const;

/**
 * The iso-surface at `level` of `grid`, in the unit cube [-0.5, 0.5]³ (voxel index i sits at
 * (i + 0.5)/r − 0.5). The grid is padded with a border of zeros so that a shape touching the
 * grid's edge still gives a closed surface. Triangles wind counter-clockwise seen from outside
 * (normals point away from the values ≥ level).
 * @example
 * writeMeshFiles('out/shape', marchingCubes(grid));
 */
export function marchingCubes(grid: VoxelGrid, level = 0.5): Mesh {
  const r = grid.resolution;
  const padded = r + 2;
  const valueAt = (x: number, y: number, z: number): number => {
    if (x < 1 || y < 1 || z < 1 || x > r || y > r || z > r) return 0;
    return grid.values[((x - 1) * r + (y - 1)) * r + (z - 1)];
  };
  const positions: number[] = [];
  const faces: number[] = [];
  // One vertex per crossed lattice edge, keyed by (lower lattice point, axis).
  const vertexOfEdge = new Map<number, number>();
  const toUnit = (coordinate: number) => (coordinate - 0.5) / r - 0.5;
  const corner = new Float64Array(8);
  const edgeVertex = new Int32Array(12);

  for (let x = 0; x < padded - 1; x++) {
    for (let y = 0; y < padded - 1; y++) {
      for (let z = 0; z < padded - 1; z++) {
        let caseIndex = 0;
        for (let k = 0; k < 8; k++) {
          const [dx, dy, dz] = cornerOffsets[k];
          corner[k] = valueAt(x + dx, y + dy, z + dz);
          if (corner[k] < level) caseIndex |= 1 << k;
        }
        if (caseIndex === 0 || caseIndex === 255) continue;
        const row = caseIndex * 16;
        for (let t = row; triTable[t] !== -1; t++) {
          const edge = triTable[t];
          const [c1, c2] = edgeCorners[edge];
          const o1 = cornerOffsets[c1];
          const o2 = cornerOffsets[c2];
          const axis = o1[0] !== o2[0] ? 0 : o1[1] !== o2[1] ? 1 : 2;
          const low = o1[axis] < o2[axis] ? o1 : o2;
          const key = (((x + low[0]) * padded + (y + low[1])) * padded + (z + low[2])) * 3 + axis;
          let vertex = vertexOfEdge.get(key);
          if (vertex === undefined) {
            // Linear interpolation: the point where the straight line between the two corner
            // values meets `level` (they differ, since one is below level and one is not).
            const fraction = (level - corner[c1]) / (corner[c2] - corner[c1]);
            vertex = positions.length / 3;
            vertexOfEdge.set(key, vertex);
            positions.push(
              toUnit(x + o1[0] + fraction * (o2[0] - o1[0])),
              toUnit(y + o1[1] + fraction * (o2[1] - o1[1])),
              toUnit(z + o1[2] + fraction * (o2[2] - o1[2])),
            );
          }
          edgeVertex[edge] = vertex;
        }
        for (let t = row; triTable[t] !== -1; t += 3) {
          const a = edgeVertex[triTable[t]];
          const b = edgeVertex[triTable[t + 1]];
          const c = edgeVertex[triTable[t + 2]];
          // In this corner layout, with "below level" as the case bit, the table's order already
          // winds counter-clockwise seen from outside: (b − a) × (c − a) points outward.
          faces.push(a, b, c);
        }
      }
    }
  }
  return { positions: Float32Array.from(positions), faces: Uint32Array.from(faces) };
}
