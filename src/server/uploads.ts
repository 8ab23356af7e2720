/**
 * Datasets the studio's user uploads: a folder's files (their relative paths as the multipart
 * filenames) or one file, saved under `<runsDir>/uploads/<id>/` and named `upload:<id>` when a job
 * trains on them. Training jobs take these or built-in names, never a path on the server.
 *
 * An upload lands whole or not at all: its files go to a temporary folder that is renamed into
 * place only once every file is written and the total is within the limit, so a refused or broken
 * upload leaves nothing behind and no job can see a half-written one.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makeDirectories } from '../io/atomic.ts';
import { HttpError } from './http-errors.ts';

export interface UploadRecord {
  id: string;
  /** What a job's `dataset` field takes: `upload:<id>`. */
  dataset: string;
  files: number;
  bytes: number;
}

/** One file part of a multipart request (the shape @fastify/multipart yields). */
export interface UploadPart {
  type: 'file' | 'field';
  fieldname: string;
  filename?: string;
  file?: NodeJS.ReadableStream;
}

const uploadIdPattern = /^[0-9a-f]{12}$/;
export const uploadPrefix = 'upload:';
const maxPathLength = 1024;
const maxDepth = 32;
/** Characters no uploaded name may hold: control characters and those Windows forbids (so a run folder copies anywhere). */
const forbiddenCharacters = /[\u0000-\u001f\u007f<>:"|?*\\]/;

/**
 * The path segments of an uploaded file's name, refusing anything that could land outside its
 * upload folder or that a file system would treat oddly: absolute paths, drive letters,
 * backslashes, "." and "..", empty segments, control characters.
 */
export function uploadPathSegments(filename: string | undefined): string[] {
  const shown = JSON.stringify(filename ?? '');
  if (!filename) throw new HttpError(400, 'BAD_REQUEST', 'an uploaded file has no file name: send each file with its (relative) path as the file name');
  if (filename.length > maxPathLength) throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown.slice(0, 80)}… is longer than ${maxPathLength} characters`);
  if (filename.startsWith('/') || /^[A-Za-z]:/.test(filename)) throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown} is an absolute path: send paths relative to the uploaded folder`);
  if (forbiddenCharacters.test(filename)) throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown} holds a control character or one of < > : " | ? * \\ (use "/" between folders)`);
  const segments = filename.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown} has an empty, "." or ".." part: send plain relative paths like "square/1.png"`);
    if (segment.length > 255) throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown} has a part longer than 255 characters`);
  }
  if (segments.length > maxDepth) throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${shown} is more than ${maxDepth} folders deep`);
  return segments;
}

/** Counts bytes through a stream and fails once the upload as a whole passes its limit. */
function byteCounter(counted: { bytes: number }, maxBytes: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted.bytes += chunk.length;
      if (counted.bytes > maxBytes) callback(uploadTooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
}

export function uploadTooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `the upload is larger than this server's limit of ${formatBytes(maxBytes)} (all files together); upload fewer or smaller files`);
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;
  return `${bytes} bytes`;
}

/**
 * The uploads folder of a server.
 * @example
 * const uploads = new Uploads('runs', 200 * 1024 * 1024);
 * const { dataset } = await uploads.receive(request.parts()); // "upload:3f9c…"
 * uploads.resolve(dataset); // runs/uploads/3f9c…/shapes
 */
export class Uploads {
  /** `<runsDir>/uploads`. */
  readonly root: string;

  constructor(runsDir: string, readonly maxBytes: number) {
    this.root = resolve(runsDir, 'uploads');
    // Temporary folders of uploads a previous server was receiving when it stopped.
    if (existsSync(this.root)) {
      for (const name of readdirSync(this.root)) if (name.startsWith('.tmp-')) rmSync(join(this.root, name), { recursive: true, force: true });
    }
  }

  /** Saves the file parts of one multipart request as a new upload. */
  async receive(parts: AsyncIterable<UploadPart>): Promise<UploadRecord> {
    const id = randomBytes(6).toString('hex');
    const temporary = join(this.root, `.tmp-${id}`);
    const counted = { bytes: 0 };
    const files = new Set<string>();
    const folders = new Set<string>();
    try {
      makeDirectories(temporary);
      for await (const part of parts) {
        if (part.type !== 'file' || part.fieldname !== 'file' || !part.file) {
          throw new HttpError(400, 'BAD_REQUEST', `unexpected multipart field "${part.fieldname}": send only "file" parts (one per file, named by its relative path)`);
        }
        const segments = uploadPathSegments(part.filename);
        const path = segments.join('/');
        // A name used twice, or both as a file and as a folder ("a" and "a/b.png"), cannot be written as given.
        const parents = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
        if (files.has(path) || folders.has(path) || parents.some((parent) => files.has(parent))) {
          throw new HttpError(400, 'BAD_REQUEST', `uploaded file name ${JSON.stringify(path)} clashes with another file of the same upload`);
        }
        files.add(path);
        for (const parent of parents) folders.add(parent);
        makeDirectories(join(temporary, ...segments.slice(0, -1)));
        await pipeline(part.file, byteCounter(counted, this.maxBytes), createWriteStream(join(temporary, ...segments)));
      }
      if (files.size === 0) throw new HttpError(400, 'BAD_REQUEST', 'the upload has no files: send one or more "file" parts');
      renameSync(temporary, join(this.root, id));
    } catch (error) {
      rmSync(temporary, { recursive: true, force: true });
      throw error;
    }
    return { id, dataset: `${uploadPrefix}${id}`, files: files.size, bytes: counted.bytes };
  }

  /** Every upload kept, newest first, with its file count and size. */
  list(): UploadRecord[] {
    if (!existsSync(this.root)) return [];
    const measure = (path: string): { files: number; bytes: number } => {
      let files = 0;
      let bytes = 0;
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        const child = join(path, entry.name);
        if (entry.isDirectory()) {
          const inner = measure(child);
          files += inner.files;
          bytes += inner.bytes;
        } else {
          files += 1;
          bytes += statSync(child).size;
        }
      }
      return { files, bytes };
    };
    return readdirSync(this.root)
      .filter((id) => uploadIdPattern.test(id))
      .map((id) => ({ id, dataset: `${uploadPrefix}${id}`, ...measure(join(this.root, id)), modified: statSync(join(this.root, id)).mtimeMs }))
      .sort((a, b) => b.modified - a.modified)
      .map(({ modified: _modified, ...record }) => record);
  }

  /** Deletes an upload's files. */
  remove(id: string): void {
    const dir = join(this.root, id);
    if (!uploadIdPattern.test(id) || !existsSync(dir)) throw new HttpError(404, 'NOT_FOUND', `no upload "${id}" on this server`);
    rmSync(dir, { recursive: true, force: true });
  }

  /**
   * The path `upload:<id>` trains on: the upload's folder — or, when everything was uploaded inside
   * one folder (what a browser's folder picker sends: "shapes/square/1.png"), that folder, so its
   * subfolders are the labels — or the file itself when the upload is a single file.
   */
  resolve(spec: string): string {
    const id = spec.slice(uploadPrefix.length);
    const dir = join(this.root, id);
    if (!uploadIdPattern.test(id) || !existsSync(dir)) throw new HttpError(400, 'BAD_REQUEST', `no upload "${spec}" on this server: upload the files first (POST /api/uploads) and use the dataset it returns`);
    let path = dir;
    for (;;) {
      const entries = readdirSync(path).filter((name) => !name.startsWith('.'));
      if (entries.length !== 1) return path;
      const only = join(path, entries[0]!);
      if (!statSync(only).isDirectory()) return only;
      path = only;
    }
  }
}
