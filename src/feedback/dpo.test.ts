import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { assignStored, paramsToStored } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { loadCheckpoint, newManifest, saveCheckpoint } from '../io/checkpoint.ts';
import { loadModel } from '../models/registry.ts';
import { parseTransformerConfig } from '../models/transformer/config.ts';
import { Gpt } from '../models/transformer/gpt.ts';
import { CharTokenizer } from '../text/char-tokenizer.ts';
import { writeTokenizer } from '../text/tokenizer.ts';
import { completionBatch, completionLogProbs, dpoLoss, finetuneDpo, type DpoOptions, type PreferencePair } from './dpo.ts';

const backend = await initEngine();
const root = tempDir('genloom-dpo-');

const softplus = (x: number) => Math.log1p(Math.exp(x));

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

test('dpoLoss: hand-computed loss, reward accuracy and margin, for two betas', () => {
  const before = tf.memory().numTensors;
  // Rows (π chosen, ref chosen, π rejected, ref rejected):
  //   1: (−3, −4, −5, −4.5)  log-ratios +1 and −0.5: z = β·1.5
  //   2: (−6, −5, −2, −3)    log-ratios −1 and +1:   z = β·(−2)
  //   3: (−1, −1, −1, −1)    nothing moved:          z = 0 (a tie is not counted as accurate)
  const policyChosen = tf.tensor1d([-3, -6, -1]);
  const referenceChosen = tf.tensor1d([-4, -5, -1]);
  const policyRejected = tf.tensor1d([-5, -2, -1]);
  const referenceRejected = tf.tensor1d([-4.5, -3, -1]);
  for (const beta of [0.5, 2]) {
    const z = [1.5 * beta, -2 * beta, 0];
    // β = 0.5: z = 0.75, −1, 0: loss = (log(1+e^−0.75) + log(1+e^1) + log 2)/3 = (0.386871 + 1.313262 + 0.693147)/3 ≈ 0.797760
    const expectedLoss = z.reduce((sum, value) => sum + softplus(-value), 0) / 3;
    if (beta === 0.5) close(expectedLoss, (0.386871 + 1.313262 + 0.693147) / 3, 1e-6, 'the written-out numbers');
    const { loss, rewardAccuracy, rewardMargin } = dpoLoss(policyChosen, policyRejected, referenceChosen, referenceRejected, beta);
    close(loss.dataSync()[0]!, expectedLoss, 1e-5, `loss at β=${beta}`);
    close(rewardAccuracy.dataSync()[0]!, 1 / 3, 1e-6, `accuracy at β=${beta}`);
    close(rewardMargin.dataSync()[0]!, (z[0]! + z[1]!) / 3, 1e-5, `margin at β=${beta}`);
    tf.dispose([loss, rewardAccuracy, rewardMargin]);
  }
  // Far from zero the loss stays finite and exact: −log σ(−300) = 300, −log σ(200) ≈ 0.
  const extreme = tf.tidy(() => {
    const { loss, rewardAccuracy } = dpoLoss(tf.tensor1d([0, 2]), tf.tensor1d([3, 0]), tf.tensor1d([0, 0]), tf.tensor1d([0, 0]), 100);
    return { loss: loss.dataSync()[0]!, accuracy: rewardAccuracy.dataSync()[0]! };
  });
  close(extreme.loss, 150, 1e-3, 'loss of z = −300 and z = 200');
  assert.equal(extreme.accuracy, 0.5);
  // dL/dπc = −β σ(−z)/B; for row 1 at β = 0.5 alone: −0.5·σ(−0.75).
  const gradient = tf.tidy(() => tf.grad((x: tf.Tensor) => dpoLoss(x as tf.Tensor1D, tf.tensor1d([-5]), tf.tensor1d([-4]), tf.tensor1d([-4.5]), 0.5).loss)(tf.tensor1d([-3])).dataSync()[0]!);
  close(gradient, -0.5 / (1 + Math.exp(0.75)), 1e-6, 'gradient');
  tf.dispose([policyChosen, referenceChosen, policyRejected, referenceRejected]);
  assert.throws(() => dpoLoss(policyChosen, policyRejected, referenceChosen, referenceRejected, 0), /beta must be a number > 0/);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

const letters = new CharTokenizer('abcdefghijk'.split(''));

function tinyGpt(context = 16, seed = 3): Gpt {
  return new Gpt(parseTransformerConfig({ vocabularySize: letters.vocabularySize, context, layers: 2, heads: 2, dim: 16 }, 'tiny'), fromSeed(seed));
}

/** Σ log-softmax(forward(prompt + completion))[next token] over the completion's tokens, one row, no padding. */
function directLogProb(model: Gpt, prompt: string, completion: string): number {
  const ids = letters.encode(prompt + completion);
  const promptLength = letters.encode(prompt).length;
  return tf.tidy(() => {
    const logits = model.forward(tf.tensor2d(ids.subarray(0, ids.length - 1), [1, ids.length - 1], 'int32'));
    const logProbabilities = tf.logSoftmax(logits.reshape([ids.length - 1, letters.vocabularySize])).arraySync() as number[][];
    let sum = 0;
    for (let position = promptLength - 1; position < ids.length - 1; position++) sum += logProbabilities[position]![ids[position + 1]!]!;
    return sum;
  });
}

test('completionLogProbs: the direct per-token sum over completion tokens only, whatever the padding', () => {
  const before = tf.memory().numTensors;
  const model = tinyGpt();
  const items = [
    { prompt: 'ab', completion: 'cde' },
    { prompt: 'hijk', completion: 'a' },
    { prompt: 'f', completion: 'ghijkabc' },
  ];
  const batch = completionBatch(letters, 16, items);
  assert.deepEqual(batch.tokens.shape, [3, 9], 'padded to the longest row');
  assert.deepEqual(tf.tidy(() => batch.mask.sum(1).arraySync()), [3, 1, 8], 'one mask entry per completion token');
  const batched = tf.tidy(() => completionLogProbs(model, batch).arraySync());
  items.forEach((item, i) => {
    const direct = directLogProb(model, item.prompt, item.completion);
    close(batched[i]!, direct, 1e-4, `row ${i} against the direct sum`);
    const single = completionBatch(letters, 16, [item]);
    close(tf.tidy(() => completionLogProbs(model, single).arraySync())[0]!, batched[i]!, 1e-5, `row ${i} alone against padded in the batch`);
    tf.dispose(single as unknown as tf.TensorContainer);
  });
  // The prompt's tokens are excluded: the whole-sequence sum is lower (more negative).
  assert.ok(directLogProb(model, 'a', 'bcde') < batched[0]!, 'scoring the prompt too would lower the value');

  // The hand-written gradient matches autograd through log-softmax.
  const tokenEmbedding = model.params['tokenEmbedding']!;
  const ours = tf.grad(() => completionLogProbs(model, batch).sum())(tokenEmbedding);
  const autograd = tf.grad(() =>
    tf.tidy(() => {
      const [rows, length] = batch.tokens.shape;
      const logits = model.forward(tf.slice(batch.tokens, [0, 0], [rows, length - 1]));
      const picked = tf.logSoftmax(logits).mul(tf.oneHot(batch.targets, letters.vocabularySize)).sum(2);
      return picked.mul(batch.mask).sum() as tf.Scalar;
    }),
  )(tokenEmbedding);
  const difference = tf.tidy(() => ours.sub(autograd).abs().max().dataSync()[0]!);
  assert.ok(difference < 1e-5, `gradients agree (largest difference ${difference})`);
  tf.dispose([ours, autograd, batch as unknown as tf.TensorContainer]);
  model.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('completionBatch: a long row keeps its end, prompt first; empty completions and prompts are refused', () => {
  // context 8: at most 9 tokens a row. A 10-token prompt and a 3-token completion lose 4 prompt tokens.
  const cut = completionBatch(letters, 8, [{ prompt: 'abcdefghij', completion: 'kab' }]);
  assert.deepEqual(Array.from(cut.tokens.dataSync()), Array.from(letters.encode('efghijkab')));
  assert.deepEqual(Array.from(cut.mask.dataSync()), [0, 0, 0, 0, 0, 1, 1, 1]);
  // A completion longer than the window alone keeps its last 9 tokens; the first of them has nothing to be predicted from.
  const long = completionBatch(letters, 8, [{ prompt: 'a', completion: 'bcdefghijkabc' }]);
  assert.deepEqual(Array.from(long.tokens.dataSync()), Array.from(letters.encode('fghijkabc')));
  assert.deepEqual(Array.from(long.mask.dataSync()), [1, 1, 1, 1, 1, 1, 1, 1]);
  tf.dispose([cut, long] as unknown as tf.TensorContainer);
  assert.throws(() => completionBatch(letters, 8, [{ prompt: 'ab', completion: 'c' }, { prompt: 'a', completion: '' }]), /completion 2 is empty/);
  assert.throws(() => completionBatch(letters, 8, [{ prompt: '', completion: 'c' }]), /completion 1 has an empty prompt/);
});

/** A tiny parent model directory: a random GPT over a small vocabulary, saved as `train` would. */
function writeParent(dir: string): { config: Record<string, unknown>; tokenizer: CharTokenizer } {
  const tokenizer = CharTokenizer.fromText('the sky is blue green red grass fire. ');
  const config = parseTransformerConfig({ vocabularySize: tokenizer.vocabularySize, context: 32, layers: 2, heads: 2, dim: 32 }, 'tiny');
  const model = new Gpt(config, fromSeed(11));
  saveCheckpoint(dir, { manifest: newManifest('transformer', { ...config }, { step: 0, dataset: 'colours.txt', seed: 11 }), weights: paramsToStored(model.params) });
  writeTokenizer(dir, tokenizer);
  model.dispose();
  return { config: { ...config }, tokenizer };
}

const pairs: PreferencePair[] = [
  { prompt: 'the sky is ', chosen: 'blue.', rejected: 'green.' },
  { prompt: 'the grass is ', chosen: 'green.', rejected: 'red.' },
  { prompt: 'fire is ', chosen: 'red.', rejected: 'blue.' },
  { prompt: 'the sea is ', chosen: 'blue.', rejected: 'red.' },
];

/** log π(chosen) − log π(rejected) per pair, for the model stored in `dir`. */
function preferenceMargins(dir: string, config: Record<string, unknown>, tokenizer: CharTokenizer): number[] {
  const model = new Gpt(parseTransformerConfig(config), fromSeed(0));
  assignStored(model.params, loadCheckpoint(dir).weights, dir);
  const rows = [...pairs.map((pair) => ({ prompt: pair.prompt, completion: pair.chosen })), ...pairs.map((pair) => ({ prompt: pair.prompt, completion: pair.rejected }))];
  const values = tf.tidy(() => completionLogProbs(model, completionBatch(tokenizer, 32, rows)).arraySync());
  model.dispose();
  return pairs.map((_, i) => values[i]! - values[pairs.length + i]!);
}

test('finetuneDpo: the policy learns the preferences, loads as a transformer with its parent, and resumes exactly', async () => {
  const parentDir = join(root, 'parent');
  const { config, tokenizer } = writeParent(parentDir);
  const base: DpoOptions = { parentDir, pairs, outDir: join(root, 'dpo'), beta: 0.5, steps: 24, batchSize: 4, learningRate: 3e-3, seed: 5, command: 'genloom finetune dpo (test)', backend, quiet: true, record: { source: 'test pairs' } };
  const before = tf.memory().numTensors;
  const result = await finetuneDpo(base);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.equal(result.steps, 24);
  assert.equal(result.stoppedEarly, false);
  assert.ok(result.last['rewardAccuracy']! === 1, `every pair's implicit reward favours the chosen text at the end (${result.last['rewardAccuracy']})`);

  const logged = readFileSync(join(base.outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>).filter((line) => line['loss'] !== undefined);
  const first = logged[0]!;
  const last = logged.at(-1)!;
  assert.ok(last['rewardMargin']! > first['rewardMargin']! + 0.5, `the margin rises (${first['rewardMargin']} → ${last['rewardMargin']})`);
  assert.ok(last['loss']! < first['loss']!, `the loss falls (${first['loss']} → ${last['loss']})`);

  const reference = preferenceMargins(parentDir, config, tokenizer);
  const policy = preferenceMargins(base.outDir, config, tokenizer);
  policy.forEach((margin, i) => assert.ok(margin > reference[i]! + 0.5, `pair ${i + 1}: log p(chosen) − log p(rejected) is ${margin} under the policy, ${reference[i]} under the reference`));

  const loaded = loadModel(base.outDir);
  assert.equal(loaded.family, 'transformer');
  assert.equal(loaded.manifest.parent, resolve(parentDir));
  assert.deepEqual(loaded.manifest.config, config, "the parent's config, unchanged");
  const training = loaded.manifest.training;
  assert.deepEqual(
    { method: training['method'], beta: training['beta'], pairs: training['pairs'], totalSteps: training['totalSteps'], step: training.step, learningRate: training['learningRate'], seed: training['seed'], command: training['command'], backend: training['backend'], source: training['source'] },
    { method: 'dpo', beta: 0.5, pairs: 4, totalSteps: 24, step: 24, learningRate: 3e-3, seed: 5, command: base.command, backend, source: 'test pairs' },
  );
  const generated = loaded.text!.generate('the sky is ', { maxTokens: 8, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, stop: [], random: fromSeed(1) });
  assert.equal(generated.tokens.length, 8);
  loaded.dispose();

  // Stopped at step 9 and resumed: bit-identical weights to the uninterrupted run.
  const resumedDir = join(root, 'dpo-resumed');
  const stopped = await finetuneDpo({ ...base, outDir: resumedDir, shouldStop: (step) => step === 9 });
  assert.deepEqual([stopped.steps, stopped.stoppedEarly], [9, true]);
  const resumed = await finetuneDpo({ ...base, outDir: resumedDir, resume: true, command: 'genloom finetune dpo --resume (test)' });
  assert.equal(resumed.steps, 24);
  const uninterrupted = loadCheckpoint(base.outDir).weights;
  const continued = loadCheckpoint(resumedDir);
  for (const [name, tensor] of uninterrupted) assert.deepEqual(continued.weights.get(name)!.data, tensor.data, `${name} is bit-identical after --resume`);
  assert.deepEqual(continued.manifest.training['resumedWith'], ['genloom finetune dpo --resume (test)']);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks across runs');
});

test('finetuneDpo: clear errors for empty pairs, identical texts, beta ≤ 0, another family, unknown characters', async () => {
  const parentDir = join(root, 'parent-errors');
  writeParent(parentDir);
  const base: DpoOptions = { parentDir, pairs, outDir: join(root, 'dpo-errors'), beta: 0.1, steps: 2, batchSize: 2, learningRate: 1e-3, seed: 0, command: 'test', backend, quiet: true };
  const refused = (code: string, pattern: RegExp) => (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message);
  await assert.rejects(finetuneDpo({ ...base, pairs: [] }), refused('EMPTY_DATASET', /no preference pairs/));
  await assert.rejects(finetuneDpo({ ...base, pairs: [pairs[0]!, { prompt: 'a', chosen: 'same', rejected: 'same' }] }), refused('BAD_ARGUMENT', /pair 2 has the same chosen and rejected text/));
  for (const beta of [0, -1]) await assert.rejects(finetuneDpo({ ...base, beta }), refused('BAD_ARGUMENT', /--beta must be a number > 0/));
  await assert.rejects(finetuneDpo({ ...base, pairs: [{ prompt: 'the sky is ', chosen: 'blue', rejected: '' }] }), refused('BAD_ARGUMENT', /pair 1 has an empty rejected/));
  await assert.rejects(finetuneDpo({ ...base, pairs: [{ prompt: 'the sky is ', chosen: 'blue', rejected: 'Blue' }] }), refused('BAD_ARGUMENT', /pair 1, rejected: the character "B"/));
  await assert.rejects(finetuneDpo({ ...base, record: { beta: 3 } }), refused('BAD_ARGUMENT', /may not replace DPO's own fields \(beta\)/));
  const vaeDir = join(root, 'a-vae');
  saveCheckpoint(vaeDir, { manifest: newManifest('vae', {}, { step: 0 }), weights: {} });
  await assert.rejects(finetuneDpo({ ...base, parentDir: vaeDir }), refused('WRONG_FAMILY', /holds a vae model, not a transformer/));
});
