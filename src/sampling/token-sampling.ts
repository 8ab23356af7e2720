/**
 * Choosing the next token from the model's logits: repetition penalty, temperature, top-k and top-p
 * (nucleus), then one draw from the seeded stream. Apart from the network so any sequence model
 * can use it; plain arithmetic on a Float32Array, so the same seed gives the same token everywhere.
 */
import { GenloomError } from '../core/errors.ts';
import type { Random } from '../core/random.ts';

export interface TokenSamplingOptions {
  /** Divides the logits; 0 means greedy (always the most likely token); must not be negative. */
  temperature: number;
  /** Keep only the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p, in (0, 1] (1 = all). */
  topP: number;
  /** CTRL's penalty (Keskar et al. 2019) on tokens already in the text: ≥ 1, 1 = none. */
  repetitionPenalty: number;
}

export const defaultTokenSampling: TokenSamplingOptions = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };

export function validateTokenSampling(options: TokenSamplingOptions): void {
  const { temperature, topK, topP, repetitionPenalty } = options;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new GenloomError('BAD_ARGUMENT', `temperature must be ≥ 0 (0 = greedy), got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new GenloomError('BAD_ARGUMENT', `top-k must be a whole number ≥ 0 (0 = off), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new GenloomError('BAD_ARGUMENT', `top-p must be in (0, 1], got ${topP}`);
  if (!(repetitionPenalty >= 1) || !Number.isFinite(repetitionPenalty)) throw new GenloomError('BAD_ARGUMENT', `the repetition penalty must be ≥ 1 (1 = none), got ${repetitionPenalty}`);
}

/** The probabilities the next token is drawn from (zeros for tokens filtered out); `seen`: the tokens of the text so far, for the repetition penalty. */
export function nextTokenProbabilities(logits: Float32Array, seen: Iterable<number>, options: TokenSamplingOptions): Float64Array {
  const size = logits.length;
  const adjusted = Float64Array.from(logits);
  if (options.repetitionPenalty !== 1) {
    for (const id of new Set(seen)) {
      const value = adjusted[id]!;
      adjusted[id] = value > 0 ? value / options.repetitionPenalty : value * options.repetitionPenalty;
    }
  }
  const probabilities = new Float64Array(size);
  if (options.temperature === 0) {
    let best = 0;
    for (let i = 1; i < size; i++) if (adjusted[i]! > adjusted[best]!) best = i;
    probabilities[best] = 1;
    return probabilities;
  }
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, adjusted[i]!);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    probabilities[i] = Math.exp((adjusted[i]! - max) / options.temperature);
    sum += probabilities[i]!;
  }
  for (let i = 0; i < size; i++) probabilities[i]! /= sum;
  const { topK, topP } = options;
  if ((topK > 0 && topK < size) || topP < 1) {
    // Most likely first; ties by id so the kept set never depends on the sort's stability.
    const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
    let kept = topK > 0 ? Math.min(topK, size) : size;
    if (topP < 1) {
      let mass = 0;
      for (let rank = 0; rank < kept; rank++) {
        mass += probabilities[order[rank]!]!;
        if (mass >= topP) {
          kept = rank + 1;
          break;
        }
      }
    }
    let keptMass = 0;
    for (let rank = 0; rank < kept; rank++) keptMass += probabilities[order[rank]!]!;
    for (let rank = kept; rank < size; rank++) probabilities[order[rank]!] = 0;
    for (let rank = 0; rank < kept; rank++) probabilities[order[rank]!]! /= keptMass;
  }
  return probabilities;
}

/** One token drawn from `probabilities` (inverse CDF with one uniform). */
export function drawToken(probabilities: Float64Array, random: Random): number {
  const u = random.uniform();
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probabilities.length; i++) {
    if (probabilities[i]! === 0) continue;
    cumulative += probabilities[i]!;
    last = i;
    if (u < cumulative) return i;
  }
  return last; // rounding left u just above the total
}
