/**
 * Discriminator rejection sampling (Azadi et al. 2019): the discriminator is algorithmic feedback
 * on the generator. Each candidate x gets
 *
 *   F(x) = D(x) − D* − log(1 − exp(D(x) − D* − ε)) − γ,   accepted with probability σ(F(x)),
 *
 * where D* is the largest logit seen (first over a burn-in batch) and γ shifts the acceptance rate:
 * we set it to a percentile of F over the burn-in. With a hinge-loss discriminator D(x) only
 * approximates the log density ratio the method assumes, so this is a filter toward samples the
 * discriminator finds realistic, not an exact correction of the distribution.
 */
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';

export interface Candidates {
  /** One logit per candidate. */
  logits: Float32Array;
}

export interface RejectionOptions {
  /** Candidates drawn first to estimate D* and γ. */
  burnIn?: number;
  /** γ is this quantile of F over the burn-in: higher keeps fewer, better-scored samples. */
  keepQuantile?: number;
  /** Give up after this many candidates per requested sample. */
  maxCandidatesPerSample?: number;
  batchSize?: number;
}

const epsilon = 1e-6;

function score(logit: number, maxLogit: number): number {
  const shifted = logit - maxLogit;
  return shifted - Math.log(1 - Math.exp(shifted - epsilon));
}

/**
 * Fills `count` slots. `propose(slots, random)` makes one candidate per slot index (so conditional
 * models can honour each slot's label) and returns their logits; `keep(slot, candidate)` stores an
 * accepted candidate. Returns the acceptance rate.
 */
export function rejectionSample(
  count: number,
  random: Random,
  propose: (slots: number[], random: Random) => Candidates,
  keep: (slot: number, candidate: number) => void,
  options: RejectionOptions = {},
): { acceptanceRate: number; candidates: number } {
  const burnIn = options.burnIn ?? 256;
  const maxCandidates = (options.maxCandidatesPerSample ?? 50) * count;
  const batchSize = options.batchSize ?? 128;
  const burnInSlots = Array.from({ length: burnIn }, (_, i) => i % count);
  const { logits: burnInLogits } = propose(burnInSlots, random.fork('burn-in'));
  let maxLogit = Math.max(...burnInLogits);
  const scores = Array.from(burnInLogits, (logit) => score(logit, maxLogit)).sort((a, b) => a - b);
  const gamma = scores[Math.min(scores.length - 1, Math.floor((options.keepQuantile ?? 0.5) * scores.length))]!;

  const pending = Array.from({ length: count }, (_, i) => i);
  let candidates = 0;
  let round = 0;
  while (pending.length > 0) {
    if (candidates >= maxCandidates) {
      throw new GenloomError('BAD_ARGUMENT', `rejection sampling accepted only ${count - pending.length} of ${count} samples after ${candidates} candidates; try without --reject`);
    }
    const slots = Array.from({ length: Math.min(batchSize, Math.max(pending.length, 16)) }, (_, i) => pending[i % pending.length]!);
    const roundRandom = random.fork('round', round++);
    const { logits } = propose(slots, roundRandom.fork('propose'));
    const coin = roundRandom.fork('accept');
    candidates += slots.length;
    const filled = new Set<number>();
    slots.forEach((slot, candidate) => {
      const logit = logits[candidate]!;
      maxLogit = Math.max(maxLogit, logit);
      const probability = 1 / (1 + Math.exp(-(score(logit, maxLogit) - gamma)));
      if (coin.uniform() < probability && !filled.has(slot)) {
        filled.add(slot);
        keep(slot, candidate);
      }
    });
    for (let i = pending.length - 1; i >= 0; i--) if (filled.has(pending[i]!)) pending.splice(i, 1);
  }
  return { acceptanceRate: count / candidates, candidates };
}
