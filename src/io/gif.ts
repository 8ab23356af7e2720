import { createRequire } from 'node:module';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { assertImage, scaleUp, toChannels, type ImageData01 } from './image.ts';

/** The part of gifenc's API used here (the package ships no type declarations). */
type Palette = number[][];
interface GifStream {
  writeFrame(index: Uint8Array, width: number, height: number, options: { palette?: Palette; delay?: number; repeat?: number }): void;
  finish(): void;
  bytes(): Uint8Array;
}
interface GifencModule {
  GIFEncoder(): GifStream;
  quantize(rgba: Uint8Array, maxColors: number, options?: { format?: 'rgb565' | 'rgb444' }): Palette;
  applyPalette(rgba: Uint8Array, palette: Palette, format?: 'rgb565' | 'rgb444'): Uint8Array;
}

// gifenc's CommonJS build defines its exports with getters that Node's ESM loader cannot see as
// named exports, so load it through require.
const gifenc = createRequire(import.meta.url)('gifenc') as GifencModule;

/** Options for {@link encodeGif}. */
export interface GifOptions {
  /** Time each frame is shown, in milliseconds (GIF stores hundredths of a second); default 100. */
  delayMs?: number;
  /** Loop forever (true, the default) or play once. */
  loop?: boolean;
  /** Integer nearest-neighbour enlargement applied to every frame; default 1. */
  scale?: number;
}

// Quantizing every pixel of a long animation is slow and gains nothing; this many sampled pixels
// are plenty to choose 256 colours.
const QUANTIZE_SAMPLE_PIXELS = 1 << 20;

function toBytes(value: number): number {
  return value > 0 ? Math.round(Math.min(value, 1) * 255) : 0;
}

function toRgba(image: ImageData01): Uint8Array {
  const pixels = image.width * image.height;
  const rgba = new Uint8Array(pixels * 4);
  for (let pixel = 0; pixel < pixels; pixel++) {
    rgba[pixel * 4] = toBytes(image.data[pixel * 3]);
    rgba[pixel * 4 + 1] = toBytes(image.data[pixel * 3 + 1]);
    rgba[pixel * 4 + 2] = toBytes(image.data[pixel * 3 + 2]);
    rgba[pixel * 4 + 3] = 255;
  }
  return rgba;
}

/** One palette for the whole animation, so colours do not flicker between frames. */
function sharedPalette(frames: Uint8Array[]): Palette {
  const totalPixels = frames.reduce((sum, frame) => sum + frame.length / 4, 0);
  const stride = Math.max(1, Math.ceil(totalPixels / QUANTIZE_SAMPLE_PIXELS));
  const sample = new Uint8Array(Math.ceil(totalPixels / stride) * 4);
  let written = 0, seen = 0;
  for (const frame of frames) {
    for (let pixel = 0; pixel < frame.length / 4; pixel++, seen++) {
      if (seen % stride !== 0) continue;
      sample.set(frame.subarray(pixel * 4, pixel * 4 + 4), written * 4);
      written++;
    }
  }
  return gifenc.quantize(sample.subarray(0, written * 4), 256);
}

/**
 * Encodes frames as an animated GIF (GIF89a, looping forever by default).
 * Greyscale animations use a fixed 256-level grey palette, so they are lossless at 8 bits;
 * colour animations share one 256-colour palette quantized from all frames.
 * Throws BAD_ARGUMENT for no frames, frames of different sizes, or bad options.
 */
export function encodeGif(frames: ImageData01[], options: GifOptions = {}): Uint8Array {
  if (frames.length === 0) throw new GenloomError('BAD_ARGUMENT', 'encodeGif: no frames to encode');
  frames.forEach((frame, index) => assertImage(frame, `encodeGif frame ${index}`));
  const { delayMs = 100, loop = true, scale = 1 } = options;
  if (!(Number.isFinite(delayMs) && delayMs >= 0)) throw new GenloomError('BAD_ARGUMENT', `encodeGif: delayMs must be a non-negative number, got ${delayMs}`);
  if (!Number.isInteger(scale) || scale < 1) throw new GenloomError('BAD_ARGUMENT', `encodeGif: scale must be a positive integer, got ${scale}`);
  const { width, height } = frames[0];
  const mismatch = frames.findIndex((frame) => frame.width !== width || frame.height !== height);
  if (mismatch >= 0) {
    throw new GenloomError('BAD_ARGUMENT', `encodeGif: frame ${mismatch} is ${frames[mismatch].width}x${frames[mismatch].height} but frame 0 is ${width}x${height}`);
  }
  const outputWidth = width * scale, outputHeight = height * scale;
  if (outputWidth > 65535 || outputHeight > 65535) {
    throw new GenloomError('BAD_ARGUMENT', `encodeGif: ${outputWidth}x${outputHeight} exceeds the GIF limit of 65535 pixels per side`);
  }
  const scaled = scale === 1 ? frames : frames.map((frame) => scaleUp(frame, scale));
  const allGrey = scaled.every((frame) => frame.channels === 1);

  let palette: Palette;
  let indexed: Uint8Array[];
  if (allGrey) {
    palette = Array.from({ length: 256 }, (_, level) => [level, level, level]);
    indexed = scaled.map((frame) => Uint8Array.from(frame.data, toBytes));
  } else {
    const rgbaFrames = scaled.map((frame) => toRgba(toChannels(frame, 3)));
    palette = sharedPalette(rgbaFrames);
    indexed = rgbaFrames.map((rgba) => gifenc.applyPalette(rgba, palette));
  }

  const encoder = gifenc.GIFEncoder();
  indexed.forEach((index, frameNumber) => {
    // The palette and loop count only go with the first frame: it becomes the global colour table
    // and the NETSCAPE2.0 extension (repeat 0 = forever, -1 = omit it, i.e. play once).
    const first = frameNumber === 0;
    encoder.writeFrame(index, outputWidth, outputHeight, {
      ...(first ? { palette, repeat: loop ? 0 : -1 } : {}),
      delay: delayMs,
    });
  });
  encoder.finish();
  return encoder.bytes();
}

/** Encodes frames with {@link encodeGif} and writes the GIF to `path` atomically. */
export function writeGif(path: string, frames: ImageData01[], options: GifOptions = {}): void {
  writeFileAtomic(path, encodeGif(frames, options));
}
