/**
 * JSON from text, with the one-line error every genloom reader gives for a file that does not
 * parse: `path is not valid JSON (the parser's reason)`. No file access, so the browser uses it too.
 */
import { GenloomError } from '../core/errors.ts';

export function parseJsonText<T = unknown>(text: string, path: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw invalidJson(path, error);
  }
}

/** The error for `path` that could not be read or parsed as JSON. */
export function invalidJson(path: string, error: unknown): GenloomError {
  return new GenloomError('CORRUPT_FILE', `${path} is not valid JSON (${(error as Error).message})`);
}
