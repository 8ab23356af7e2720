/**
 * The per-request budget of the generation worker: a request's cost is estimated from the model's
 * config, its weight count (read from the safetensors header alone) and the request, before it is
 * queued, and one over `maxRequestGmac` is refused with 413 and what would fit. One worker serves
 * everyone, so a cheap-to-send request that would hold it for minutes denies service to all.
 */
import { checkGenerationBudget, estimateGenerationCost, type WorkKind } from '../generate/cost.ts';
import { readSafetensorsLayout, storedValues } from '../io/safetensors.ts';
import { join } from 'node:path';
import type { CatalogEntry } from './catalog.ts';

const weightCounts = new Map<string, number>();

/** The weights of a catalog entry's model.safetensors (cached by its version). */
function weightsOf(entry: CatalogEntry): number {
  const key = `${entry.dir}:${entry.version}`;
  let count = weightCounts.get(key);
  if (count === undefined) {
    count = storedValues(readSafetensorsLayout(join(entry.dir, 'model.safetensors')));
    if (weightCounts.size > 256) weightCounts.clear();
    weightCounts.set(key, count);
  }
  return count;
}

/** Throws 413 (TOO_COSTLY) when `request` to `entry` costs more than `maxRequestGmac` giga multiply-adds. */
export function checkRequestBudget(entry: CatalogEntry, kind: WorkKind, request: Record<string, unknown>, maxRequestGmac: number): void {
  const cost = estimateGenerationCost(entry.manifest, weightsOf(entry), kind, request);
  checkGenerationBudget(cost, maxRequestGmac * 1e9, entry.name);
}
