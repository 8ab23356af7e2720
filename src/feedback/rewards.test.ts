/**
 * Reward plug-ins and the selection of what a scored fine-tune trains on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointManifest } from '../io/checkpoint.ts';
import { newManifest } from '../io/checkpoint.ts';
import { parseReward } from './rewards.ts';
import { selectCandidates } from './reward-finetune.ts';
import { winRate } from './report.ts';

const textModel = newManifest('transformer', {}, { step: 0, dataset: 'kjv' });
const musicModel = newManifest('music', {}, { step: 0 });
const imageModel: CheckpointManifest = newManifest('gan', {}, { step: 0, dataset: 'mnist' });

test('keyword rewards count whole words in any case, over several keywords', () => {
  const one = parseReward('keyword:light', textModel, 'lm');
  assert.equal(one.kind, 'text');
  const scored = (one as Extract<typeof one, { kind: 'text' }>).score(['Let there be LIGHT.', 'the lighthouse', 'darkness', 'light, and light']);
  assert.deepEqual([...scored.rewards], [1, 0, 0, 1]);
  assert.deepEqual([...scored.hits], [1, 0, 0, 1]);
  const two = parseReward('keyword:light, darkness', textModel, 'lm') as Extract<ReturnType<typeof parseReward>, { kind: 'text' }>;
  assert.deepEqual([...two.score(['light and darkness', 'darkness only', 'neither']).rewards], [1, 0.5, 0]);
});

test('length rewards peak at the target length and hit within 10%', () => {
  const reward = parseReward('length:10', textModel, 'lm') as Extract<ReturnType<typeof parseReward>, { kind: 'text' }>;
  const { rewards, hits } = reward.score(['0123456789', '01234', '0123456789A', '', 'x'.repeat(25)]);
  assert.deepEqual([...rewards], [1, 0.5, 0.9, 0, 0]);
  assert.deepEqual([...hits], [1, 0, 1, 0, 0]);
});

test('music rewards: the share of notes in a key or a range', () => {
  const notes = (pitches: number[]) => pitches.map((pitch, i) => ({ pitch, start: i, duration: 1, velocity: 80 }));
  const cMajor = parseReward('in-key:C', musicModel, 'm') as Extract<ReturnType<typeof parseReward>, { kind: 'music' }>;
  const scale = notes([60, 62, 64, 65, 67, 69, 71, 72]);
  const scored = cMajor.score([scale, notes([60, 61, 62, 63]), []]);
  assert.deepEqual([...scored.rewards], [1, 0.5, 0]);
  assert.deepEqual([...scored.hits], [1, 0, 0]);
  // F# major has F#, C#; A minor shares C major's notes.
  assert.equal((parseReward('in-key:F#', musicModel, 'm') as typeof cMajor).score([notes([66, 61, 60])]).rewards[0], 2 / 3);
  assert.equal((parseReward('in-key:Am', musicModel, 'm') as typeof cMajor).score([scale]).rewards[0], 1);
  const range = parseReward('range:60-64', musicModel, 'm') as typeof cMajor;
  assert.deepEqual([...range.score([notes([59, 60, 64, 65])]).rewards], [0.5]);
});

test('reward specs that do not parse, or score the wrong kind of output, are clear errors', () => {
  assert.throws(() => parseReward('light', textModel, 'lm'), /does not parse: use classifier:LABEL/);
  assert.throws(() => parseReward('sparkle:7', textModel, 'lm'), /unknown reward "sparkle"/);
  assert.throws(() => parseReward('classifier:7', textModel, 'runs/lm'), /scores images, but runs\/lm is a transformer model that makes text/);
  assert.throws(() => parseReward('keyword:light', imageModel, 'runs/gan'), /scores text, but runs\/gan is a gan model that makes images/);
  assert.throws(() => parseReward('keyword:', textModel, 'lm'), /does not parse|names no keyword/);
  assert.throws(() => parseReward('length:0', textModel, 'lm'), /whole number of characters/);
  assert.throws(() => parseReward('in-key:H', musicModel, 'm'), /key must be like/);
  assert.throws(() => parseReward('range:70-60', musicModel, 'm'), /LOW-HIGH/);
  assert.throws(() => parseReward('classifier:seven@/nowhere/cls', imageModel, 'g'), /no model at \/nowhere\/cls/);
});

test('rejection keeps the best share; reward-weighted draws concentrate as τ shrinks', () => {
  const rewards = Float64Array.from({ length: 100 }, (_, i) => i / 99);
  const scores = { rewards, hits: Uint8Array.from(rewards, (reward) => (reward > 0.8 ? 1 : 0)) };
  for (const keep of [0.1, 0.25]) {
    const { indices, record } = selectCandidates(scores, 'rejection', { keep, temperature: 1, seed: 0 });
    assert.equal(indices.length, Math.round(keep * 100));
    assert.ok(indices.every((index) => index >= 100 - keep * 100), 'only the best are kept');
    assert.ok((record['keptRewardMean'] as number) > (record['candidateRewardMean'] as number));
  }
  const mean = (temperature: number) => selectCandidates(scores, 'reward-weighted', { keep: 1, temperature, seed: 3 }).record['keptRewardMean'] as number;
  const [wide, narrow] = [mean(10), mean(0.05)];
  assert.ok(Math.abs(wide - 0.5) < 0.1, `τ = 10 is close to uniform (${wide})`);
  assert.ok(narrow > 0.9 && narrow > wide, `τ = 0.05 draws the best (${narrow})`);
  assert.deepEqual(selectCandidates(scores, 'reward-weighted', { keep: 1, temperature: 0.3, seed: 1 }).indices, selectCandidates(scores, 'reward-weighted', { keep: 1, temperature: 0.3, seed: 1 }).indices, 'seeded');
  assert.throws(() => selectCandidates(scores, 'rejection', { keep: 0, temperature: 1, seed: 0 }), /--keep must be a share in \(0, 1\]/);
  assert.throws(() => selectCandidates(scores, 'reward-weighted', { keep: 1, temperature: 0, seed: 0 }), /--temperature must be > 0/);
  assert.throws(() => selectCandidates({ rewards: new Float64Array(0), hits: new Uint8Array(0) }, 'rejection', { keep: 0.5, temperature: 1, seed: 0 }), /no scored samples/);
});

test('win rate: a higher reward on the same seed wins, a tie counts half', () => {
  const scores = (values: number[]) => ({ rewards: Float64Array.from(values), hits: new Uint8Array(values.length) });
  assert.deepEqual(winRate(scores([1, 1, 0, 0.5]), scores([0, 1, 1, 0])), { win_rate: 0.625, wins: 2, losses: 1, ties: 1 });
  assert.equal(winRate(scores([0, 0]), scores([0, 0])).win_rate, 0.5);
});
