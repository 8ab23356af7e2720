/**
 * Floating fragments out of a voxel shape: a generated grid often has a few loose voxels or small
 * lumps beside the shape, which marching cubes turns into specks around the mesh. The filled voxels
 * (value ≥ level) are split into connected components, 26-connected (voxels that touch at a face,
 * an edge or a corner: marching cubes may join any of those), and all but the largest are cleared.
 */
import type { VoxelGrid } from '../models/family.ts';

export interface CleanedGrid {
  grid: VoxelGrid;
  /** Filled voxels cleared (0: the shape was one piece). */
  removedVoxels: number;
  /** Components cleared. */
  removedComponents: number;
}

/** `grid` with only its largest connected component of filled voxels kept (a copy; the input is unchanged). */
export function keepLargestComponent(grid: VoxelGrid, level = 0.5): CleanedGrid {
  const { resolution: r, values } = grid;
  const component = new Int32Array(values.length).fill(-1);
  const sizes: number[] = [];
  const stack: number[] = [];
  for (let start = 0; start < values.length; start++) {
    if (values[start]! < level || component[start] !== -1) continue;
    const id = sizes.length;
    let size = 0;
    component[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const index = stack.pop()!;
      size++;
      const [a, b, c] = [Math.floor(index / (r * r)), Math.floor(index / r) % r, index % r];
      for (let da = -1; da <= 1; da++) {
        for (let db = -1; db <= 1; db++) {
          for (let dc = -1; dc <= 1; dc++) {
            const [na, nb, nc] = [a + da, b + db, c + dc];
            if (na < 0 || nb < 0 || nc < 0 || na >= r || nb >= r || nc >= r) continue;
            const neighbour = (na * r + nb) * r + nc;
            if (values[neighbour]! >= level && component[neighbour] === -1) {
              component[neighbour] = id;
              stack.push(neighbour);
            }
          }
        }
      }
    }
    sizes.push(size);
  }
  const kept = sizes.indexOf(Math.max(...sizes));
  const cleaned = Float32Array.from(values);
  let removedVoxels = 0;
  for (let i = 0; i < cleaned.length; i++) {
    if (component[i]! >= 0 && component[i] !== kept) {
      cleaned[i] = 0;
      removedVoxels++;
    }
  }
  return { grid: { resolution: r, values: cleaned }, removedVoxels, removedComponents: Math.max(0, sizes.length - 1) };
}
