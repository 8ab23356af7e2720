/**
 * The label a command is asked for: --label as an index or a name, or --prompt in words, checked
 * against what the model was trained on.
 */
import { GenloomError } from '../core/errors.ts';
import { resolveLabel } from '../data/index.ts';
import { labelFromPrompt, promptVocabulary } from '../data/prompts.ts';
import type { LoadedModel } from '../models/family.ts';

/** A label given as an index or a name, checked against the model's labels; the error lists them. */
export function resolveModelLabel(model: LoadedModel, dir: string, label: string): number {
  if (!model.conditional) throw new GenloomError('BAD_ARGUMENT', `${dir} is not a conditional model: it takes no --label (train with --conditional)`);
  const names = model.labelNames ?? [];
  const index = resolveLabel({ name: dir, labelNames: names }, label);
  if (index < 0) throw new GenloomError('BAD_ARGUMENT', `unknown label "${label}": ${dir} knows ${names.map((name, i) => (name === String(i) ? name : `${i}=${name}`)).join(', ')}`);
  return index;
}

export interface ConditionFlags {
  label?: string;
  prompt?: string;
}

/** The label named by --label (index or name) or --prompt (words), or undefined for neither. */
export function resolveCondition(model: LoadedModel, dir: string, flags: ConditionFlags): number | undefined {
  if (flags.label !== undefined && flags.prompt !== undefined) throw new GenloomError('BAD_ARGUMENT', 'give --label or --prompt, not both');
  if (flags.prompt === undefined) return flags.label === undefined ? undefined : resolveModelLabel(model, dir, flags.label);
  if (!model.conditional) throw new GenloomError('BAD_ARGUMENT', `${dir} was trained without labels, so it cannot follow a prompt (train with --conditional)`);
  const dataset = String((model.manifest.training as Record<string, unknown> | undefined)?.['dataset'] ?? '');
  return labelFromPrompt(flags.prompt, promptVocabulary(dataset, model.labelNames ?? []));
}

