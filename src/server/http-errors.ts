/**
 * Errors as the HTTP API reports them: a status and one JSON body shape, `{ error: { code,
 * message } }`, whatever went wrong. GenloomErrors from the library keep their code and message.
 */
import { asJsonField, GenloomError, type GenloomErrorCode } from '../core/errors.ts';

export type HttpErrorCode = GenloomErrorCode | 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'TOO_MANY_REQUESTS' | 'PAYLOAD_TOO_LARGE' | 'GONE' | 'CONFLICT' | 'CANCELLED' | 'TIMEOUT' | 'INTERNAL';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: HttpErrorCode, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

const statusOfGenloomCode: Record<GenloomErrorCode, number> = {
  BAD_ARGUMENT: 400,
  NOT_FOUND: 404,
  CORRUPT_FILE: 422,
  WRONG_FAMILY: 400,
  SHAPE_MISMATCH: 400,
  EMPTY_DATASET: 400,
  UNSUPPORTED: 400,
  TOO_COSTLY: 413,
  BACKEND: 500,
};

export interface ErrorBody {
  error: { code: string; message: string };
}

/** The status and body for anything thrown while answering a request. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof GenloomError) return { status: statusOfGenloomCode[error.code] ?? 400, body: { error: { code: error.code, message: error.render(asJsonField) } } };
  // Errors from a worker arrive as plain objects with the same fields.
  if (isErrorLike(error) && typeof error.genloomCode === 'string') {
    const code = error.genloomCode as GenloomErrorCode;
    return { status: statusOfGenloomCode[code] ?? 400, body: { error: { code, message: error.message } } };
  }
  const fastify = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const code = fastify.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    const message = (fastify.code && fastifyMessages[fastify.code]) ?? oneLine(fastify.message ?? 'bad request');
    return { status: fastify.statusCode, body: { error: { code, message } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: oneLine(error instanceof Error ? error.message : String(error)) } } };
}

/** Fastify's refusals said in genloom's words (its own messages name its internals, or echo the whole URL). */
const fastifyMessages: Record<string, string> = {
  FST_ERR_BAD_URL: 'the URL is not valid (a malformed percent-encoding?)',
  FST_ERR_MAX_PARAM_LENGTH: 'a name in the URL is longer than 100 characters',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'this route takes a JSON body: send it with content-type: application/json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty but its content-type is application/json: send a JSON object',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the body is not as long as its Content-Length says',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is larger than this server takes',
};

function isErrorLike(value: unknown): value is { message: string; genloomCode?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

function oneLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** An error as a worker thread posts it: its one-line message, and its code when it is a GenloomError (describeError reads both back). */
export function workerError(error: unknown): { message: string; genloomCode?: string } {
  const message = (error instanceof GenloomError ? error.render(asJsonField) : error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  return error instanceof GenloomError ? { message, genloomCode: error.code } : { message };
}
