/**
 * What a generation request is conditioned on, checked against what the model was trained on: a
 * label (an index or a name), a prompt in words, a clip's digits, a shape's label, a music style.
 * Messages name request fields as `{label}`, `{prompt}`: the CLI says them as flags, the HTTP API
 * as JSON keys (see GenloomError.render).
 */
import { GenloomError } from '../core/errors.ts';
import { resolveLabel } from '../data/index.ts';
import { labelFromPrompt, labelListFromPrompt, promptVocabulary } from '../data/prompts.ts';
import type { LoadedModel, MusicModel, ShapeModel, VideoModel } from '../models/family.ts';

/** A label given as an index or a name, checked against the model's labels; the error lists them. */
export function resolveModelLabel(model: LoadedModel, name: string, label: string): number {
  if (!model.conditional) throw new GenloomError('BAD_ARGUMENT', `${name} is not a conditional model: it takes no {label} (train with --conditional)`);
  const names = model.labelNames ?? [];
  const index = resolveLabel({ name, labelNames: names }, label);
  if (index < 0) throw new GenloomError('BAD_ARGUMENT', `unknown label "${label}": ${name} knows ${names.map((known, i) => (known === String(i) ? known : `${i}=${known}`)).join(', ')}`);
  return index;
}

export interface Condition {
  label?: string;
  prompt?: string;
  /** Text-to-image models: what classifier-free guidance steers away from. */
  negativePrompt?: string;
}

/**
 * A text-to-image model's prompts: the free text for every image ("" when none is given: an
 * unconditional sample), with a note for each text longer than the text encoder reads (it is cut);
 * undefined for a model without text conditioning (which a negative prompt is refused for).
 */
export function textPrompts(model: LoadedModel, name: string, condition: Condition, count: number): { prompts: string[]; negativePrompt?: string; notes: string[] } | undefined {
  const text = model.textConditioning;
  if (!text) {
    if (condition.negativePrompt !== undefined) throw new GenloomError('BAD_ARGUMENT', `${name} has no text conditioning, so it takes no {negativePrompt} (a text-to-image model is trained with --text-encoder)`);
    return undefined;
  }
  if (condition.label !== undefined) throw new GenloomError('BAD_ARGUMENT', `${name} follows free-text prompts, not labels: give {prompt}`);
  const prompt = condition.prompt ?? '';
  const notes = [prompt, condition.negativePrompt ?? '']
    .filter((given) => text.tokenCount(given) > text.contextTokens)
    .map((given) => `note: "${given.length > 40 ? `${given.slice(0, 40)}…` : given}" is ${text.tokenCount(given)} tokens; the text encoder reads ${text.contextTokens}, so the rest is cut`);
  return { prompts: new Array<string>(count).fill(prompt), ...(condition.negativePrompt !== undefined ? { negativePrompt: condition.negativePrompt } : {}), notes };
}

/** The dataset a model was trained on, whose words a prompt is read against. */
function trainedOn(model: LoadedModel, fallback = ''): string {
  return String((model.manifest.training as Record<string, unknown> | undefined)?.['dataset'] ?? fallback);
}

/** The label named by `label` (index or name) or `prompt` (words), or undefined for neither. */
export function resolveCondition(model: LoadedModel, name: string, condition: Condition): number | undefined {
  if (condition.label !== undefined && condition.prompt !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give {label} or {prompt}, not both');
  if (condition.prompt === undefined) return condition.label === undefined ? undefined : resolveModelLabel(model, name, condition.label);
  if (!model.conditional) throw new GenloomError('BAD_ARGUMENT', `${name} was trained without labels, so it cannot follow a prompt (train with --conditional)`);
  return labelFromPrompt(condition.prompt, promptVocabulary(trainedOn(model), model.labelNames ?? []));
}

/**
 * One label per image: the condition's label for every image, or with `label: "all"` every label
 * in turn (one grid column each); undefined when unconditioned.
 */
export function imageLabels(model: LoadedModel, name: string, condition: Condition, count: number): Int32Array | undefined {
  const classes = model.labelNames?.length ?? 0;
  if (condition.label === 'all' && model.conditional && condition.prompt === undefined) return Int32Array.from({ length: count }, (_, i) => i % classes);
  const label = resolveCondition(model, name, condition);
  return label === undefined ? undefined : new Int32Array(count).fill(label);
}

/** The digits every clip shows: from a prompt ("a 3 and a 7"), a label list ("3,7"), or undefined (each clip draws its own). */
export function clipDigits(model: LoadedModel, video: VideoModel, name: string, condition: Condition): number[] | undefined {
  if (condition.label !== undefined && condition.prompt !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give {label} or {prompt}, not both');
  if (condition.prompt !== undefined) return labelListFromPrompt(condition.prompt, promptVocabulary(trainedOn(model, 'moving-mnist'), video.digitNames), video.digitsPerClip);
  if (condition.label === undefined) return undefined;
  const parts = condition.label.split(',').map((part) => part.trim());
  if (parts.length !== video.digitsPerClip) {
    throw new GenloomError('BAD_ARGUMENT', `{label} "${condition.label}" names ${parts.length} digit${parts.length === 1 ? '' : 's'}; ${name} shows ${video.digitsPerClip} per clip (e.g. "${['3', '7', '1', '4'].slice(0, video.digitsPerClip).join(',')}")`);
  }
  return parts.map((part) => resolveModelLabel(model, name, part));
}

/** The label of every shape: a label (index, name or "all": one of each in turn), a prompt, or undefined (unconditioned). */
export function shapeLabels(model: LoadedModel, shape: ShapeModel, name: string, condition: Condition, count: number): Int32Array | undefined {
  if (condition.label !== undefined && condition.prompt !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give {label} or {prompt}, not both');
  const classes = shape.labelNames?.length ?? 0;
  if (condition.label === 'all' && shape.conditional) return Int32Array.from({ length: count }, (_, i) => i % classes);
  let label: number | undefined;
  if (condition.prompt !== undefined) {
    if (!shape.conditional) throw new GenloomError('BAD_ARGUMENT', `${name} was trained without labels, so it cannot follow a prompt`);
    label = labelFromPrompt(condition.prompt, promptVocabulary(trainedOn(model), shape.labelNames ?? []));
  } else if (condition.label !== undefined) {
    label = resolveModelLabel(model, name, condition.label);
  }
  return label === undefined ? undefined : new Int32Array(count).fill(label);
}

/** The requested style as an index of the model's styles (the first when none is asked); an unknown one lists those it knows. */
export function resolveStyle(music: MusicModel, name: string, style: string | undefined): number {
  if (style === undefined) return 0;
  const index = /^\d+$/.test(style) ? Number(style) : music.styles.findIndex((known) => known.toLowerCase() === style.toLowerCase());
  if (!(index >= 0 && index < music.styles.length)) throw new GenloomError('BAD_ARGUMENT', `unknown style "${style}": ${name} was trained on ${music.styles.join(', ')}`);
  return index;
}
