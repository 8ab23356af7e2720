/**
 * Checks a PNG or JPEG file's structure from its own bytes BEFORE a decoder sees it, so a hostile
 * file is refused in milliseconds with one line that names it, and no decoder allocates what a
 * header merely claims:
 *   - the image's declared size (PNG IHDR, JPEG SOF) must be at least 1x1 and at most
 *     maxImagePixels, checked before anything of that size is allocated;
 *   - a PNG's chunks must lie inside the file with correct CRCs, from IHDR through IEND;
 *   - a PNG's IDAT data must inflate to exactly the bytes its header implies. pngjs decodes a
 *     short IDAT into memory it allocated uninitialised (Buffer.allocUnsafe), so such a file gave
 *     different pixels, or a different error, on every read; inflating here (capped at the
 *     expected size plus one byte, so a zip bomb stops there) makes it one stable error.
 * Only the structure is checked; the decoders (pngjs, jpeg-js) still decode the pixels.
 */
import zlib from 'node:zlib';
import { GenloomError } from '../core/errors.ts';

/**
 * The most pixels genloom decodes from one image: 16.8 megapixels, e.g. 4096x4096. A model reads
 * at most a few hundred pixels a side; the bound keeps a file's claimed size from allocating
 * gigabytes (at this size a decoded image already takes about 200 MB as float32 RGB).
 */
export const maxImagePixels = 4096 * 4096;

const megapixels = (maxImagePixels / 1e6).toFixed(1);

/** The one message for a declared size outside 1x1 .. maxImagePixels. */
function checkDimensions(width: number, height: number, path: string, format: string): void {
  if (width < 1 || height < 1) {
    throw new GenloomError('CORRUPT_FILE', `${path} is not a valid ${format} image: its header says ${width}x${height} pixels (an image has at least 1x1)`);
  }
  if (width * height > maxImagePixels) {
    throw new GenloomError('CORRUPT_FILE', `${path} is ${width}x${height} pixels; genloom reads images up to ${megapixels} megapixels (e.g. 4096x4096)`);
  }
}

// ---------------------------------------------------------------------------------------------
// PNG (https://www.w3.org/TR/png/): an 8-byte signature, then chunks of
//   length (u32 BE) · type (4 ASCII letters) · data (length bytes) · CRC-32 of type and data.

/** What IHDR says. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** Samples per pixel of each colour type: grey, RGB, palette index, grey+alpha, RGBA. */
const pngChannels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const pngColorNames: Record<number, string> = { 0: 'grey', 2: 'RGB', 3: 'palette', 4: 'grey+alpha', 6: 'RGBA' };
/** The bit depths the PNG specification allows for each colour type. */
const pngBitDepths: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7's seven passes: [first column, column step, first row, row step]. */
const adam7Passes = [[0, 8, 0, 8], [4, 8, 0, 8], [0, 4, 4, 8], [2, 4, 0, 4], [0, 2, 2, 4], [1, 2, 0, 2], [0, 1, 1, 2]] as const;

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as PNG and zlib use it) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let index = 0; index < bytes.length; index++) crc = crcTable[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A chunk type as text for a message: the four letters, or hex bytes when they are not letters. */
function chunkName(type: Uint8Array): string {
  const text = String.fromCharCode(...type);
  return /^[A-Za-z]{4}$/.test(text) ? text : `0x${Buffer.from(type).toString('hex')}`;
}

/** The bytes of unfiltered scanlines (each with its filter-type byte) that a PNG of this header holds. */
export function pngDataSize(header: PngHeader): number {
  const bitsPerPixel = pngChannels[header.colorType]! * header.bitDepth;
  const rowBytes = (width: number) => 1 + Math.ceil((width * bitsPerPixel) / 8);
  if (!header.interlaced) return header.height * rowBytes(header.width);
  let total = 0;
  for (const [firstColumn, columnStep, firstRow, rowStep] of adam7Passes) {
    const columns = Math.ceil((header.width - firstColumn) / columnStep);
    const rows = Math.ceil((header.height - firstRow) / rowStep);
    // An empty pass (a tiny image) has no scanlines at all, not even filter bytes.
    if (columns > 0 && rows > 0) total += rows * rowBytes(columns);
  }
  return total;
}

/**
 * Checks a PNG's structure (see the file comment) and returns its header; throws CORRUPT_FILE,
 * naming `path`, for anything a decoder should not be given.
 */
export function checkPng(bytes: Uint8Array, path: string): PngHeader {
  const corrupt = (problem: string) => new GenloomError('CORRUPT_FILE', `${path} is not a valid PNG image: ${problem}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | undefined;
  let hasPalette = false;
  let ended = false;
  const compressed: Uint8Array[] = [];
  for (let offset = 8; !ended; ) {
    if (offset + 12 > bytes.length) {
      throw corrupt(offset === bytes.length ? `it ends after ${offset} bytes with no IEND chunk (truncated?)` : `it ends inside a chunk header at byte ${offset} (truncated?)`);
    }
    const length = view.getUint32(offset);
    const type = bytes.subarray(offset + 4, offset + 8);
    const name = chunkName(type);
    if (length > 0x7fffffff || offset + 12 + length > bytes.length) {
      throw corrupt(`its ${name} chunk at byte ${offset} claims ${length} bytes but the file has ${bytes.length - offset - 12} left (truncated?)`);
    }
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const storedCrc = view.getUint32(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== storedCrc) {
      throw corrupt(`its ${name} chunk at byte ${offset} has a bad CRC (the file is damaged)`);
    }
    if (!header && name !== 'IHDR') throw corrupt(`its first chunk is ${name}, not IHDR`);
    if (name === 'IHDR') {
      if (header) throw corrupt('it has two IHDR chunks');
      header = parsePngHeader(data, path, corrupt);
    } else if (name === 'PLTE') {
      hasPalette = true;
    } else if (name === 'IDAT') {
      compressed.push(data);
    } else if (name === 'IEND') {
      ended = true;
    }
    offset += 12 + length;
  }
  header = header!;
  if (header.colorType === 3 && !hasPalette) throw corrupt('it is a palette image without a PLTE chunk');
  if (compressed.length === 0) throw corrupt('it has no IDAT chunk (no pixel data)');
  checkPngData(Buffer.concat(compressed), header, corrupt);
  return header;
}

function parsePngHeader(data: Uint8Array, path: string, corrupt: (problem: string) => GenloomError): PngHeader {
  if (data.length !== 13) throw corrupt(`its IHDR chunk has ${data.length} bytes, not 13`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header: PngHeader = {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: data[8]!,
    colorType: data[9]!,
    interlaced: data[12] === 1,
  };
  checkDimensions(header.width, header.height, path, 'PNG');
  const depths = pngBitDepths[header.colorType];
  if (!depths) throw corrupt(`its colour type ${header.colorType} does not exist (PNG has 0, 2, 3, 4 and 6)`);
  if (!depths.includes(header.bitDepth)) {
    throw corrupt(`bit depth ${header.bitDepth} is not allowed for ${pngColorNames[header.colorType]} images (allowed: ${depths.join(', ')})`);
  }
  if (data[10] !== 0 || data[11] !== 0) throw corrupt(`it uses compression method ${data[10]} and filter method ${data[11]}; PNG defines only 0`);
  if (data[12]! > 1) throw corrupt(`it uses interlace method ${data[12]}; PNG defines 0 (none) and 1 (Adam7)`);
  return header;
}

/** The IDAT stream must inflate to exactly pngDataSize(header) bytes: no less (pngjs would read uninitialised memory), no more. */
function checkPngData(compressed: Buffer, header: PngHeader, corrupt: (problem: string) => GenloomError): void {
  const expected = pngDataSize(header);
  const description = `${header.width}x${header.height} ${header.bitDepth}-bit ${pngColorNames[header.colorType]}${header.interlaced ? ' interlaced' : ''} image`;
  const tooMuch = () => corrupt(`its pixel data inflates to more than the ${expected} bytes a ${description} holds`);
  let inflated: Buffer;
  try {
    inflated = zlib.inflateSync(compressed, { maxOutputLength: expected + 1 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw tooMuch();
    if (code === 'Z_BUF_ERROR') throw corrupt('its compressed pixel data (IDAT) is cut off (truncated?)');
    throw corrupt(`its compressed pixel data (IDAT) is not valid zlib data (${(error as Error).message})`);
  }
  if (inflated.length > expected) throw tooMuch();
  if (inflated.length < expected) {
    throw corrupt(`its pixel data holds ${inflated.length} bytes but a ${description} needs ${expected} (truncated or damaged)`);
  }
}

// ---------------------------------------------------------------------------------------------
// JPEG (ITU T.81): SOI (FF D8), then segments, each a marker FF xx and, except for the standalone
// markers, a u16 BE length that counts itself; the frame header (SOFn) gives the image's size.

/** The frame markers jpeg-js decodes: baseline, extended and progressive Huffman-coded DCT. */
const decodableFrames = new Set([0xc0, 0xc1, 0xc2]);
/** C4 (DHT), C8 (reserved) and CC (DAC) share the SOFn range but are not frame headers. */
const isFrameMarker = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** What a JPEG's frame header says. */
export interface JpegHeader {
  width: number;
  height: number;
  components: number;
}

/**
 * Finds a JPEG's frame header (SOF) and checks its size and kind before jpeg-js allocates for it;
 * throws CORRUPT_FILE, naming `path`, for a file without one or one genloom cannot decode.
 */
export function checkJpeg(bytes: Uint8Array, path: string): JpegHeader {
  const corrupt = (problem: string) => new GenloomError('CORRUPT_FILE', `${path} is not a valid JPEG image: ${problem}`);
  let offset = 2;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) throw corrupt(`expected a marker at byte ${offset}, found 0x${bytes[offset]!.toString(16)}`);
    let marker = bytes[++offset];
    while (marker === 0xff) marker = bytes[++offset]; // fill bytes before a marker
    offset++;
    if (marker === undefined) break;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // standalone markers
    if (marker === 0xd9) throw corrupt('it ends (EOI) before any frame header (SOF)');
    if (marker === 0xda) throw corrupt('its image data (SOS) starts before any frame header (SOF)');
    if (offset + 2 > bytes.length) break;
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
    if (length < 2 || offset + length > bytes.length) {
      throw corrupt(`its segment 0xff${marker.toString(16)} at byte ${offset - 2} claims ${length} bytes but the file has ${bytes.length - offset} left (truncated?)`);
    }
    if (isFrameMarker(marker)) {
      if (length < 8) throw corrupt(`its frame header (SOF) has ${length} bytes, too few`);
      const height = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
      const width = (bytes[offset + 5]! << 8) | bytes[offset + 6]!;
      const components = bytes[offset + 7]!;
      checkDimensions(width, height, path, 'JPEG');
      if (!decodableFrames.has(marker)) {
        throw corrupt(`it is coded as SOF${marker - 0xc0} (lossless, hierarchical or arithmetic); genloom reads baseline and progressive JPEGs`);
      }
      if (components < 1 || components > 4) throw corrupt(`its frame has ${components} colour components (1 to 4 exist)`);
      return { width, height, components };
    }
    offset += length;
  }
  throw corrupt(`it ends after ${bytes.length} bytes with no frame header (SOF) (truncated?)`);
}
