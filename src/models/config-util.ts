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
  if (!(preset in presets)) {
    throw new GenloomError('BAD_ARGUMENT', `unknown ${family} preset "${preset}": choose one of ${Object.keys(presets).join(', ')}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const parsed = schema.safeParse({ ...defaults, ...presets[preset], ...defined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new GenloomError('BAD_ARGUMENT', `invalid ${family} config: ${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  return parsed.data;
}
