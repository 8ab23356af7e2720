/** A JSON file read and parsed; one that cannot be read or does not parse is a CORRUPT_FILE error naming it. */
import { readFileSync } from 'node:fs';
import { invalidJson } from './json.ts';

export function readJsonFile<T = unknown>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw invalidJson(path, error);
  }
}
