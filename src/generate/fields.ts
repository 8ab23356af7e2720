/**
 * Which request fields a model takes: those every model of its modality takes, plus those its
 * family declares (a GAN's truncation, diffusion's sampler). Anything else is refused by name,
 * with the families it is for, so a user learns where the field belongs.
 */
import { GenloomError } from '../core/errors.ts';
import type { LoadedModel, Modality } from '../models/family.ts';
import { families, getFamily } from '../models/registry.ts';

/** The fields every model of a modality takes (seed and conditions; the length of what it makes). */
export const modalityFields: Readonly<Record<Modality, readonly string[]>> = {
  images: ['seed', 'n', 'label', 'prompt'],
  text: ['seed', 'prompt', 'maxTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'stop'],
  music: ['seed', 'n', 'style', 'bars', 'seconds', 'primer', 'temperature', 'topP'],
  clips: ['seed', 'n', 'label', 'prompt'],
  shapes: ['seed', 'n', 'label', 'prompt'],
};

/** Every field `model` takes when it generates. */
export function generationFieldsOf(model: LoadedModel): string[] {
  const family = getFamily(model.family);
  if (!family.generates) return [];
  return [...modalityFields[family.generates], ...(family.generationFields ?? [])];
}

/** Who takes `field`: "gan models", "image and clip models", for the refusal's hint. */
function takersOf(field: string): string {
  const takers = Object.values(families).filter((family) => family.generates && (modalityFields[family.generates].includes(field) || family.generationFields?.includes(field)));
  return takers.length > 0 ? `${takers.map((family) => family.name).join(', ')} models` : 'no model';
}

/** Refuses any field of `request` (given, not undefined) that `model` does not take; `name` is the model in messages. */
export function checkGenerationFields(model: LoadedModel, name: string, request: object): void {
  if (!getFamily(model.family).generates) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not generate`);
  refuseUntakenFields(model, name, request);
}

/** Like checkGenerationFields, for commands that only pass some generation settings on (eval's samples): any model may be asked, with none given. */
export function refuseUntakenFields(model: LoadedModel, name: string, request: object): void {
  const allowed = new Set(generationFieldsOf(model));
  for (const [field, value] of Object.entries(request)) {
    if (value === undefined || allowed.has(field)) continue;
    throw new GenloomError('BAD_ARGUMENT', `{${field}} is not for ${name}, a ${model.family} model (it is for ${takersOf(field)})`);
  }
}

/** What the studio and the HTTP API ask for when a request leaves it out: a screenful of each modality. */
export const requestDefaults: Readonly<Record<Modality, Readonly<Record<string, unknown>>>> = {
  images: { n: 16 },
  text: { maxTokens: 200 },
  music: { bars: 8 },
  clips: { n: 4 },
  shapes: { n: 4 },
};

/**
 * The denoising steps a model takes when a request gives none, by its family's sampling
 * declaration ("all" is every training timestep); undefined for families without samplers.
 */
export function defaultSteps(model: LoadedModel, sampler?: string): number | undefined {
  const sampling = getFamily(model.family).sampling;
  if (!sampling) return undefined;
  const steps = sampling.defaultSteps[sampler ?? sampling.defaultSampler];
  return steps === 'all' ? Number(model.manifest.config['timesteps']) : steps;
}
