/**
 * The safetensors format (https://github.com/huggingface/safetensors), so PyTorch users can read
 * genloom weights with `safetensors.torch.load_file`:
 *   8 bytes   little-endian u64 N, the header's length
 *   N bytes   UTF-8 JSON: { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {…} }
 *   rest      the tensors' bytes, little-endian, row-major, offsets relative to the end of the header
 * We write F32 and I32 (F32 as F16 on request: shipped starter models, half the size), tensors
 * sorted by name and packed without gaps, and validate everything on read, because a truncated or
 * hand-edited file must give an error that names it, never garbage. Half-precision tensors (F16,
 * BF16, as other tools often save) are read and widened to F32.
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
  options: { halfPrecision?: boolean } = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const stored = new Map<string, { dtype: string; bytes: Uint8Array }>();
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
    const half = options.halfPrecision && tensor.dtype === 'F32';
    const data = half ? narrowToHalf(tensor.data as Float32Array, name) : tensor.data;
    // Typed arrays are little-endian on every platform Node and the browsers run on.
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    stored.set(name, { dtype: half ? 'F16' : tensor.dtype, bytes });
    header[name] = { dtype: half ? 'F16' : tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
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
    const { bytes } = stored.get(name)!;
    out.set(bytes, position);
    position += bytes.length;
  }
  return out;
}

const floatView = new Float32Array(1);
const bitsView = new Uint32Array(floatView.buffer);

/** Float32 values as IEEE half bit patterns, rounded to nearest even; a value beyond half's range is an error naming the tensor. */
export function narrowToHalf(values: Float32Array, name: string): Uint16Array {
  const out = new Uint16Array(values.length);
  const unstorable = (value: number) => new GenloomError('BAD_ARGUMENT', `tensor "${name}" holds ${value}, which half precision cannot store: keep it in F32`);
  for (let i = 0; i < values.length; i++) {
    floatView[0] = values[i]!;
    const bits = bitsView[0]!;
    const sign = (bits >>> 16) & 0x8000;
    const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
    let mantissa = bits & 0x7fffff;
    if (((bits >>> 23) & 0xff) === 0xff || exponent >= 0x1f) throw unstorable(values[i]!);
    if (exponent <= 0) {
      // Subnormal halves (or zero): the implicit bit joins the mantissa, shifted into place.
      if (exponent < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - exponent;
      let half = mantissa >>> shift;
      const rest = mantissa & ((1 << shift) - 1);
      const midpoint = 1 << (shift - 1);
      if (rest > midpoint || (rest === midpoint && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = sign | (exponent << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    // A carry out of the mantissa moves into the exponent, which is the right rounding too.
    if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
    if ((half & 0x7c00) === 0x7c00) throw unstorable(values[i]!);
    out[i] = half;
  }
  return out;
}

/** The most header bytes read, as the reference implementation allows (its MAX_HEADER_SIZE). */
export const maxSafetensorsHeaderBytes = 100_000_000;

/** One tensor as its header entry describes it, checked against the file. */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype | 'F16' | 'BF16';
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed, validated header: where the data starts, the tensors in file order, the metadata. */
export interface SafetensorsLayout {
  dataStart: number;
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

const corruptFile = (source: string, problem: string) =>
  new GenloomError('CORRUPT_FILE', `${source} is not a valid safetensors file: ${problem}`);

const describe = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));

/**
 * The header's length from a file's first 8 bytes (a u64, read as a BigInt so that 2^63 stays
 * 2^63), checked against the file's length before anything that long is read.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileLength: number, source: string): number {
  if (prefix.length < 8 || fileLength < 8) throw corruptFile(source, `only ${fileLength} bytes (truncated?)`);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length < 2n || 8n + length > BigInt(fileLength)) {
    throw corruptFile(source, `header length ${length} does not fit in ${fileLength} bytes (truncated?)`);
  }
  if (length > BigInt(maxSafetensorsHeaderBytes)) {
    throw corruptFile(source, `its header is ${length} bytes; safetensors headers are at most ${maxSafetensorsHeaderBytes}`);
  }
  return Number(length);
}

/**
 * Parses and validates a header as the reference implementation does: each tensor's dtype, shape
 * and byte range; the ranges packed end to end from the start of the data, without overlaps or
 * gaps, ending exactly at the end of the file (`fileLength` bytes). `bytes` holds at least the
 * first 8 + header-length bytes. Names JavaScript objects reserve (`__proto__`, `constructor`, …)
 * are refused, so no caller that looks a name up in a plain object can be misled by one.
 */
export function parseSafetensorsLayout(bytes: Uint8Array, fileLength: number, source: string): SafetensorsLayout {
  const corrupt = (problem: string) => corruptFile(source, problem);
  const headerLength = safetensorsHeaderLength(bytes, fileLength, source);
  if (bytes.length < 8 + headerLength) throw corrupt('its header is cut off (truncated?)');
  let header: unknown;
  try {
    header = JSON.parse(utf8Decoder.decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw corrupt('its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw corrupt('its header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileLength - dataStart;
  const entries: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  // JSON.parse makes every key an own property, "__proto__" included; Object.entries lists them all.
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, corrupt);
      continue;
    }
    if (name in Object.prototype) throw corrupt(`it names a tensor "${name}", a name JavaScript objects reserve`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw corrupt(`tensor "${name}" is not described by a JSON object`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw corrupt(`tensor "${name}" has dtype ${describe(dtype)}; genloom reads F32, I32, F16 and BF16`);
    }
    if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
      throw corrupt(`tensor "${name}" has a bad shape ${describe(shape)} (sizes must be whole numbers, 0 or more)`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((value) => Number.isSafeInteger(value) && value >= 0) || offsets[0] > offsets[1]) {
      throw corrupt(`tensor "${name}" has bad data_offsets ${describe(offsets)} (two whole numbers, begin <= end)`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = elementCount(shape) * (dtype === 'F16' || dtype === 'BF16' ? 2 : bytesPerElement[dtype]);
    if (end - begin !== expectedBytes) {
      throw corrupt(`tensor "${name}" has ${end - begin} bytes for shape [${shape.join(', ')}]`);
    }
    if (end > dataLength) {
      throw corrupt(`tensor "${name}" ends at byte ${end} but the data has ${dataLength} (truncated?)`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // Packed end to end: a tensor that overlaps another would alias its bytes, a gap or trailing
  // bytes mean a file the reference reader refuses.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: TensorEntry | undefined;
  for (const entry of byOffset) {
    if (entry.begin < position) {
      throw corrupt(`tensors "${previous!.name}" and "${entry.name}" overlap (bytes ${entry.begin} to ${Math.min(entry.end, position)})`);
    }
    if (entry.begin > position) throw corrupt(`${entry.begin - position} bytes before tensor "${entry.name}" belong to no tensor`);
    position = entry.end;
    previous = entry;
  }
  if (position < dataLength) throw corrupt(`${dataLength - position} bytes after its last tensor belong to no tensor`);
  return { dataStart, entries, metadata };
}

/** How many values the tensors of a layout hold together. */
export function storedValues(layout: SafetensorsLayout): number {
  return layout.entries.reduce((sum, entry) => sum + elementCount(entry.shape), 0);
}

/** `__metadata__` is a map from strings to strings (the format says so; we look up "step" in it). */
function parseMetadata(entry: unknown, corrupt: (problem: string) => GenloomError): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw corrupt('its __metadata__ is not a JSON object');
  const values = Object.entries(entry);
  const bad = values.find(([, value]) => typeof value !== 'string');
  if (bad) throw corrupt(`its __metadata__ "${bad[0]}" is ${describe(bad[1])}, not a string`);
  // fromEntries defines own properties, so a "__proto__" key stays a key, not a prototype.
  return Object.fromEntries(values) as Record<string, string>;
}

/**
 * Parses safetensors bytes; `source` names the file in error messages.
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(bytes, 'model.safetensors'); // tensors.get('bias')?.shape: [2]
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const { dataStart, entries, metadata } = parseSafetensorsLayout(bytes, bytes.length, source);
  const tensors = new Map<string, StoredTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // Copy into a fresh, aligned buffer: the file's offsets need not be 4-byte aligned (and a Node
    // Buffer's slice() is a view into a shared pool, not a copy).
    const raw = new Uint8Array(end - begin);
    raw.set(bytes.subarray(dataStart + begin, dataStart + end));
    if (dtype === 'F16' || dtype === 'BF16') {
      tensors.set(name, { dtype: 'F32', shape, data: widenHalf(new Uint16Array(raw.buffer), dtype) });
      continue;
    }
    const data = dtype === 'F32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    tensors.set(name, { dtype, shape, data });
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
