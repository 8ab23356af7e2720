/**
 * Seeded, splittable randomness. Every random draw in genloom (weight init, data order,
 * binarization, reparameterization noise, sampling) comes from a `Random` derived from the user's
 * seed by a fixed path of keys, e.g. `fromSeed(seed).fork('step', 1200)`. Because a draw depends
 * only on its path and not on how many draws came before, a resumed run sees exactly the
 * randomness an uninterrupted run would, and the same seed gives the same sample on any backend
 * (the numbers are made in JS, never by a backend's own RNG).
 */

/** 32-bit mix of a string or number key into a state (MurmurHash3's finalizer). */
function mixKey(state: number, key: string | number): number {
  const text = typeof key === 'number' ? `#${key}` : key;
  let h = state ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A seeded stream of uniform, normal and integer draws: make one with `fromSeed`, split it with `fork`.
 *
 * @example
 * const random = fromSeed(7).fork('noise');
 * random.uniform(); // in [0, 1)
 * random.normalArray(16); // 16 standard normals, the same on every backend
 */
export class Random {
  private state: number;
  private spareNormal: number | null = null;

  /** Prefer `fromSeed`; `state` is a 32-bit integer. */
  constructor(state: number) {
    this.state = state >>> 0;
  }

  /** A new, independent stream named by `keys` below this one; does not advance this stream. */
  fork(...keys: (string | number)[]): Random {
    let state = this.state;
    for (const key of keys) state = mixKey(state, key);
    return new Random(state);
  }

  /** Uniform in [0, 1) with 32 bits of resolution (mulberry32). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal by the Box–Muller transform (pairs cached). */
  normal(): number {
    if (this.spareNormal !== null) {
      const value = this.spareNormal;
      this.spareNormal = null;
      return value;
    }
    const u1 = 1 - this.uniform(); // in (0, 1], so log is finite
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n). */
  integer(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  normalArray(length: number, scale = 1): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.normal() * scale;
    return out;
  }

  uniformArray(length: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.uniform();
    return out;
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.integer(i + 1);
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    return order;
  }
}

/**
 * The root stream of a user seed (any integer, or a string).
 *
 * @example
 * const random = fromSeed(3).fork('sample'); // what `genloom sample --seed 3` draws from
 */
export function fromSeed(seed: number | string): Random {
  return new Random(mixKey(0x2545f491, typeof seed === 'number' ? `seed:${seed}` : seed));
}
