/**
 * Reading safetensors files from disk. The format itself (encode, decode, validation) lives in
 * safetensors-format.ts, which has no Node imports so the browser can use it; it is re-exported
 * here so callers keep importing from this module.
 */
import { readFileSync } from 'node:fs';
import { GenloomError } from '../core/errors.ts';
import { decodeSafetensors, type SafetensorsFile } from './safetensors-format.ts';

export { decodeSafetensors, encodeSafetensors, type SafetensorsDtype, type SafetensorsFile, type StoredTensor } from './safetensors-format.ts';

/** Reads and parses a safetensors file, with errors that name it. */
export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new GenloomError('NOT_FOUND', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  return decodeSafetensors(bytes, path);
}
