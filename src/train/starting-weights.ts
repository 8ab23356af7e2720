/**
 * Where a fine-tune starts: its parent's weights, and which of them stay fixed. The trainer uses
 * both, so every family fine-tunes the same way.
 */
import { join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { assignStored, type Params } from '../core/params.ts';
import { loadCheckpoint } from '../io/checkpoint.ts';
import type { StoredTensor } from '../io/safetensors.ts';

/**
 * Copies the weights of the model in `dir` into `params`. A tensor the parent lacks is taken from
 * its averaged twin: shipped diffusion models keep only the EMA weights ("ema.<name>") that sampling
 * uses, and a fine-tune starts both the network and its average from them. Anything else missing,
 * extra or mis-shaped is an error naming the tensor.
 */
export function loadStartingWeights(params: Params, dir: string, family: string): void {
  const { weights } = loadCheckpoint(dir, { expectFamily: family });
  const filled = new Map<string, StoredTensor>();
  for (const name of Object.keys(params)) {
    const tensor = weights.get(name) ?? weights.get(`ema.${name}`) ?? (name.startsWith('ema.') ? weights.get(name.slice(4)) : undefined);
    if (tensor) filled.set(name, tensor);
  }
  for (const name of weights.keys()) {
    if (!filled.has(name) && !(name in params)) filled.set(name, weights.get(name)!);
  }
  assignStored(params, filled, join(dir, 'model.safetensors'));
}

/**
 * The parameters left to train once those named by `--freeze` prefixes are held fixed. A prefix
 * that names no parameter, or one that freezes everything, is an error listing the groups there are.
 */
export function withoutFrozen(params: Params, prefixes: readonly string[] | undefined, allParams: Params = params): Params {
  if (!prefixes || prefixes.length === 0) return params;
  for (const prefix of prefixes) {
    if (!Object.keys(allParams).some((name) => name.startsWith(prefix))) {
      throw new GenloomError('BAD_ARGUMENT', `--freeze ${prefix} matches no parameter; this model's groups are ${parameterGroups(allParams).join(', ')}`);
    }
  }
  return Object.fromEntries(Object.entries(params).filter(([name]) => !prefixes.some((prefix) => name.startsWith(prefix))));
}

/** The first one or two dot-separated parts of the parameter names ("encoder.conv0", "g.up1", …). */
export function parameterGroups(params: Params): string[] {
  return [...new Set(Object.keys(params).map((name) => name.split('.').slice(0, 2).join('.')))].sort();
}
