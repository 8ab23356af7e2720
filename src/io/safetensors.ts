/**
 * Reading safetensors files from disk. The format itself (encode, decode, validation) lives in
 * safetensors-format.ts, which has no Node imports so the browser can use it; it is re-exported
 * here so callers keep importing from this module.
 */
import { closeSync } from 'node:fs';
import { decodeSafetensors, parseSafetensorsLayout, safetensorsHeaderLength, type SafetensorsFile, type SafetensorsLayout } from './safetensors-format.ts';
import { openRegularFile, readExactly } from './regular-file.ts';

export { decodeSafetensors, encodeSafetensors, storedValues, type SafetensorsDtype, type SafetensorsFile, type SafetensorsLayout, type StoredTensor } from './safetensors-format.ts';

/** The largest safetensors file read: Node reads at most 2 GiB into one buffer. */
const maxSafetensorsBytes = 2 ** 31 - 1;

/**
 * Reads and parses a safetensors file, with errors that name it. Only a regular file is opened (a
 * FIFO would block forever), and its header is read and checked against the file's size first, so
 * a file whose header lies (or a large sparse file) is refused before its data is read.
 *
 * @example
 * const { tensors } = readSafetensors('models/vae-mnist/model.safetensors');
 */
export function readSafetensors(path: string): SafetensorsFile {
  return withFile(path, (descriptor, size) => {
    readLayout(descriptor, size, path);
    return decodeSafetensors(readExactly(descriptor, path, 0, size), path);
  });
}

/**
 * A safetensors file's validated header alone (every check readSafetensors makes but reading the
 * tensors' data): what it holds, read in a few kilobytes.
 *
 * @example
 * storedValues(readSafetensorsLayout('models/vae-mnist/model.safetensors')); // the number of weights
 */
export function readSafetensorsLayout(path: string): SafetensorsLayout {
  return withFile(path, (descriptor, size) => readLayout(descriptor, size, path));
}

function withFile<T>(path: string, read: (descriptor: number, size: number) => T): T {
  const { descriptor, size } = openRegularFile(path, { maxBytes: maxSafetensorsBytes, what: 'safetensors files' });
  try {
    return read(descriptor, size);
  } finally {
    closeSync(descriptor);
  }
}

function readLayout(descriptor: number, size: number, path: string): SafetensorsLayout {
  const headerLength = safetensorsHeaderLength(readExactly(descriptor, path, 0, Math.min(8, size)), size, path);
  return parseSafetensorsLayout(readExactly(descriptor, path, 0, 8 + headerLength), size, path);
}
