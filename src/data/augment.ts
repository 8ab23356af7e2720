/**
 * Augmentations applied while batches are made, drawn from the trainer's seeded stream.
 */
import type { Random } from '../core/random.ts';

/**
 * Copies images into a batch, each shifted by a random offset of up to `shift` pixels:
 * the classic augmentation that takes a small MNIST CNN past 99%. `fill` is what shows where the
 * image moved away (0: black; 1: white, for images on a white ground).
 */
export function shiftImages(pixels: Float32Array, indices: ArrayLike<number>, shape: [number, number, number], shift: number, random: Random, fill = 0): Float32Array {
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const out = new Float32Array(indices.length * size).fill(fill);
  for (let b = 0; b < indices.length; b++) {
    const source = indices[b]! * size;
    const dy = shift > 0 ? random.integer(2 * shift + 1) - shift : 0;
    const dx = shift > 0 ? random.integer(2 * shift + 1) - shift : 0;
    for (let y = 0; y < height; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= height) continue;
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= width) continue;
        const from = source + (sy * width + sx) * channels;
        const to = b * size + (y * width + x) * channels;
        for (let c = 0; c < channels; c++) out[to + c] = pixels[from + c]!;
      }
    }
  }
  return out;
}
