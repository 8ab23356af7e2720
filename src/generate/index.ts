/**
 * The generation layer: one request type per modality, the same functions for the CLI, the HTTP
 * server, the studio's workers and library callers. Each checks the request against the model
 * (fields, conditions, lengths), draws from the seed's fixed stream, reports progress through
 * callbacks that may cancel, and returns plain results; shells write them as files or base64.
 */
import { GenloomError } from '../core/errors.ts';
import type { LoadedModel } from '../models/family.ts';
import { getFamily } from '../models/registry.ts';
import { generateClips, type ClipRequest, type GeneratedClips } from './clips.ts';
import { generateImages, type GeneratedImages, type GenerationOptions, type ImageRequest } from './images.ts';
import { composeMusic, type ComposedMusic, type MusicRequest } from './music.ts';
import { generateShapes, type GeneratedShapes, type ShapeRequest } from './shapes.ts';
import { generateText, type GeneratedText, type TextRequest } from './text.ts';

export * from './conditions.ts';
export * from './fields.ts';
export * from './seeds.ts';
export * from './images.ts';
export * from './text.ts';
export * from './music.ts';
export * from './clips.ts';
export * from './shapes.ts';

export type GenerationRequest = ImageRequest | TextRequest | MusicRequest | ClipRequest | ShapeRequest;
export type GenerationResult =
  | ({ kind: 'images' } & GeneratedImages)
  | ({ kind: 'text' } & GeneratedText)
  | ({ kind: 'music' } & ComposedMusic)
  | ({ kind: 'clips' } & GeneratedClips)
  | ({ kind: 'shapes' } & GeneratedShapes);

/**
 * Generates with any model, by what its family makes; the request is checked against it.
 *
 * @example
 * const result = generate(loadModel('models/diffusion-mnist'), { seed: 3, n: 8, prompt: 'a handwritten seven' });
 * if (result.kind === 'images') writePng('sevens.png', imageGrid(result.images));
 */
export function generate(model: LoadedModel, request: GenerationRequest, options: GenerationOptions & { onText?(chunk: string): void } = {}): GenerationResult {
  const modality = getFamily(model.family).generates;
  switch (modality) {
    case 'images':
      return { kind: 'images', ...generateImages(model, request as ImageRequest, options) };
    case 'text':
      return { kind: 'text', ...generateText(model, request as TextRequest, options) };
    case 'music':
      return { kind: 'music', ...composeMusic(model, request as MusicRequest, options) };
    case 'clips':
      return { kind: 'clips', ...generateClips(model, request as ClipRequest, options) };
    case 'shapes':
      return { kind: 'shapes', ...generateShapes(model, request as ShapeRequest, options) };
    default:
      throw new GenloomError('UNSUPPORTED', `${options.name ?? 'the model'} is a ${model.family} model, which does not generate`);
  }
}
