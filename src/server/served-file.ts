/**
 * The files the server sends (a model's weights and pictures, a run's samples and metrics): only a
 * regular file whose real path, every symbolic link resolved, is inside its folder. A link to a
 * file elsewhere, a directory, a FIFO (which would block whoever opens it), a socket or a device is
 * refused before anything opens it.
 */
import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileKind } from '../io/regular-file.ts';
import { HttpError } from './http-errors.ts';

/**
 * `file` of `folder` as it may be served, and its size; `owner` names the model or job in messages
 * ("vae-mnist's samples.png links outside its model folder"), `kind` says what the folder is.
 */
export function servedFile(folder: string, file: string, owner: string, kind: 'model' | 'run'): { path: string; size: number } {
  const path = join(folder, file);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new HttpError(404, 'NOT_FOUND', `${owner} has no ${file}`);
  }
  if (!real.startsWith(realpathSync(folder) + sep)) throw new HttpError(403, 'FORBIDDEN', `${owner}'s ${file} links outside its ${kind} folder; it is not served`);
  const stats = statSync(real);
  if (!stats.isFile()) throw new HttpError(422, 'CORRUPT_FILE', `${owner}'s ${file} is not a regular file (it is ${fileKind(stats)}); it is not served`);
  return { path, size: stats.size };
}
