/**
 * A small software rasterizer for PNG previews of meshes, with no GPU and no native code: the
 * mesh is fitted to the view, turned by yaw (about the vertical axis) then pitch (tilting the top
 * towards the viewer), projected orthographically, and filled triangle by triangle with a z-buffer.
 * Shading is flat Lambert from a fixed light over the viewer's left shoulder, two-sided so that
 * open meshes and inner faces still read. Pure arithmetic in a fixed order: the same mesh and
 * options always give the same image.
 */
import { GenloomError } from '../core/errors.ts';
import { imageGrid, type ImageData01 } from '../io/image.ts';
import type { Mesh } from './mesh.ts';

export interface RenderOptions {
  /** Width and height in pixels; default 256. */
  size?: number;
  /** Turn about the vertical axis, radians; default 0.6. */
  yaw?: number;
  /** Tilt towards the viewer, radians; default 0.45. */
  pitch?: number;
}

const background = [0.94, 0.94, 0.95];
const baseColour = [0.55, 0.66, 0.86];
const ambient = 0.25;
// Towards the light, in view space (x right, y up, z towards the viewer), normalised below.
const lightDirection = normalise([-0.45, 0.65, 0.6]);
/** The mesh's bounding sphere fills this fraction of the half-width, leaving a margin. */
const fill = 0.9;

function normalise(vector: number[]): number[] {
  const length = Math.hypot(vector[0], vector[1], vector[2]);
  return vector.map((value) => value / length);
}

/**
 * A preview image of `mesh` (3 channels, values in [0, 1]); an empty mesh gives the background.
 * @example
 * writePng('shape.png', renderMesh(marchingCubes(grid), { size: 128 }));
 */
export function renderMesh(mesh: Mesh, options: RenderOptions = {}): ImageData01 {
  const size = options.size ?? 256;
  const yaw = options.yaw ?? 0.6;
  const pitch = options.pitch ?? 0.45;
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw new GenloomError('BAD_ARGUMENT', `render size must be an integer from 1 to 4096 pixels, got ${size}`);
  if (!Number.isFinite(yaw) || !Number.isFinite(pitch)) throw new GenloomError('BAD_ARGUMENT', `render yaw and pitch must be finite numbers of radians, got ${yaw} and ${pitch}`);
  const data = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) data.set(background, p * 3);
  const image: ImageData01 = { width: size, height: size, channels: 3, data };
  if (mesh.faces.length === 0) return image;

  const screen = projectToScreen(mesh, size, yaw, pitch);
  const depth = new Float32Array(size * size).fill(-Infinity);
  const { faces } = mesh;
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f] * 3;
    const b = faces[f + 1] * 3;
    const c = faces[f + 2] * 3;
    const shade = lambert(screen, a, b, c);
    if (shade === null) continue; // zero-area triangle
    const colour = baseColour.map((value) => value * shade);
    fillTriangle(screen, a, b, c, size, depth, data, colour);
  }
  return image;
}

/**
 * Vertices in screen space: x to the right in pixels, y downwards in pixels, z towards the viewer
 * (in pixel units too, so normals computed from screen coordinates stay true).
 */
function projectToScreen(mesh: Mesh, size: number, yaw: number, pitch: number): Float32Array {
  const { positions } = mesh;
  const low = [Infinity, Infinity, Infinity];
  const high = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < positions.length; i++) {
    const axis = i % 3;
    if (positions[i] < low[axis]) low[axis] = positions[i];
    if (positions[i] > high[axis]) high[axis] = positions[i];
  }
  const centre = low.map((value, axis) => (value + high[axis]) / 2);
  // Half the box diagonal bounds every vertex's distance from the centre, under any rotation.
  const radius = Math.hypot(high[0] - low[0], high[1] - low[1], high[2] - low[2]) / 2 || 1;
  const scale = (fill * size) / 2 / radius;
  const [cy, sy, cp, sp] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch)];
  const screen = new Float32Array(positions.length);
  for (let v = 0; v < positions.length; v += 3) {
    const x = positions[v] - centre[0];
    const y = positions[v + 1] - centre[1];
    const z = positions[v + 2] - centre[2];
    // Yaw about y, then pitch about x (positive pitch shows the top of the shape).
    const x1 = cy * x + sy * z;
    const z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1;
    const z2 = sp * y + cp * z1;
    screen[v] = size / 2 + x1 * scale;
    screen[v + 1] = size / 2 - y2 * scale;
    screen[v + 2] = z2 * scale;
  }
  return screen;
}

/** Flat Lambert brightness of a triangle, two-sided; null for a zero-area triangle. */
function lambert(screen: Float32Array, a: number, b: number, c: number): number | null {
  // Screen y points down, so flip it to get the view-space normal.
  const ux = screen[b] - screen[a];
  const uy = -(screen[b + 1] - screen[a + 1]);
  const uz = screen[b + 2] - screen[a + 2];
  const vx = screen[c] - screen[a];
  const vy = -(screen[c + 1] - screen[a + 1]);
  const vz = screen[c + 2] - screen[a + 2];
  const nx = uy * vz - uz * vy;
  const ny = uz * vx - ux * vz;
  const nz = ux * vy - uy * vx;
  const length = Math.hypot(nx, ny, nz);
  if (length === 0) return null;
  const cosine = Math.abs(nx * lightDirection[0] + ny * lightDirection[1] + nz * lightDirection[2]) / length;
  return ambient + (1 - ambient) * cosine;
}

/** Fills the pixels whose centres lie in the triangle and are nearer than the z-buffer's value. */
function fillTriangle(screen: Float32Array, a: number, b: number, c: number, size: number, depth: Float32Array, data: Float32Array, colour: number[]): void {
  const [ax, ay, az] = [screen[a], screen[a + 1], screen[a + 2]];
  const [bx, by, bz] = [screen[b], screen[b + 1], screen[b + 2]];
  const [cx, cy, cz] = [screen[c], screen[c + 1], screen[c + 2]];
  const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  if (area === 0) return; // seen edge-on
  const left = Math.max(0, Math.floor(Math.min(ax, bx, cx)));
  const right = Math.min(size - 1, Math.ceil(Math.max(ax, bx, cx)));
  const top = Math.max(0, Math.floor(Math.min(ay, by, cy)));
  const bottom = Math.min(size - 1, Math.ceil(Math.max(ay, by, cy)));
  for (let py = top; py <= bottom; py++) {
    const y = py + 0.5;
    for (let px = left; px <= right; px++) {
      const x = px + 0.5;
      // Barycentric weights from edge functions; all of one sign (either winding) means inside.
      const wa = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area;
      const wb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area;
      const wc = 1 - wa - wb;
      if (wa < 0 || wb < 0 || wc < 0) continue;
      const z = wa * az + wb * bz + wc * cz;
      const pixel = py * size + px;
      if (z <= depth[pixel]) continue;
      depth[pixel] = z;
      data[pixel * 3] = colour[0];
      data[pixel * 3 + 1] = colour[1];
      data[pixel * 3 + 2] = colour[2];
    }
  }
}

/**
 * Previews of several meshes tiled in a grid (`columns` per row; default about square).
 * @example
 * writePng('samples.png', renderMeshes(grids.map((grid) => marchingCubes(grid)), { size: 128, columns: 4 }));
 */
export function renderMeshes(meshes: Mesh[], options: RenderOptions & { columns?: number } = {}): ImageData01 {
  if (meshes.length === 0) throw new GenloomError('BAD_ARGUMENT', 'renderMeshes: no meshes to render');
  const { columns, ...renderOptions } = options;
  return imageGrid(meshes.map((mesh) => renderMesh(mesh, renderOptions)), { columns, padding: 2, background: background[0] });
}
