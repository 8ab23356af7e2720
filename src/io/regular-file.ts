/**
 * Checking that a path is a regular file before reading it. Opening a FIFO for reading blocks the
 * thread until a writer appears (forever, for a FIFO planted in a model folder), and a directory,
 * socket or device gives an error no user can act on. fs.statSync looks without opening; the open
 * that follows adds O_NONBLOCK (where the platform has it), so even a FIFO swapped in between the
 * look and the open cannot block, and the opened file is checked again (fstat) before it is read.
 */
import fs from 'node:fs';
import { GenloomError } from '../core/errors.ts';

/** What kind of file system entry `stats` describes, in words for a message. */
export function fileKind(stats: fs.Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/** Limits on a file about to be read; `what` names what it holds, for the message on a file too big. */
export interface FileLimits {
  maxBytes?: number;
  what?: string;
}

const megabytes = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

function checkStats(path: string, stats: fs.Stats, limits: FileLimits): number {
  if (!stats.isFile()) throw new GenloomError('CORRUPT_FILE', `${path} is not a regular file (it is ${fileKind(stats)})`);
  if (limits.maxBytes !== undefined && stats.size > limits.maxBytes) {
    throw new GenloomError('CORRUPT_FILE', `${path} is ${megabytes(stats.size)}; genloom reads ${limits.what ?? 'files like it'} up to ${megabytes(limits.maxBytes)}`);
  }
  return stats.size;
}

function cannotRead(path: string, error: unknown): GenloomError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new GenloomError('NOT_FOUND', `${path} does not exist`, { cause: error });
  return new GenloomError('CORRUPT_FILE', `cannot read ${path} (${code ?? (error as Error).message})`, { cause: error });
}

/**
 * The size of the regular file at `path` (symbolic links followed), without opening it. Throws
 * NOT_FOUND when nothing is there and CORRUPT_FILE for a directory, FIFO, socket or device, naming
 * the path and its kind ("models/x/model.safetensors is not a regular file (it is a FIFO)"), or for
 * a file over `limits.maxBytes`.
 *
 * @example
 * const size = requireRegularFile('models/vae-mnist/config.json'); // throws for a FIFO or a directory
 */
export function requireRegularFile(path: string, limits: FileLimits = {}): number {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(path);
  } catch (error) {
    throw cannotRead(path, error);
  }
  return checkStats(path, stats, limits);
}

/** Opens a regular file for reading (checked as requireRegularFile checks it, before and after opening); the caller closes it. */
export function openRegularFile(path: string, limits: FileLimits = {}): { descriptor: number; size: number } {
  requireRegularFile(path, limits);
  let descriptor: number;
  try {
    descriptor = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw cannotRead(path, error);
  }
  try {
    return { descriptor, size: checkStats(path, fs.fstatSync(descriptor), limits) };
  } catch (error) {
    fs.closeSync(descriptor);
    throw error;
  }
}

/** Reads `length` bytes at `position` of an open file; a file that ends sooner is CORRUPT_FILE (it shrank while read). */
export function readExactly(descriptor: number, path: string, position: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const read = fs.readSync(descriptor, bytes, filled, length - filled, position + filled);
    if (read === 0) throw new GenloomError('CORRUPT_FILE', `${path} ended after ${position + filled} bytes while being read (it changed meanwhile?)`);
    filled += read;
  }
  return bytes;
}

/**
 * The bytes of the regular file at `path`, refusing what requireRegularFile refuses.
 *
 * @example
 * const bytes = readRegularFile('digit.png', { maxBytes: 256 * 2 ** 20, what: 'image files' });
 */
export function readRegularFile(path: string, limits: FileLimits = {}): Buffer {
  const { descriptor, size } = openRegularFile(path, limits);
  try {
    return readExactly(descriptor, path, 0, size);
  } finally {
    fs.closeSync(descriptor);
  }
}
