/**
 * `sample` for video models: clips conditioned on the digits they show, each written as an animated
 * GIF, an MP4 and a PNG frame strip.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { labelListFromPrompt, promptVocabulary } from '../data/prompts.ts';
import { makeDirectories } from '../io/atomic.ts';
import { writeClipFiles } from '../io/video.ts';
import type { LoadedModel, VideoModel } from '../models/family.ts';
import { LazyProgress } from '../train/progress.ts';
import { resolveModelLabel } from './labels.ts';

export interface ClipSampleFlags {
  n?: number;
  seed: number;
  out: string;
  label?: string;
  prompt?: string;
  frames?: number;
  fps?: number;
}

/** The digits every clip shows: from --prompt ("a 3 and a 7"), --label ("3,7"), or undefined (each clip draws its own). */
export function clipDigits(model: LoadedModel, video: VideoModel, dir: string, flags: Pick<ClipSampleFlags, 'label' | 'prompt'>): number[] | undefined {
  if (flags.label !== undefined && flags.prompt !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give --label or --prompt, not both');
  if (flags.prompt !== undefined) {
    const dataset = String(model.manifest.training['dataset'] ?? 'moving-mnist');
    return labelListFromPrompt(flags.prompt, promptVocabulary(dataset, video.digitNames), video.digitsPerClip);
  }
  if (flags.label === undefined) return undefined;
  const parts = flags.label.split(',').map((part) => part.trim());
  if (parts.length !== video.digitsPerClip) {
    throw new GenloomError('BAD_ARGUMENT', `--label "${flags.label}" names ${parts.length} digit${parts.length === 1 ? '' : 's'}; ${dir} shows ${video.digitsPerClip} per clip (e.g. --label ${['3', '7', '1', '4'].slice(0, video.digitsPerClip).join(',')})`);
  }
  return parts.map((part) => resolveModelLabel(model, dir, part));
}

/** Generates the clips and writes clip-000.{gif,mp4,png}, … into flags.out (replacing an earlier set). */
export async function sampleClips(model: LoadedModel, video: VideoModel, dir: string, flags: ClipSampleFlags, quiet: boolean): Promise<string> {
  const count = flags.n ?? 4;
  const digits = clipDigits(model, video, dir, flags);
  if (flags.frames !== undefined && flags.frames !== video.frames) {
    throw new GenloomError('BAD_ARGUMENT', `${dir} was trained for ${video.frames}-frame clips; it cannot make --frames ${flags.frames} (train a model with --frames ${flags.frames})`);
  }
  if (/\.(gif|mp4|png)$/i.test(flags.out)) throw new GenloomError('BAD_ARGUMENT', `for video models --out is a folder (each clip is a .gif, .mp4 and .png); got ${flags.out}`);
  const progress = new LazyProgress('clips', quiet);
  const clips = video.generate({
    count,
    digits: digits ? Array.from({ length: count }, () => digits) : undefined,
    random: fromSeed(flags.seed).fork('sample'),
    onProgress: progress.update,
  });
  progress.stop();
  makeDirectories(flags.out);
  for (const name of readdirSync(flags.out)) if (/^clip-\d{3,}\.(gif|mp4|png)$/.test(name)) unlinkSync(join(flags.out, name));
  for (const [i, clip] of clips.entries()) await writeClipFiles(join(flags.out, `clip-${String(i).padStart(3, '0')}`), clip, { fps: flags.fps });
  const shown = digits ? ` of ${digits.map((digit) => video.digitNames[digit]).join(' and ')}` : '';
  return `wrote ${count} ${video.frames}-frame clip${count > 1 ? 's' : ''}${shown} to ${flags.out}/clip-000.gif (+ .mp4, .png) …`;
}
