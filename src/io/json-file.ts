/**
 * A JSON file read and parsed. A missing file is NOT_FOUND, a FIFO, directory or device is refused
 * unopened (regular-file.ts), and one that cannot be read or does not parse is a CORRUPT_FILE error
 * naming it.
 */
import { GenloomError } from '../core/errors.ts';
import { invalidJson } from './json.ts';
import { readRegularFile } from './regular-file.ts';

export function readJsonFile<T = unknown>(path: string): T {
  try {
    return JSON.parse(readRegularFile(path).toString('utf8')) as T;
  } catch (error) {
    if (error instanceof GenloomError) throw error;
    throw invalidJson(path, error);
  }
}
