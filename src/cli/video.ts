/**
 * `sample` for video models: the library's clips (conditioned on the digits they show), each
 * written as an animated GIF, an MP4 and a PNG frame strip.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { generateClips, type ClipRequest } from '../generate/index.ts';
import { makeDirectories } from '../io/atomic.ts';
import { writeClipFiles } from '../io/video.ts';
import type { LoadedModel } from '../models/family.ts';
import { LazyProgress } from '../train/progress.ts';

/** Generates the clips and writes clip-000.{gif,mp4,png}, … into `out` (replacing an earlier set). */
export async function sampleClips(model: LoadedModel, dir: string, request: ClipRequest, out: string, quiet: boolean): Promise<string> {
  if (/\.(gif|mp4|png)$/i.test(out)) throw new GenloomError('BAD_ARGUMENT', `for video models --out is a folder (each clip is a .gif, .mp4 and .png); got ${out}`);
  const progress = new LazyProgress('clips', quiet);
  const { clips, digits } = generateClips(model, request, { name: dir, onProgress: progress.update });
  progress.stop();
  makeDirectories(out);
  for (const name of readdirSync(out)) if (/^clip-\d{3,}\.(gif|mp4|png)$/.test(name)) unlinkSync(join(out, name));
  for (const [i, clip] of clips.entries()) await writeClipFiles(join(out, `clip-${String(i).padStart(3, '0')}`), clip, { fps: request.fps });
  const count = clips.length;
  const shown = digits ? ` of ${digits.join(' and ')}` : '';
  return `wrote ${count} ${model.video!.frames}-frame clip${count > 1 ? 's' : ''}${shown} to ${out}/clip-000.gif (+ .mp4, .png) …`;
}
