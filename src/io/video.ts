/**
 * Clips as files: an animated GIF (plays anywhere, lossless grey), an H.264 MP4 (what video players
 * and slides expect), and a PNG strip of every frame side by side (for papers and quick looks).
 */
import HME from 'h264-mp4-encoder';
import { GenloomError } from '../core/errors.ts';
import type { Clip } from '../models/family.ts';
import { writeFileAtomic } from './atomic.ts';
import { encodeGif } from './gif.ts';
import { assertImage, encodePng, imageStrip, scaleUp, type ImageData01 } from './image.ts';

/** Options for {@link writeClipFiles}. */
export interface ClipFileOptions {
  /** Frames per second of the GIF and MP4; default 8 (defaultClipFps). */
  fps?: number;
  /** Integer nearest-neighbour enlargement of every output; default 4, so a 64 × 64 clip plays at a comfortable 256 × 256. */
  scale?: number;
}

// Low enough that thin digit strokes keep sharp edges, high enough that a clip stays a few kB
// (the encoder's range is 10..51, default 33).
const MP4_QUANTIZATION = 20;

// The encoders share one Emscripten file system, so each encode writes its own file name.
let encodeCounter = 0;

function assertClip(clip: Clip): void {
  const { frames, height, width, pixels } = clip;
  for (const [name, value] of [['frames', frames], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new GenloomError('BAD_ARGUMENT', `clip: ${name} must be a positive integer, got ${value}`);
  }
  const expected = frames * height * width;
  if (!(pixels instanceof Float32Array) || pixels.length !== expected) {
    throw new GenloomError('BAD_ARGUMENT', `clip: pixels must be a Float32Array of ${expected} values (${frames} frames of ${width}x${height}), got ${pixels?.length}`);
  }
}

/** The frames of a clip as greyscale images, each enlarged by the integer `scale` (default 1). */
export function clipFrames(clip: Clip, scale = 1): ImageData01[] {
  assertClip(clip);
  if (!Number.isInteger(scale) || scale < 1) throw new GenloomError('BAD_ARGUMENT', `clipFrames: scale must be a positive integer, got ${scale}`);
  const size = clip.height * clip.width;
  return Array.from({ length: clip.frames }, (_, t) => {
    const frame: ImageData01 = { width: clip.width, height: clip.height, channels: 1, data: clip.pixels.slice(t * size, (t + 1) * size) };
    return scale === 1 ? frame : scaleUp(frame, scale);
  });
}

function toByte(value: number): number {
  return value > 0 ? Math.round(Math.min(value, 1) * 255) : 0;
}

/** RGBA bytes of `image` on a black canvas of `width` × `height` (≥ the image), for the encoder. */
function paddedRgba(image: ImageData01, width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const to = (y * width + x) * 4;
      rgba[to + 3] = 255;
      if (x >= image.width || y >= image.height) continue;
      const from = (y * image.width + x) * image.channels;
      for (let channel = 0; channel < 3; channel++) rgba[to + channel] = toByte(image.data[from + (image.channels === 3 ? channel : 0)]);
    }
  }
  return rgba;
}

/**
 * Encodes frames as H.264 in an MP4 container. H.264's 4:2:0 chroma needs even sides, so an odd
 * width or height gets one black column or row on the right or bottom.
 * Throws BAD_ARGUMENT for no frames, frames of different sizes, or a bad fps.
 */
export async function encodeMp4(frames: ImageData01[], options: { fps: number }): Promise<Uint8Array> {
  if (frames.length === 0) throw new GenloomError('BAD_ARGUMENT', 'encodeMp4: no frames to encode');
  frames.forEach((frame, index) => assertImage(frame, `encodeMp4 frame ${index}`));
  const { fps } = options;
  if (!(Number.isFinite(fps) && fps > 0 && fps <= 240)) throw new GenloomError('BAD_ARGUMENT', `encodeMp4: fps must be a number in (0, 240], got ${fps}`);
  const { width, height } = frames[0];
  const mismatch = frames.findIndex((frame) => frame.width !== width || frame.height !== height);
  if (mismatch >= 0) {
    throw new GenloomError('BAD_ARGUMENT', `encodeMp4: frame ${mismatch} is ${frames[mismatch].width}x${frames[mismatch].height} but frame 0 is ${width}x${height}`);
  }
  const evenWidth = width + (width % 2), evenHeight = height + (height % 2);
  const encoder = await HME.createH264MP4Encoder();
  const outputFilename = `genloom-${process.pid}-${encodeCounter++}.mp4`;
  try {
    encoder.outputFilename = outputFilename;
    encoder.width = evenWidth;
    encoder.height = evenHeight;
    encoder.frameRate = fps;
    encoder.quantizationParameter = MP4_QUANTIZATION;
    encoder.initialize();
    for (const frame of frames) encoder.addFrameRgba(paddedRgba(frame, evenWidth, evenHeight));
    encoder.finalize();
    // Copy out of the WebAssembly heap, which the next encode may reuse.
    const bytes = encoder.FS.readFile(outputFilename).slice();
    encoder.FS.unlink(outputFilename);
    return bytes;
  } finally {
    encoder.delete();
  }
}

/**
 * Writes `${basePath}.gif`, `${basePath}.mp4` and `${basePath}.png` (all frames in one row) and
 * returns their paths. All three are encoded before any is written, and each is written
 * atomically, so a failure leaves no partial set of new files behind.
 * @example
 * await writeClipFiles('samples/clip-0', clip); // samples/clip-0.gif, .mp4, .png at 4× size
 */
/** Frames per second clips play at unless asked otherwise (the CLI and the studio alike). */
export const defaultClipFps = 8;

/** A clip as GIF, MP4 and PNG-strip bytes. */
export async function encodeClipFiles(clip: Clip, options: ClipFileOptions & { stripScale?: number } = {}): Promise<{ gif: Uint8Array; mp4: Uint8Array; strip: Buffer }> {
  const { fps = defaultClipFps, scale = 4 } = options;
  const frames = clipFrames(clip, scale);
  const mp4 = await encodeMp4(frames, { fps });
  // A strip of every frame is wide: the studio asks for a smaller one than the files get.
  const strip = options.stripScale === undefined || options.stripScale === scale ? frames : clipFrames(clip, options.stripScale);
  return { gif: encodeGif(frames, { delayMs: 1000 / fps }), mp4, strip: encodePng(imageStrip(strip)) };
}

/** Writes BASE.gif, BASE.mp4 and BASE.png (the strip), each atomically. */
export async function writeClipFiles(basePath: string, clip: Clip, options: ClipFileOptions = {}): Promise<{ gif: string; mp4: string; strip: string }> {
  const files = await encodeClipFiles(clip, options);
  const paths = { gif: `${basePath}.gif`, mp4: `${basePath}.mp4`, strip: `${basePath}.png` };
  writeFileAtomic(paths.gif, files.gif);
  writeFileAtomic(paths.mp4, files.mp4);
  writeFileAtomic(paths.strip, files.strip);
  return paths;
}
