/**
 * The safetensors format (https://github.com/huggingface/safetensors), so PyTorch users can read
 * genloom weights with `safetensors.torch.load_file`:
 *   8 bytes   little-endian u64 N, the header's length
 *   N bytes   UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {…} }
 *   rest      the tensors' bytes, little-endian, row-major, offsets relative to the end of the header
 * We write F32 and I32, tensors sorted by name and packed without gaps, and validate everything on
 * read, because a truncated or hand-edited file must give an error that names it, never garbage.
 * Half-precision tensors (F16, BF16, as other tools often save) are read and widened to F32.
 *
 * This module uses no Node APIs, so the studio's in-browser mode decodes fetched weights with it;
 * safetensors.ts adds reading from disk and re-exports everything here.
 */
import { GenloomError } from '../core/errors.ts';

export type SafetensorsDtype = 'F32' | 'I32';

export interface StoredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

// TextEncoder/TextDecoder rather than Node's Buffer, so this module runs in a browser; ignoreBOM
// keeps a leading U+FEFF in the text (as Buffer's toString does), so such a header stays invalid JSON.
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, I32: 4 };

function elementCount(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/**
 * Serialises tensors (and string metadata) to safetensors bytes.
 *
 * @example
 * const bytes = encodeSafetensors({ bias: { dtype: 'F32', shape: [2], data: Float32Array.of(0, 1) } }, { step: '0' });
 */
export function encodeSafetensors(
  tensors: Record<string, StoredTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors[name]!;
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new GenloomError(
        'SHAPE_MISMATCH',
        `tensor "${name}" has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}]`,
      );
    }
    const length = tensor.data.length * bytesPerElement[tensor.dtype];
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  // The spec lets the header be padded with spaces; 8-byte alignment keeps the data aligned for
  // readers that map it directly.
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + utf8Encoder.encode(headerText).length) % 8)) % 8);
  const headerBytes = utf8Encoder.encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const data = tensors[name]!.data;
    // Typed arrays are little-endian on every platform Node and the browsers run on.
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes; `source` names the file in error messages.
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(bytes, 'model.safetensors'); // tensors.get('bias')?.shape: [2]
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const corrupt = (problem: string) =>
    new GenloomError('CORRUPT_FILE', `${source} is not a valid safetensors file: ${problem}`);
  if (bytes.length < 8) throw corrupt(`only ${bytes.length} bytes (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength < 2 || 8 + headerLength > bytes.length) {
    throw corrupt(`header length ${headerLength} does not fit in ${bytes.length} bytes (truncated?)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(utf8Decoder.decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw corrupt('its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw corrupt('its header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as {
      dtype?: unknown;
      shape?: unknown;
      data_offsets?: unknown;
    };
    if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw corrupt(`tensor "${name}" has dtype ${String(dtype)}; genloom reads F32, I32, F16 and BF16`);
    }
    if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size) && size >= 0)) {
      throw corrupt(`tensor "${name}" has a bad shape`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((value) => Number.isInteger(value) && value >= 0)
    ) {
      throw corrupt(`tensor "${name}" has bad data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = elementCount(shape as number[]) * (dtype === 'F16' || dtype === 'BF16' ? 2 : bytesPerElement[dtype]);
    if (end - begin !== expectedBytes) {
      throw corrupt(`tensor "${name}" has ${end - begin} bytes for shape [${shape.join(', ')}]`);
    }
    if (end > dataLength) {
      throw corrupt(`tensor "${name}" ends at byte ${end} but the data has ${dataLength} (truncated?)`);
    }
    // Copy into a fresh, aligned buffer: the file's offsets need not be 4-byte aligned (and a Node
    // Buffer's slice() is a view into a shared pool, not a copy).
    const raw = new Uint8Array(end - begin);
    raw.set(bytes.subarray(dataStart + begin, dataStart + end));
    if (dtype === 'F16' || dtype === 'BF16') {
      tensors.set(name, { dtype: 'F32', shape: shape as number[], data: widenHalf(new Uint16Array(raw.buffer), dtype) });
      continue;
    }
    const data = dtype === 'F32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    tensors.set(name, { dtype, shape: shape as number[], data });
  }
  return { tensors, metadata };
}

/** IEEE half (F16) or bfloat16 (BF16) bit patterns as float32 values. */
function widenHalf(bits: Uint16Array, dtype: 'F16' | 'BF16'): Float32Array {
  const out = new Float32Array(bits.length);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    new Uint32Array(out.buffer).set(Array.from(bits, (value) => value << 16));
    return out;
  }
  for (let i = 0; i < bits.length; i++) {
    const value = bits[i]!;
    const sign = value & 0x8000 ? -1 : 1;
    const exponent = (value >> 10) & 0x1f;
    const fraction = value & 0x3ff;
    out[i] = exponent === 0 ? sign * 2 ** -14 * (fraction / 1024) : exponent === 31 ? (fraction ? NaN : sign * Infinity) : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return out;
}
