/**
 * Config parsing every family shares: overrides over a named preset over defaults, validated by the
 * family's zod schema, with errors as one line naming the key.
 */
import type { z } from 'zod';
import { GenloomError } from '../core/errors.ts';

export function parseFamilyConfig<Schema extends z.ZodType>(
  family: string,
  schema: Schema,
  defaults: Record<string, unknown>,
  presets: Record<string, Record<string, unknown>>,
  overrides: Record<string, unknown>,
  preset: string,
): z.infer<Schema> {
  if (!Object.hasOwn(presets, preset)) {
    throw new GenloomError('BAD_ARGUMENT', `unknown ${family} preset "${preset}": choose one of ${Object.keys(presets).join(', ')}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const merged = { ...defaults, ...presets[preset], ...defined };
  // JSON reads 1e999 as Infinity, and a schema's .min/.max alone let Infinity through where only
  // one side is bounded: no hyperparameter is ever infinite or NaN.
  const nonFinite = nonFiniteAt(merged);
  if (nonFinite) throw new GenloomError('BAD_ARGUMENT', `invalid ${family} config: ${nonFinite.path}: must be a finite number, got ${nonFinite.value}`);
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new GenloomError('BAD_ARGUMENT', `invalid ${family} config: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The first non-finite number in a config (nested arrays and objects included), with its path. */
function nonFiniteAt(value: unknown, path = ''): { path: string; value: number } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: path || 'config', value };
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = nonFiniteAt(item, path ? `${path}.${key}` : key);
    if (found) return found;
  }
  return undefined;
}
