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
  | 'BACKEND';

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
  constructor(code: GenloomErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GenloomError';
    this.code = code;
  }
}

/** Throws a BAD_ARGUMENT error unless `condition` holds; `message` should name the argument and the fix. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new GenloomError('BAD_ARGUMENT', message);
}
