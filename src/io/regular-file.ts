/**
 * Checking that a path is a regular file before opening it. Opening a FIFO for reading blocks the
 * thread until a writer appears (forever, for a FIFO planted in a model folder), and a directory,
 * socket or device gives an error no user can act on; fs.statSync looks without opening.
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

/**
 * The size of the regular file at `path` (symbolic links followed). Throws NOT_FOUND when nothing
 * is there and CORRUPT_FILE for a directory, FIFO, socket or device, naming the path and its kind:
 * "models/x/model.safetensors is not a regular file (it is a FIFO)". With `maxBytes`, a bigger file
 * is refused too (before anything reads it into memory); `what` names what it should hold.
 *
 * @example
 * const size = requireRegularFile('models/vae-mnist/config.json'); // throws for a FIFO or a directory
 */
export function requireRegularFile(path: string, options: { maxBytes?: number; what?: string } = {}): number {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new GenloomError('NOT_FOUND', `${path} does not exist`, { cause: error });
    throw new GenloomError('CORRUPT_FILE', `cannot read ${path}: ${code ?? (error as Error).message}`, { cause: error });
  }
  if (!stats.isFile()) throw new GenloomError('CORRUPT_FILE', `${path} is not a regular file (it is ${fileKind(stats)})`);
  if (options.maxBytes !== undefined && stats.size > options.maxBytes) {
    const megabytes = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
    throw new GenloomError('CORRUPT_FILE', `${path} is ${megabytes(stats.size)}; genloom reads ${options.what ?? 'files like it'} up to ${megabytes(options.maxBytes)}`);
  }
  return stats.size;
}
