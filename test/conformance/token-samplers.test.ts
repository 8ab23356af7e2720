/**
 * The token sampler suite (src/sampling/token-sampling.ts), run over a grid of settings rather than
 * the defaults (tfjs's top-k once ignored k and its test used the default): every combination of
 * temperature, top-k, top-p and repetition penalty must give a distribution that keeps exactly the
 * tokens it promises, and draws that follow it and repeat for the same random stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromSeed } from '../../src/core/random.ts';
import { drawToken, nextTokenProbabilities, validateTokenSampling, type TokenSamplingOptions } from '../../src/sampling/token-sampling.ts';

const size = 40;
const logits = Float32Array.from(fromSeed('token-suite').normalArray(size, 2));
const seen = [0, 3, 7];
const rankOf = (values: ArrayLike<number>) => Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
/** The logits after the repetition penalty, as the sampler sees them. */
function penalised(penalty: number): Float64Array {
  const adjusted = Float64Array.from(logits);
  for (const id of seen) adjusted[id] = adjusted[id]! > 0 ? adjusted[id]! / penalty : adjusted[id]! * penalty;
  return adjusted;
}

const grid: TokenSamplingOptions[] = [];
for (const temperature of [0, 0.5, 1, 2]) for (const topK of [0, 1, 2, 5, 17]) for (const topP of [0.1, 0.5, 0.9, 1]) for (const repetitionPenalty of [1, 1.7]) grid.push({ temperature, topK, topP, repetitionPenalty });

test('every setting gives a distribution: non-negative, summing to 1', () => {
  for (const options of grid) {
    validateTokenSampling(options);
    const probabilities = nextTokenProbabilities(logits, seen, options);
    assert.ok(probabilities.every((p) => p >= 0), JSON.stringify(options));
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-9, JSON.stringify(options));
  }
});

test('temperature 0 is greedy: all mass on the most likely token after the penalty', () => {
  for (const options of grid.filter((one) => one.temperature === 0)) {
    const probabilities = nextTokenProbabilities(logits, seen, options);
    const best = rankOf(penalised(options.repetitionPenalty))[0]!;
    assert.equal(probabilities[best], 1, JSON.stringify(options));
  }
});

test('top-k keeps exactly the k most likely tokens; top-p the smallest most-likely set reaching p', () => {
  for (const options of grid.filter((one) => one.temperature > 0)) {
    const probabilities = nextTokenProbabilities(logits, seen, options);
    const kept = probabilities.reduce((count, p) => count + (p > 0 ? 1 : 0), 0);
    // The distribution before filtering, for the top-p bound.
    const full = nextTokenProbabilities(logits, seen, { ...options, topK: 0, topP: 1 });
    const order = rankOf(full);
    const byK = options.topK > 0 ? options.topK : size;
    let byP = size;
    let mass = 0;
    for (let rank = 0; rank < size; rank++) {
      mass += full[order[rank]!]!;
      if (mass >= options.topP) {
        byP = rank + 1;
        break;
      }
    }
    const expected = options.topP < 1 ? Math.min(byK, byP) : byK;
    assert.equal(kept, expected, JSON.stringify(options));
    // The kept ones are the top of the ranking, in the same order.
    assert.deepEqual(order.slice(0, kept).every((id) => probabilities[id]! > 0), true, JSON.stringify(options));
  }
});

test('the repetition penalty lowers the probability of tokens already in the text', () => {
  const plain = nextTokenProbabilities(logits, seen, { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 });
  const penalised = nextTokenProbabilities(logits, seen, { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 2 });
  // Relative to any token not yet seen (renormalising can raise a seen token's own probability
  // when a likelier seen token loses more).
  const unseen = Array.from({ length: size }, (_, i) => i).filter((id) => !seen.includes(id));
  for (const id of seen) for (const other of unseen) assert.ok(penalised[id]! / penalised[other]! < plain[id]! / plain[other]!, `token ${id} against ${other}`);
  assert.ok(unseen.every((id) => penalised[id]! >= plain[id]!), 'the mass moves to the other tokens');
});

test('draws repeat for the same random stream and follow the distribution', () => {
  const options = { temperature: 1, topK: 5, topP: 1, repetitionPenalty: 1 };
  const probabilities = nextTokenProbabilities(logits, [], options);
  const draw = (seed: string) => Array.from({ length: 50 }, (_, i) => drawToken(probabilities, fromSeed(seed).fork('token', i)));
  assert.deepEqual(draw('a'), draw('a'));
  assert.notDeepEqual(draw('a'), draw('b'));
  const counts = new Float64Array(size);
  const random = fromSeed('frequencies');
  const draws = 20_000;
  for (let i = 0; i < draws; i++) counts[drawToken(probabilities, random)]!++;
  for (let id = 0; id < size; id++) {
    if (probabilities[id] === 0) assert.equal(counts[id], 0, `a filtered token (${id}) is never drawn`);
    else assert.ok(Math.abs(counts[id]! / draws - probabilities[id]!) < 0.015, `token ${id}: ${counts[id]! / draws} vs ${probabilities[id]}`);
  }
});

test('settings out of range are refused with a message that names them', () => {
  const base = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };
  assert.throws(() => validateTokenSampling({ ...base, temperature: -1 }), /temperature must be ≥ 0/);
  assert.throws(() => validateTokenSampling({ ...base, topK: 1.5 }), /top-k must be a whole number/);
  assert.throws(() => validateTokenSampling({ ...base, topP: 0 }), /top-p must be in \(0, 1\]/);
  assert.throws(() => validateTokenSampling({ ...base, repetitionPenalty: 0.5 }), /repetition penalty must be ≥ 1/);
});
