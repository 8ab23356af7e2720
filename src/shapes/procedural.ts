/**
 * Procedural 3-D shapes for the built-in 'shapes' dataset: seven labelled classes, each an inside
 * test evaluated at voxel centres, with random size, proportions and orientation.
 *
 * Coordinates: the grid spans [-1, 1]³ (voxel centre i → (i + 0.5)/r · 2 − 1, y up). Every shape
 * is scaled to fit a ball of radius `fitRadius`, so any rotation keeps a margin to the grid's
 * faces. Primitives get a uniformly random 3-D rotation; chairs and tables stay upright and only
 * turn about the vertical axis. Thin parts (legs, slabs, torus tube) are at least 0.25 wide, i.e.
 * two voxels at resolution 16, so every part survives voxelization at the smallest sizes.
 */
import { GenloomError } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import type { VoxelGrid } from '../models/family.ts';
import { checkResolution } from './voxelize.ts';

export const shapeLabelNames: readonly string[] = Object.freeze(['sphere', 'cube', 'torus', 'cylinder', 'cone', 'chair', 'table']);

/** Radius of the ball every shape fits in (grid half-width is 1), leaving a margin of ≥ 1 voxel at r ≥ 16. */
const fitRadius = 0.85;

/** An inside test in the shape's own frame. */
type Inside = (x: number, y: number, z: number) => boolean;

/** A 3×3 rotation, row-major. */
type Rotation = number[];

function between(random: Random, low: number, high: number): number {
  return low + (high - low) * random.uniform();
}

/** A uniformly random rotation, from a uniform unit quaternion (Shoemake 1992). */
function randomRotation(random: Random): Rotation {
  const u1 = random.uniform();
  const u2 = random.uniform() * 2 * Math.PI;
  const u3 = random.uniform() * 2 * Math.PI;
  const a = Math.sqrt(1 - u1);
  const b = Math.sqrt(u1);
  const [w, x, y, z] = [a * Math.sin(u2), a * Math.cos(u2), b * Math.sin(u3), b * Math.cos(u3)];
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
}

/** A rotation about the vertical (y) axis by a random angle. */
function randomYaw(random: Random): Rotation {
  const angle = random.uniform() * 2 * Math.PI;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [c, 0, s, 0, 1, 0, -s, 0, c];
}

/** Axis-aligned box test, centre (cx, cy, cz) and half-sides (hx, hy, hz). */
function box(cx: number, cy: number, cz: number, hx: number, hy: number, hz: number): Inside {
  return (x, y, z) => Math.abs(x - cx) <= hx && Math.abs(y - cy) <= hy && Math.abs(z - cz) <= hz;
}

function union(parts: Inside[]): Inside {
  return (x, y, z) => parts.some((inside) => inside(x, y, z));
}

function sphere(random: Random): Inside {
  // A sphere only varies by size, so it is also shifted within the room left in the fit ball;
  // otherwise nearby radii would often give identical grids at low resolutions.
  const radius = fitRadius * between(random, 0.6, 0.9);
  const shift = (fitRadius - radius) / Math.sqrt(3);
  const [cx, cy, cz] = [between(random, -shift, shift), between(random, -shift, shift), between(random, -shift, shift)];
  return (x, y, z) => (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius * radius;
}

function cube(random: Random): Inside {
  // Side ratios between 0.6 and 1 of the longest; the half-diagonal is then scaled to fit.
  const sides = [1, between(random, 0.6, 1), between(random, 0.6, 1)];
  const scale = (fitRadius * between(random, 0.75, 1)) / Math.hypot(...sides);
  const [hx, hy, hz] = sides.map((side) => side * scale);
  return box(0, 0, 0, hx, hy, hz);
}

function torus(random: Random): Inside {
  // Tube radius / ring radius in [0.3, 0.5]; ring + tube fills 75–100 % of the fit radius.
  const ratio = between(random, 0.3, 0.5);
  const outer = fitRadius * between(random, 0.8, 1);
  const ring = outer / (1 + ratio);
  const tube = ring * ratio;
  return (x, y, z) => {
    const fromRing = Math.hypot(x, z) - ring;
    return fromRing * fromRing + y * y <= tube * tube;
  };
}

function cylinder(random: Random): Inside {
  // Half-height / radius in [0.6, 1.6]: from a squat disc to a tall rod.
  const aspect = between(random, 0.6, 1.6);
  const scale = (fitRadius * between(random, 0.75, 1)) / Math.hypot(1, aspect);
  const radius = scale;
  const halfHeight = aspect * scale;
  return (x, y, z) => Math.abs(y) <= halfHeight && x * x + z * z <= radius * radius;
}

function cone(random: Random): Inside {
  // Height / base radius in [1.2, 2.4]; apex up at +height/2 in the shape's frame.
  const aspect = between(random, 1.2, 2.4);
  const scale = (fitRadius * between(random, 0.8, 1)) / Math.hypot(1, aspect / 2);
  const radius = scale;
  const height = aspect * scale;
  return (x, y, z) => {
    if (y < -height / 2 || y > height / 2) return false;
    const radiusHere = radius * (height / 2 - y) / height;
    return x * x + z * z <= radiusHere * radiusHere;
  };
}

/** Half-width and half-depth of a slab whose half-diagonal fits the fit radius (in plan view). */
function slabPlan(random: Random, ratioLow: number): [number, number] {
  const width = 1;
  const depth = between(random, ratioLow, 1);
  const scale = (fitRadius * between(random, 0.8, 0.95)) / Math.hypot(width, depth);
  return random.uniform() < 0.5 ? [width * scale, depth * scale] : [depth * scale, width * scale];
}

function legs(halfWidth: number, halfDepth: number, thickness: number, bottom: number, top: number): Inside[] {
  const half = thickness / 2;
  const parts: Inside[] = [];
  for (const sx of [-1, 1]) {
    for (const sz of [-1, 1]) {
      parts.push(box(sx * (halfWidth - half), (bottom + top) / 2, sz * (halfDepth - half), half, (top - bottom) / 2, half));
    }
  }
  return parts;
}

function chair(random: Random): Inside {
  const [halfWidth, halfDepth] = slabPlan(random, 0.8);
  const bottom = -fitRadius;
  const legThickness = between(random, 0.25, 0.35);
  const seatThickness = between(random, 0.25, 0.35);
  const seatBottom = bottom + between(random, 0.55, 0.85);
  const seatTop = seatBottom + seatThickness;
  const backTop = Math.min(fitRadius, seatTop + between(random, 0.5, 0.9));
  const backThickness = between(random, 0.25, 0.32);
  return union([
    box(0, (seatBottom + seatTop) / 2, 0, halfWidth, seatThickness / 2, halfDepth),
    ...legs(halfWidth, halfDepth, legThickness, bottom, seatBottom),
    box(0, (seatTop + backTop) / 2, -halfDepth + backThickness / 2, halfWidth, (backTop - seatTop) / 2, backThickness / 2),
  ]);
}

function table(random: Random): Inside {
  const [halfWidth, halfDepth] = slabPlan(random, 0.5);
  const legThickness = between(random, 0.25, 0.4);
  const topThickness = between(random, 0.25, 0.35);
  // Total height from 55 % to 100 % of the grid's usable height, centred vertically.
  const height = 2 * fitRadius * between(random, 0.55, 1);
  const bottom = -height / 2;
  const topBottom = height / 2 - topThickness;
  return union([
    box(0, height / 2 - topThickness / 2, 0, halfWidth, topThickness / 2, halfDepth),
    ...legs(halfWidth, halfDepth, legThickness, bottom, topBottom),
  ]);
}

const builders: ((random: Random) => Inside)[] = [sphere, cube, torus, cylinder, cone, chair, table];
const upright = new Set([5, 6]);

/**
 * A random shape of class `label` (an index into shapeLabelNames) as a grid of exact 0/1 values.
 * The same `random` state gives the same shape.
 * @example
 * const torus = proceduralShape(2, fromSeed(7).fork('torus'), 32);
 */
export function proceduralShape(label: number, random: Random, resolution: number): VoxelGrid {
  if (!Number.isInteger(label) || label < 0 || label >= builders.length) {
    throw new GenloomError('BAD_ARGUMENT', `shape label must be an integer from 0 to ${builders.length - 1} (${shapeLabelNames.join(', ')}), got ${label}`);
  }
  checkResolution(resolution);
  // Drawn in a fixed order (orientation, then shape parameters) so a seed's shape never changes.
  const rotation = upright.has(label) ? randomYaw(random.fork('orientation')) : randomRotation(random.fork('orientation'));
  const inside = builders[label](random.fork('parameters'));
  const r = resolution;
  const values = new Float32Array(r * r * r);
  const m = rotation;
  for (let i = 0; i < r; i++) {
    const x = ((i + 0.5) / r) * 2 - 1;
    for (let j = 0; j < r; j++) {
      const y = ((j + 0.5) / r) * 2 - 1;
      for (let k = 0; k < r; k++) {
        const z = ((k + 0.5) / r) * 2 - 1;
        // The point in the shape's frame is Rᵀ·p (the inverse of the rotation placing the shape).
        const sx = m[0] * x + m[3] * y + m[6] * z;
        const sy = m[1] * x + m[4] * y + m[7] * z;
        const sz = m[2] * x + m[5] * y + m[8] * z;
        if (inside(sx, sy, sz)) values[(i * r + j) * r + k] = 1;
      }
    }
  }
  return { resolution: r, values };
}
