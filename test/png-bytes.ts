/**
 * PNG files written byte by byte, for tests of hostile input (issue 27): chunks with real CRCs,
 * any IHDR (sizes no encoder would write), any IDAT. Independent of pngjs's encoder and of our own
 * header check, so the checks are tested against files built another way.
 */
import zlib from 'node:zlib';
import { crc32 } from '../src/io/image-header.ts';

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An IHDR chunk declaring `width`×`height` (colour type 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA). */
export function ihdr(width: number, height: number, bitDepth: number, colorType: number, interlace = 0): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.set([bitDepth, colorType, 0, 0, interlace], 8);
  return pngChunk('IHDR', data);
}

/** A PNG of the given IHDR whose IDAT is `scanlines` deflated (filter bytes included, any length), plus extra chunks before IDAT. */
export function pngFile(header: Buffer, scanlines: Uint8Array, before: Buffer[] = []): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, header, ...before, pngChunk('IDAT', zlib.deflateSync(scanlines)), pngChunk('IEND')]);
}

/** Unfiltered scanlines (filter byte 0) of `rows`, each row already packed to bytes. */
export function scanlines(rows: number[][]): Uint8Array {
  return Uint8Array.from(rows.flatMap((row) => [0, ...row]));
}
