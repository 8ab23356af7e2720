/**
 * The one error type genloom throws for problems a user can act on. The CLI prints `message` alone
 * (one line); `--debug` adds the stack. `code` lets scripts and the HTTP API tell kinds apart.
 */
export type GenloomErrorCode =
  | 'BAD_ARGUMENT'
  | 'NOT_FOUND'
  | 'CORRUPT_FILE'
  | 'WRONG_FAMILY'
  | 'SHAPE_MISMATCH'
  | 'EMPTY_DATASET'
  | 'UNSUPPORTED'
  | 'TOO_COSTLY'
  | 'BACKEND';

/**
 * A message may name request fields as `{fieldName}` (e.g. "give {label} or {prompt}, not both"):
 * the library speaks of fields, and each shell says them in its own words. `message` names them
 * plainly (`label`); the CLI renders them as flags (`--label`), the HTTP API as JSON keys (`"label"`).
 */
const fieldToken = /\{([a-zA-Z][a-zA-Z0-9]*)\}/g;

/**
 * A problem a user can act on (see the top of this file): `code` says its kind, `message` is one line.
 *
 * @example
 * try {
 *   loadModel('runs/missing');
 * } catch (error) {
 *   if (error instanceof GenloomError && error.code === 'NOT_FOUND') console.error(error.message);
 * }
 */
export class GenloomError extends Error {
  readonly code: GenloomErrorCode;
  /** The message with its `{field}` tokens unrendered. */
  readonly template: string;
  constructor(code: GenloomErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.replace(fieldToken, '$1'), options);
    this.name = 'GenloomError';
    this.code = code;
    this.template = message;
  }

  /** The message with each `{field}` said as `name(field)`: a flag, a JSON key. */
  render(name: (field: string) => string): string {
    return this.template.replace(fieldToken, (_, field: string) => name(field));
  }
}

/** A field as a command-line flag: topP → --top-p. */
export const asFlag = (field: string): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
/** A field as a JSON key in an HTTP body: topP → "topP". */
export const asJsonField = (field: string): string => `"${field}"`;

/** Throws a BAD_ARGUMENT error unless `condition` holds; `message` should name the argument and the fix. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new GenloomError('BAD_ARGUMENT', message);
}
