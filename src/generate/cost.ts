/**
 * What a generation request costs, known before it runs, so a server can refuse one that would hold
 * its single generation worker for minutes (a PixelCNN's 64 images are 64 × 784 network passes).
 *
 * The figure is an estimate in multiply-adds: items × network passes per item × positions a pass
 * covers × the model's parameters. Every weight is counted once per position, which is exact for a
 * dense layer and an upper bound for a convolution that downsamples; it ranks requests by their
 * cost, which is what a budget needs, and is linear in the item count, so a refusal can say how
 * many items would fit. A family whose generation is more than one pass per item (row by row, step
 * by step, token by token) declares its passes (FamilyDefinition.generationWork).
 */
import { GenloomError } from '../core/errors.ts';
import type { CheckpointManifest } from '../io/checkpoint-format.ts';
import { getFamily } from '../models/registry.ts';
import type { GenerationWork, WorkKind } from '../models/family.ts';

export type { GenerationWork, WorkKind } from '../models/family.ts';

export interface GenerationCost extends GenerationWork {
  /** Multiply-adds, about: items × passesPerItem × positionsPerPass × parameters. */
  multiplyAdds: number;
  /** The multiply-adds of one item, so `floor(budget / perItem)` items fit. */
  perItem: number;
}

const number = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback);

/** Positions one pass of a network covers, from its config: pixels, a clip's voxels of space-time, a grid's voxels; 1 for sequence models. */
export function positionsOf(config: Record<string, unknown>): number {
  if (typeof config['frameSize'] === 'number') return number(config['frames'], 1) * config['frameSize'] ** 2;
  if (typeof config['resolution'] === 'number') return config['resolution'] ** 3;
  if (typeof config['imageHeight'] === 'number') return config['imageHeight'] * number(config['imageWidth'], config['imageHeight']);
  return 1;
}

/** The work of one request when a family declares none: one pass per item over the whole output. */
function oneShotWork(config: Record<string, unknown>, request: Record<string, unknown>): GenerationWork {
  return { items: number(request['n'], 1), passesPerItem: 1, positionsPerPass: positionsOf(config), what: 'items' };
}

/**
 * The cost of `kind` (generate, complete, decode, …) with `request` on a model of `manifest` with
 * `parameters` weights.
 *
 * @example
 * estimateGenerationCost(manifest, 60_000, 'generate', { n: 64 }); // a PixelCNN: { items: 64, passesPerItem: 784, … }
 */
export function estimateGenerationCost(manifest: CheckpointManifest, parameters: number, kind: WorkKind, request: Record<string, unknown>): GenerationCost {
  const family = getFamily(manifest.family);
  const work = family.generationWork?.(manifest.config, request, kind) ?? oneShotWork(manifest.config, request);
  const perItem = work.passesPerItem * work.positionsPerPass * Math.max(parameters, 1);
  return { ...work, perItem, multiplyAdds: work.items * perItem };
}

/** Giga multiply-adds, rounded for a message. */
export function formatGmac(multiplyAdds: number): string {
  const gmac = multiplyAdds / 1e9;
  return `${gmac >= 100 ? Math.round(gmac).toLocaleString('en-US') : gmac.toPrecision(2)} GMAC`;
}

/**
 * Throws a TOO_COSTLY GenloomError when `cost` is over `budget` multiply-adds, saying what the
 * request would take and how many items would fit.
 */
export function checkGenerationBudget(cost: GenerationCost, budget: number, name: string): void {
  if (cost.multiplyAdds <= budget) return;
  const fit = Math.floor(budget / cost.perItem);
  const breakdown = `${cost.items} ${cost.what} × ${cost.passesPerItem.toLocaleString('en-US')} network pass${cost.passesPerItem === 1 ? '' : 'es'}`;
  const advice = fit >= 1 ? `at most ${fit} ${cost.what} of this kind fit` : `not one of these ${cost.what} fits (ask for fewer steps, tokens or frames)`;
  throw new GenloomError('TOO_COSTLY', `this request to ${name} would take about ${formatGmac(cost.multiplyAdds)} (${breakdown}); the server's budget per request is ${formatGmac(budget)}: ${advice}`);
}
