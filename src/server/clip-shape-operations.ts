/**
 * `generate` for clips and shapes, in the generation worker: the library makes them, this file
 * encodes them for JSON. Clips come back as GIF, MP4 and a PNG frame strip; shapes as a mesh (for
 * the studio's rotatable viewer), OBJ and PLY files and a rendered preview; files are base64.
 */
import { GenloomError } from '../core/errors.ts';
import { encodePng } from '../io/image.ts';
import { clipFiles, defaultClipFps, generateClips, generateShapes, type ClipRequest, type ShapeRequest } from '../generate/index.ts';
import type { LoadedModel } from '../models/family.ts';
import { encodeObj, encodePly } from '../shapes/mesh.ts';
import { renderMesh } from '../shapes/render.ts';
import { reporting, type OperationContext } from './operation-context.ts';

/** Clips and shapes cost seconds each: fewer per request than images. */
export const maxClipsOrShapes = 16;

function checkCount(n: number, what: string): void {
  if (n > maxClipsOrShapes) throw new GenloomError('BAD_ARGUMENT', `{n} is ${n}; at most ${maxClipsOrShapes} ${what} per request`);
}

export async function generateClipsBody(model: LoadedModel, body: ClipRequest, context: OperationContext): Promise<Record<string, unknown>> {
  checkCount(body.n, 'clips');
  const { clips, digits } = generateClips(model, body, reporting(context));
  const fps = body.fps ?? defaultClipFps;
  const encoded = [];
  for (const [index, clip] of clips.entries()) {
    const files = await clipFiles(clip, { fps, stripScale: 2 });
    encoded.push({ index, gif: Buffer.from(files.gif).toString('base64'), mp4: Buffer.from(files.mp4).toString('base64'), strip: files.strip.toString('base64') });
  }
  return { kind: 'clips', seed: body.seed, frames: model.video!.frames, fps, ...(digits ? { digits } : {}), clips: encoded };
}

export function generateShapesBody(model: LoadedModel, body: ShapeRequest, context: OperationContext): Record<string, unknown> {
  checkCount(body.n, 'shapes');
  const { meshes, labelNames } = generateShapes(model, body, reporting(context));
  return {
    kind: 'shapes',
    seed: body.seed,
    resolution: model.shape!.resolution,
    shapes: meshes.map((mesh, index) => ({
      index,
      ...(labelNames ? { label: labelNames[index] } : {}),
      // Rounded: the viewer needs no more, and JSON stays a fraction of the size.
      positions: Array.from(mesh.positions, (value) => Math.round(value * 1e4) / 1e4),
      faces: Array.from(mesh.faces),
      obj: encodeObj(mesh),
      ply: encodePly(mesh).toString('base64'),
      preview: encodePng(renderMesh(mesh, { size: 192 })).toString('base64'),
    })),
  };
}
