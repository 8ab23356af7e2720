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
