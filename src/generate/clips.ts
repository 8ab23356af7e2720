/**
 * Clips from a video model, conditioned on the digits they show, and each clip as files: an
 * animated GIF, an H.264 MP4 and a PNG strip of its frames.
 */
import { GenloomError } from '../core/errors.ts';
import { defaultClipFps, encodeClipFiles } from '../io/video.ts';
import type { Clip, LoadedModel } from '../models/family.ts';
import { clipDigits, type Condition } from './conditions.ts';
import { checkGenerationFields } from './fields.ts';
import { withSignal, type GenerationOptions } from './images.ts';
import { generationRandom } from './seeds.ts';

export interface ClipRequest extends Condition {
  seed: number;
  n: number;
  /** The clip length; must be the one the model was trained for (given to say so clearly). */
  frames?: number;
  /** Frames per second of the files (default 8); not used by generation itself. */
  fps?: number;
}

export interface GeneratedClips {
  clips: Clip[];
  /** The digits every clip shows, by name, when the request named them. */
  digits?: string[];
}

/**
 * `n` clips for `seed`; `label: "3,7"` or `prompt: "a 3 and a 7 bouncing"` names the digits.
 *
 * @example
 * const { clips } = generateClips(loadModel('models/video-moving-mnist'), { seed: 1, n: 2, prompt: 'a 3 and a 7' });
 * const files = await clipFiles(clips[0]); // { gif, mp4, strip } bytes
 */
export function generateClips(model: LoadedModel, request: ClipRequest, options: GenerationOptions = {}): GeneratedClips {
  const name = options.name ?? 'the model';
  checkGenerationFields(model, name, request);
  const video = model.video;
  if (!video) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not make clips`);
  if (request.frames !== undefined && request.frames !== video.frames) {
    throw new GenloomError('BAD_ARGUMENT', `${name} was trained for ${video.frames}-frame clips; it cannot make {frames} ${request.frames} (train a model with --frames ${request.frames})`);
  }
  const digits = clipDigits(model, video, name, request);
  const hooks = withSignal(options);
  const clips = video.generate({
    count: request.n,
    digits: digits ? Array.from({ length: request.n }, () => digits) : undefined,
    random: generationRandom(request.seed, 'sample'),
    onProgress: hooks.onProgress,
  });
  return { clips, ...(digits ? { digits: digits.map((digit) => video.digitNames[digit]!) } : {}) };
}

/** A clip as GIF, MP4 and PNG-strip bytes, every frame enlarged `scale` times (default 4: a 64² clip plays at 256²). */
export const clipFiles = encodeClipFiles;
export { defaultClipFps };
