import fs from 'node:fs';
import nodePath from 'node:path';
import { GenloomError } from '../core/errors.ts';

/**
 * Writes `data` to `path` so that readers only ever see the old file or the complete new one,
 * never a half-written file (a crash mid-write of a checkpoint must not destroy the previous one).
 *
 * Steps: create the parent directories, write `path.tmp-<pid>` in the same directory (a rename is
 * only atomic within one file system), fsync it so the bytes are on disk before the name points at
 * them, rename over `path`, then fsync the directory so the rename itself survives a power cut.
 * On failure the temporary file is removed and a BAD_ARGUMENT GenloomError names the path.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const directory = nodePath.dirname(nodePath.resolve(path));
  const temporaryPath = `${path}.tmp-${process.pid}`;
  try {
    makeDirectories(directory);
    writeFileSynced(temporaryPath, data);
    fs.renameSync(temporaryPath, path);
  } catch (error) {
    removeQuietly(temporaryPath);
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    throw new GenloomError('BAD_ARGUMENT', `cannot write ${path}: ${reason}`, { cause: error });
  }
  syncDirectory(directory);
}

/** Writes `data` to `path` and fsyncs it, so the bytes are on disk before anything renames it. */
export function writeFileSynced(path: string, data: Uint8Array | string): void {
  const descriptor = fs.openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    // writeSync may write fewer bytes than asked (large buffers, some file systems): loop.
    while (written < bytes.length) {
      written += fs.writeSync(descriptor, bytes, written, bytes.length - written);
    }
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}

/**
 * Creates `directory` and its missing ancestors one level at a time. Not `mkdirSync(recursive)`:
 * Node's native loop spins forever when mkdir keeps answering ENOENT under an existing parent
 * (paths under /proc, dangling symlinks, stale mounts), which would freeze the process.
 */
export function makeDirectories(directory: string): void {
  const missing: string[] = [];
  for (let current = directory; !fs.existsSync(current); current = nodePath.dirname(current)) {
    missing.push(current);
    if (nodePath.dirname(current) === current) break;
  }
  for (const path of missing.reverse()) {
    try {
      fs.mkdirSync(path);
    } catch (error) {
      // Another process may have created it meanwhile; any other failure is final.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Best-effort cleanup: the original write error is the one worth reporting. */
function removeQuietly(path: string): void {
  try {
    fs.rmSync(path, { force: true });
  } catch {
    // e.g. ENOTDIR when a parent is a file; nothing was created, so nothing to remove.
  }
}

/** Flushes a directory entry to disk; best effort because some platforms (Windows) cannot open directories. */
export function syncDirectory(directory: string): void {
  let descriptor: number | undefined;
  try {
    descriptor = fs.openSync(directory, 'r');
    fs.fsyncSync(descriptor);
  } catch {
    // The data itself is already synced and renamed; losing only the directory sync is acceptable.
  } finally {
    if (descriptor !== undefined) fs.closeSync(descriptor);
  }
}
