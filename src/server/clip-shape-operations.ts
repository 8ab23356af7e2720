/**
 * `generate` for the video and 3-D families, in the generation worker: clips come back as GIF, MP4
 * and a PNG frame strip; shapes as a mesh (for the studio's rotatable viewer), OBJ and PLY files and
 * a rendered preview. Both are base64 like every other file the API returns.
 */
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { encodeGif } from '../io/gif.ts';
import { encodePng, imageStrip } from '../io/image.ts';
import { clipFrames, encodeMp4 } from '../io/video.ts';
import type { LoadedModel } from '../models/family.ts';
import { marchingCubes } from '../shapes/marching-cubes.ts';
import { encodeObj, encodePly } from '../shapes/mesh.ts';
import { renderMesh } from '../shapes/render.ts';
import { clipDigits } from '../cli/video.ts';
import { shapeLabels } from '../cli/shape.ts';
import type { OperationContext } from './operations.ts';

/** Clips and shapes cost seconds each: fewer per request than images. */
export const maxClipsOrShapes = 16;

export interface ClipShapeRequest {
  seed: number;
  n: number;
  label?: string;
  prompt?: string;
  steps?: number;
}

function checkCount(n: number, what: string): void {
  if (n > maxClipsOrShapes) throw new GenloomError('BAD_ARGUMENT', `"n" is ${n}; at most ${maxClipsOrShapes} ${what} per request`);
}

export async function generateClips(model: LoadedModel, body: ClipShapeRequest, context: OperationContext): Promise<Record<string, unknown>> {
  const video = model.video!;
  checkCount(body.n, 'clips');
  const digits = clipDigits(model, video, context.name, body);
  const clips = video.generate({
    count: body.n,
    digits: digits ? Array.from({ length: body.n }, () => digits) : undefined,
    random: fromSeed(body.seed).fork('sample'),
    onProgress: (done, total) => {
      context.checkCancelled();
      context.emit('progress', { done, total });
    },
  });
  const fps = 8;
  const encoded = [];
  for (const clip of clips) {
    const frames = clipFrames(clip, 4);
    encoded.push({
      gif: Buffer.from(encodeGif(frames, { delayMs: Math.round(1000 / fps) })).toString('base64'),
      mp4: Buffer.from(await encodeMp4(frames, { fps })).toString('base64'),
      strip: encodePng(imageStrip(clipFrames(clip, 2))).toString('base64'),
    });
  }
  return {
    kind: 'clips',
    seed: body.seed,
    frames: video.frames,
    fps,
    ...(digits ? { digits: digits.map((digit) => video.digitNames[digit]) } : {}),
    clips: encoded.map((clip, index) => ({ ...clip, index })),
  };
}

export function generateShapes(model: LoadedModel, body: ClipShapeRequest, context: OperationContext): Record<string, unknown> {
  const shape = model.shape!;
  checkCount(body.n, 'shapes');
  const labels = shapeLabels(model, shape, context.name, body, body.n);
  const grids = shape.generate({
    count: body.n,
    labels,
    random: fromSeed(body.seed).fork('sample'),
    steps: body.steps,
    onProgress: (done, total) => {
      context.checkCancelled();
      context.emit('progress', { done, total });
    },
  });
  return {
    kind: 'shapes',
    seed: body.seed,
    resolution: shape.resolution,
    shapes: grids.map((grid, index) => {
      const mesh = marchingCubes(grid);
      return {
        index,
        ...(labels ? { label: shape.labelNames?.[labels[index]!] ?? String(labels[index]) } : {}),
        // Rounded: the viewer needs no more, and JSON stays a fraction of the size.
        positions: Array.from(mesh.positions, (value) => Math.round(value * 1e4) / 1e4),
        faces: Array.from(mesh.faces),
        obj: encodeObj(mesh),
        ply: encodePly(mesh).toString('base64'),
        preview: encodePng(renderMesh(mesh, { size: 192 })).toString('base64'),
      };
    }),
  };
}
