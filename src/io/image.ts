import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { checkJpeg, checkPng, maxImagePixels } from './image-header.ts';
import { readRegularFile } from './regular-file.ts';

export { maxImagePixels } from './image-header.ts';

/** Pixels in [0, 1], row-major, interleaved channels: data.length === height * width * channels. */
export interface ImageData01 {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
// JPEG's lossy colour transform leaves greyscale content with small R/G/B differences;
// up to 2 levels out of 255 still counts as grey so a scanned digit comes back single-channel.
const JPEG_GREY_TOLERANCE = 2 / 255;
// The largest image file read: twice the biggest uncompressed image allowed (16-bit RGBA), more
// than any real PNG or JPEG of that size needs, so a huge file is refused before it is read whole.
const maxImageFileBytes = maxImagePixels * 8 * 2;
// jpeg-js's own memory cap, a backstop behind checkJpeg's size check: it counts 4 bytes per sample
// for the DCT blocks, 2 more for its scanlines and the output, so at most 4 components × 6 + 4 RGBA
// = 28 bytes per pixel, and 32 leaves room for MCU padding and tables.
const JPEG_MAX_MEMORY_MB = Math.ceil((maxImagePixels * 32) / 2 ** 20);

/** Throws BAD_ARGUMENT unless `image` is a well-formed ImageData01; `what` names it in the message. */
export function assertImage(image: ImageData01, what: string): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new GenloomError('BAD_ARGUMENT', `${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new GenloomError('BAD_ARGUMENT', `${what}: channels must be 1 or 3, got ${String(channels)}`);
  }
  if (!(data instanceof Float32Array) || data.length !== width * height * channels) {
    throw new GenloomError('BAD_ARGUMENT', `${what}: data must be a Float32Array of ${width * height * channels} values (${width}x${height}x${channels}), got ${data?.length}`);
  }
}

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((value, index) => bytes[index] === value);
}

/**
 * Reads a PNG or JPEG file (detected by its magic bytes, not its extension) into [0, 1] pixels.
 * Transparent pixels are composited over WHITE, because hand-drawn digits saved with a transparent
 * background would otherwise turn into black-on-black; fully opaque images are unchanged.
 * Greyscale images (grey colour types, or every pixel having R = G = B) come back with 1 channel,
 * everything else with 3. 16-bit PNG samples keep their full precision.
 * Throws NOT_FOUND for a missing file and CORRUPT_FILE for anything that cannot be decoded.
 *
 * @example
 * const image = readImage('digit.png'); // { width, height, channels: 1 | 3, data } in [0, 1]
 */
export function readImage(path: string): ImageData01 {
  let bytes: Buffer;
  try {
    // A FIFO would block the read forever and a huge file would be read whole: look first.
    bytes = readRegularFile(path, { maxBytes: maxImageFileBytes, what: 'image files' });
  } catch (error) {
    if (error instanceof GenloomError && error.code === 'NOT_FOUND') throw new GenloomError('NOT_FOUND', `image file not found: ${path}`, { cause: error });
    throw error;
  }
  return decodeImageBytes(bytes, path);
}

/**
 * Checks that `bytes` are a PNG or JPEG whose structure and declared size are sound (everything
 * decodeImageBytes refuses before decoding), without decoding a pixel; says which format it is.
 * The server runs it on an upload before a worker loads a model for it.
 */
export function checkImageBytes(bytes: Buffer, path: string): 'png' | 'jpeg' {
  if (bytes.length === 0) throw new GenloomError('CORRUPT_FILE', `${path} is empty (0 bytes), not an image`);
  if (startsWith(bytes, PNG_MAGIC)) {
    checkPng(bytes, path);
    return 'png';
  }
  if (!startsWith(bytes, JPEG_MAGIC)) throw new GenloomError('CORRUPT_FILE', `${path} is not a PNG or JPEG image (unrecognised file header)`);
  checkJpeg(bytes, path);
  return 'jpeg';
}

/**
 * Decodes PNG or JPEG bytes (as readImage does); `path` names them in errors. The file's structure
 * and declared size are checked first (image-header.ts): an image over maxImagePixels, or a PNG
 * whose pixel data does not match its header, is refused before a decoder allocates anything.
 */
export function decodeImageBytes(bytes: Buffer, path: string): ImageData01 {
  const isPng = checkImageBytes(bytes, path) === 'png';
  try {
    return isPng ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (error) {
    // Decoder messages are kept to one line: the CLI prints the message alone.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    throw new GenloomError('CORRUPT_FILE', `cannot decode ${isPng ? 'PNG' : 'JPEG'} image ${path}: ${reason}`, { cause: error });
  }
}

function decodePng(bytes: Buffer): ImageData01 {
  // skipRescale keeps 16-bit samples exact; palette images (colour type 3) are expanded to 8 bits.
  const png = PNG.sync.read(bytes, { skipRescale: true });
  const colorType = png.colorType as number;
  const maxValue = colorType === 3 ? 255 : 2 ** png.depth - 1;
  const rgba = png.data as unknown as ArrayLike<number>;
  const greyType = colorType === 0 || colorType === 4;
  return fromRgba(png.width, png.height, rgba, maxValue, greyType ? Infinity : 0);
}

function decodeJpeg(bytes: Buffer): ImageData01 {
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxImagePixels / 1e6, maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB });
  if (decoded.width < 1 || decoded.height < 1) throw new Error('image has no pixels');
  return fromRgba(decoded.width, decoded.height, decoded.data, 255, JPEG_GREY_TOLERANCE);
}

/** RGBA samples in [0, maxValue] → ImageData01, grey when every pixel's channels agree within `greyTolerance`. */
function fromRgba(width: number, height: number, rgba: ArrayLike<number>, maxValue: number, greyTolerance: number): ImageData01 {
  const pixels = width * height;
  if (rgba.length < pixels * 4) throw new Error('pixel data is shorter than the image size');
  const rgb = new Float32Array(pixels * 3);
  let isGrey = true;
  for (let pixel = 0; pixel < pixels; pixel++) {
    const alpha = rgba[pixel * 4 + 3] / maxValue;
    for (let channel = 0; channel < 3; channel++) {
      const value = rgba[pixel * 4 + channel] / maxValue;
      rgb[pixel * 3 + channel] = alpha * value + (1 - alpha);
    }
    if (isGrey && greyTolerance !== Infinity) {
      const red = rgb[pixel * 3], green = rgb[pixel * 3 + 1], blue = rgb[pixel * 3 + 2];
      isGrey = Math.abs(red - green) <= greyTolerance && Math.abs(green - blue) <= greyTolerance;
    }
  }
  const image: ImageData01 = { width, height, channels: 3, data: rgb };
  if (!isGrey) return image;
  if (greyTolerance === 0 || greyTolerance === Infinity) {
    // Exactly equal channels: take one, so an 8-bit grey PNG round-trips exactly.
    const grey = new Float32Array(pixels);
    for (let pixel = 0; pixel < pixels; pixel++) grey[pixel] = rgb[pixel * 3];
    return { width, height, channels: 1, data: grey };
  }
  return toChannels(image, 1);
}

/** Converts between greyscale and RGB: RGB→grey uses ITU-R BT.601 luma weights, grey→RGB repeats the value. */
export function toChannels(image: ImageData01, channels: 1 | 3): ImageData01 {
  assertImage(image, 'toChannels image');
  if (image.channels === channels) return image;
  const pixels = image.width * image.height;
  const data = new Float32Array(pixels * channels);
  const source = image.data;
  if (channels === 1) {
    for (let pixel = 0; pixel < pixels; pixel++) {
      data[pixel] = 0.299 * source[pixel * 3] + 0.587 * source[pixel * 3 + 1] + 0.114 * source[pixel * 3 + 2];
    }
  } else {
    for (let pixel = 0; pixel < pixels; pixel++) data[pixel * 3] = data[pixel * 3 + 1] = data[pixel * 3 + 2] = source[pixel];
  }
  return { width: image.width, height: image.height, channels, data };
}

/** One output sample's source taps along one axis. */
interface Taps { indices: Int32Array; weights: Float32Array; offsets: Int32Array }

/**
 * Taps for resampling `sourceSize` samples to `targetSize`: area averaging when shrinking (each
 * output averages exactly the source span it covers, so a 280→28 digit loses no strokes to
 * aliasing), bilinear with pixel-centre alignment when enlarging.
 */
function axisTaps(sourceSize: number, targetSize: number): Taps {
  const indices: number[] = [];
  const weights: number[] = [];
  const offsets = new Int32Array(targetSize + 1);
  const scale = sourceSize / targetSize;
  for (let target = 0; target < targetSize; target++) {
    offsets[target] = indices.length;
    if (scale >= 1) {
      const start = target * scale, end = start + scale;
      for (let source = Math.floor(start); source < Math.min(Math.ceil(end), sourceSize); source++) {
        const overlap = Math.min(end, source + 1) - Math.max(start, source);
        if (overlap > 0) { indices.push(source); weights.push(overlap / scale); }
      }
    } else {
      const position = Math.min(Math.max((target + 0.5) * scale - 0.5, 0), sourceSize - 1);
      const low = Math.floor(position), fraction = position - low;
      indices.push(low); weights.push(1 - fraction);
      if (fraction > 0) { indices.push(low + 1); weights.push(fraction); }
    }
  }
  offsets[targetSize] = indices.length;
  return { indices: Int32Array.from(indices), weights: Float32Array.from(weights), offsets };
}

/** Resizes to width × height: area averaging on an axis that shrinks, bilinear on one that grows. */
export function resizeImage(image: ImageData01, width: number, height: number): ImageData01 {
  assertImage(image, 'resizeImage image');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new GenloomError('BAD_ARGUMENT', `resizeImage: target size must be positive integers, got ${width}x${height}`);
  }
  if (width === image.width && height === image.height) return { ...image, data: image.data.slice() };
  const channels = image.channels;
  const xTaps = axisTaps(image.width, width);
  const yTaps = axisTaps(image.height, height);
  // Separable: resample rows first (source height × target width), then columns.
  const rows = new Float32Array(image.height * width * channels);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      for (let tap = xTaps.offsets[x]; tap < xTaps.offsets[x + 1]; tap++) {
        const from = (y * image.width + xTaps.indices[tap]) * channels, to = (y * width + x) * channels;
        for (let channel = 0; channel < channels; channel++) rows[to + channel] += xTaps.weights[tap] * image.data[from + channel];
      }
    }
  }
  const data = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let tap = yTaps.offsets[y]; tap < yTaps.offsets[y + 1]; tap++) {
      const weight = yTaps.weights[tap], fromRow = yTaps.indices[tap] * width * channels, toRow = y * width * channels;
      for (let index = 0; index < width * channels; index++) data[toRow + index] += weight * rows[fromRow + index];
    }
  }
  return { width, height, channels, data };
}

/**
 * Encodes an image as an 8-bit greyscale or RGB PNG; values are clamped to [0, 1] and rounded (NaN → 0).
 *
 * @example
 * const bytes = encodePng({ width: 2, height: 1, channels: 1, data: Float32Array.of(0, 1) }); // black, white
 */
export function encodePng(image: ImageData01): Buffer {
  assertImage(image, 'encodePng image');
  const bytes = Buffer.alloc(image.data.length);
  for (let index = 0; index < bytes.length; index++) {
    const value = image.data[index];
    bytes[index] = value > 0 ? Math.round(Math.min(value, 1) * 255) : 0;
  }
  const colorType = image.channels === 1 ? 0 : 2;
  // pngjs only reads width/height/data/gamma from its first argument, so a plain object suffices.
  const source = { width: image.width, height: image.height, data: bytes, gamma: 0 } as unknown as PNG;
  return PNG.sync.write(source, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

/**
 * Writes `image` as a PNG at `path`, atomically, creating the parent directory.
 *
 * @example
 * writePng('out/red.png', { width: 1, height: 1, channels: 3, data: Float32Array.of(1, 0, 0) });
 */
export function writePng(path: string, image: ImageData01): void {
  writeFileAtomic(path, encodePng(image));
}

/** Options for {@link imageGrid}. */
export interface GridOptions {
  /** Images per row; default ceil(sqrt(n)), never more than n. */
  columns?: number;
  /** Pixels of background around and between tiles; default 2. */
  padding?: number;
  /** Background level in [0, 1]; default 0.5 grey so both black-on-white and white-on-black tiles stand out. */
  background?: number;
}

/**
 * Tiles same-size images into a grid, row by row. Mixed grey and RGB inputs give an RGB grid.
 * Throws BAD_ARGUMENT on an empty list, mismatched sizes or bad options.
 *
 * @example
 * writePng('grid.png', imageGrid(tensorToImages(batch), { columns: 8, padding: 0 }));
 */
export function imageGrid(images: ImageData01[], options: GridOptions = {}): ImageData01 {
  if (images.length === 0) throw new GenloomError('BAD_ARGUMENT', 'imageGrid: no images to tile');
  images.forEach((image, index) => assertImage(image, `imageGrid image ${index}`));
  const { width, height } = images[0];
  const mismatch = images.findIndex((image) => image.width !== width || image.height !== height);
  if (mismatch >= 0) {
    const other = images[mismatch];
    throw new GenloomError('BAD_ARGUMENT', `imageGrid: image ${mismatch} is ${other.width}x${other.height} but image 0 is ${width}x${height}; all tiles must be the same size`);
  }
  const columns = Math.min(options.columns ?? Math.ceil(Math.sqrt(images.length)), images.length);
  const padding = options.padding ?? 2;
  const background = options.background ?? 0.5;
  if (!Number.isInteger(columns) || columns < 1) throw new GenloomError('BAD_ARGUMENT', `imageGrid: columns must be a positive integer, got ${options.columns}`);
  if (!Number.isInteger(padding) || padding < 0) throw new GenloomError('BAD_ARGUMENT', `imageGrid: padding must be a non-negative integer, got ${padding}`);
  if (!(background >= 0 && background <= 1)) throw new GenloomError('BAD_ARGUMENT', `imageGrid: background must be in [0, 1], got ${background}`);
  const channels: 1 | 3 = images.some((image) => image.channels === 3) ? 3 : 1;
  const rows = Math.ceil(images.length / columns);
  const gridWidth = columns * width + (columns + 1) * padding;
  const gridHeight = rows * height + (rows + 1) * padding;
  const data = new Float32Array(gridWidth * gridHeight * channels).fill(background);
  images.forEach((original, index) => {
    const tile = toChannels(original, channels);
    const left = padding + (index % columns) * (width + padding);
    const top = padding + Math.floor(index / columns) * (height + padding);
    for (let y = 0; y < height; y++) {
      const rowStart = y * width * channels;
      data.set(tile.data.subarray(rowStart, rowStart + width * channels), ((top + y) * gridWidth + left) * channels);
    }
  });
  return { width: gridWidth, height: gridHeight, channels, data };
}

/** Tiles images in a single row (same rules and defaults as {@link imageGrid}). */
export function imageStrip(images: ImageData01[], options: Omit<GridOptions, 'columns'> = {}): ImageData01 {
  return imageGrid(images, { ...options, columns: Math.max(images.length, 1) });
}

/**
 * Enlarges by an integer factor with nearest-neighbour sampling, so small digits stay crisp.
 *
 * @example
 * writePng('big.png', scaleUp(readImage('digit.png'), 4)); // 28×28 → 112×112
 */
export function scaleUp(image: ImageData01, factor: number): ImageData01 {
  assertImage(image, 'scaleUp image');
  if (!Number.isInteger(factor) || factor < 1) throw new GenloomError('BAD_ARGUMENT', `scaleUp: factor must be a positive integer, got ${factor}`);
  if (factor === 1) return { ...image, data: image.data.slice() };
  const { channels } = image;
  const width = image.width * factor, height = image.height * factor;
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sourceRow = Math.floor(y / factor) * image.width;
    for (let x = 0; x < width; x++) {
      const from = (sourceRow + Math.floor(x / factor)) * channels, to = (y * width + x) * channels;
      for (let channel = 0; channel < channels; channel++) data[to + channel] = image.data[from + channel];
    }
  }
  return { width, height, channels, data };
}
