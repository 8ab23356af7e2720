import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/fixtures.ts';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { BpeTokenizer } from '../../text/bpe-tokenizer.ts';
import { CharTokenizer } from '../../text/char-tokenizer.ts';
import { loadModel } from '../registry.ts';
import { parseTransformerConfig } from './config.ts';
import { ContextWindow, generateText } from './generate.ts';
import { Gpt } from './gpt.ts';
import { transformerFamily } from './index.ts';
import { drawToken, nextTokenProbabilities, validateTokenSampling, defaultTokenSampling } from '../../sampling/token-sampling.ts';

await initEngine();

const root = tempDir();

function tinyGpt(overrides: Record<string, unknown> = {}, seed = 1): Gpt {
  return new Gpt(parseTransformerConfig({ vocabularySize: 11, context: 16, layers: 2, heads: 2, dim: 16, ...overrides }, 'tiny'), fromSeed(seed));
}

function logitsOf(model: Gpt, ids: number[]): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32')).dataSync() as Float32Array);
}

for (const positions of ['learned', 'rotary'] as const) {
  test(`causality (${positions} positions): changing a later token never changes an earlier logit`, () => {
    const model = tinyGpt({ positions });
    const ids = [1, 4, 2, 7, 3, 3, 9, 0, 5, 6, 2, 8];
    const changed = ids.slice();
    changed[7] = 10;
    const a = logitsOf(model, ids);
    const b = logitsOf(model, changed);
    const vocabulary = 11;
    assert.deepEqual(a.subarray(0, 7 * vocabulary), b.subarray(0, 7 * vocabulary), 'positions 0..6 bit-identical');
    assert.notDeepEqual(a.subarray(7 * vocabulary, 8 * vocabulary), b.subarray(7 * vocabulary, 8 * vocabulary), 'position 7 sees the change');
    model.dispose();
  });

  test(`the KV cache gives the same logits as re-running the window (${positions} positions, across window restarts)`, () => {
    const before = tf.memory().numTensors;
    const model = tinyGpt({ positions });
    const cached = new ContextWindow(model, true);
    const uncached = new ContextWindow(model, false);
    const random = fromSeed(5);
    // A 20-token prompt is cut to the last 16; then 30 tokens, restarting the window twice.
    const prompt = Array.from({ length: 20 }, () => random.integer(11));
    cached.append(prompt);
    uncached.append(prompt);
    assert.equal(cached.start, 4, 'a long prompt keeps its last context tokens');
    let largest = 0;
    for (let i = 0; i < 30; i++) {
      const withCache = cached.nextLogits();
      const without = uncached.nextLogits();
      for (let j = 0; j < withCache.length; j++) largest = Math.max(largest, Math.abs(withCache[j]! - without[j]!));
      const token = random.integer(11);
      cached.append([token]);
      uncached.append([token]);
    }
    assert.ok(largest < 1e-5, `cached and uncached logits agree (largest difference ${largest})`);
    assert.ok(cached.start > 4, 'the window restarted');
    cached.dispose();
    uncached.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before, 'the cache and the model free their tensors');
  });
}

test('token sampling: greedy, top-k, top-p, repetition penalty, and their errors', () => {
  const logits = Float32Array.from([1, 3, 2, 0]);
  const greedy = nextTokenProbabilities(logits, [], { ...defaultTokenSampling, temperature: 0 });
  assert.deepEqual([...greedy], [0, 1, 0, 0]);
  const top2 = nextTokenProbabilities(logits, [], { ...defaultTokenSampling, topK: 2 });
  assert.deepEqual([...top2].map((p) => p > 0), [false, true, true, false]);
  assert.ok(Math.abs(top2[1]! - Math.E / (Math.E + 1)) < 1e-12, 'renormalised over the kept tokens');
  // Softmax of [1, 3, 2, 0] is about [0.087, 0.644, 0.237, 0.032]: p = 0.7 needs the top two.
  const nucleus = nextTokenProbabilities(logits, [], { ...defaultTokenSampling, topP: 0.7 });
  assert.deepEqual([...nucleus].map((p) => p > 0), [false, true, true, false]);
  const penalised = nextTokenProbabilities(logits, [1, 1], { ...defaultTokenSampling, repetitionPenalty: 4, temperature: 0 });
  assert.deepEqual([...penalised], [0, 0, 1, 0], 'the repeated token (logit 3 → 0.75) loses to the next best');
  const random = fromSeed(1);
  const counts = [0, 0, 0, 0];
  const full = nextTokenProbabilities(logits, [], defaultTokenSampling);
  for (let i = 0; i < 20000; i++) counts[drawToken(full, random)]! += 1;
  counts.forEach((count, i) => assert.ok(Math.abs(count / 20000 - full[i]!) < 0.015, `token ${i} drawn at its probability`));
  assert.throws(() => validateTokenSampling({ ...defaultTokenSampling, temperature: -1 }), /temperature must be ≥ 0/);
  assert.throws(() => validateTokenSampling({ ...defaultTokenSampling, topP: 0 }), /top-p must be in \(0, 1\]/);
  assert.throws(() => validateTokenSampling({ ...defaultTokenSampling, topP: 1.5 }), /top-p must be in \(0, 1\]/);
  assert.throws(() => validateTokenSampling({ ...defaultTokenSampling, repetitionPenalty: 0.5 }), /repetition penalty must be ≥ 1/);
});

const verse = 'In the beginning God created the heaven and the earth.\n';
const corpusFile = join(root, 'verse.txt');
writeFileSync(corpusFile, verse.repeat(40));
const trained = join(root, 'lm');

test('a tiny GPT memorises a short text through `train`, then regenerates it greedily and streams it', async () => {
  const summary = await transformerFamily.train({
    dataset: corpusFile,
    outDir: trained,
    seed: 1,
    steps: 150,
    batchSize: 8,
    learningRate: 5e-3,
    resume: false,
    preset: 'tiny',
    config: { context: 32, checkpointEvery: 75 },
    command: 'test',
    quiet: true,
    backend: 'wasm',
  });
  assert.ok(summary.last['loss']! < 0.1, `training loss falls near 0 (got ${summary.last['loss']})`);
  for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.json', 'samples.txt', 'loss.png', join('best', 'model.safetensors')]) {
    assert.ok(existsSync(join(trained, file)), `${file} written`);
  }
  const lines = readFileSync(join(trained, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.ok(lines.some((line) => Number.isFinite(line.valLoss)), 'validation loss logged');

  const best = loadModel(join(trained, 'best'));
  assert.ok(Number.isFinite(best.manifest.training['valLoss'] as number), 'best/ is a model of its own, with its validation loss');
  best.dispose();
  const model = loadModel(trained);
  const text = model.text!;
  const chunks: string[] = [];
  const greedy = text.generate('In the beginning', { maxTokens: 80, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, stop: [], random: fromSeed(1), onText: (chunk) => chunks.push(chunk) });
  assert.equal(greedy.text, verse.slice('In the beginning'.length) + verse.slice(0, 80 - (verse.length - 'In the beginning'.length)), 'greedy decoding recites the text');
  assert.equal(chunks.join(''), greedy.text, 'the streamed chunks are the text');

  const stopped = text.generate('In the', { maxTokens: 80, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, stop: ['heaven'], random: fromSeed(1) });
  assert.equal(stopped.text, ' beginning God created the ');
  assert.equal(stopped.stoppedBy, 'stop');

  const options = { maxTokens: 60, temperature: 1.5, topK: 0, topP: 1, repetitionPenalty: 1, stop: [] };
  const a = text.generate('God', { ...options, random: fromSeed(7) });
  const b = text.generate('God', { ...options, random: fromSeed(7) });
  const c = text.generate('God', { ...options, random: fromSeed(8) });
  const uncached = text.generate('God', { ...options, random: fromSeed(7), useCache: false });
  assert.equal(a.text, b.text, 'same seed, same text');
  assert.notEqual(a.text, c.text, 'another seed, other text');
  assert.equal(uncached.text, a.text, 'with or without the KV cache');

  assert.throws(() => text.generate('Ωmega', { ...options, random: fromSeed(1) }), /"Ω" \(U\+03A9\) at position 0 is not in this model's/);
  assert.throws(() => text.generate('God', { ...options, maxTokens: 0, random: fromSeed(1) }), /max tokens must be/);

  const metrics = await model.evaluate!({ seed: 0, quiet: true });
  assert.equal(metrics['split'], 'validation');
  assert.ok((metrics['loss'] as number) < 0.2, `the memorised text's validation loss is low (${metrics['loss']})`);
  assert.ok(Math.abs((metrics['bitsPerCharacter'] as number) - (metrics['natsPerCharacter'] as number) / Math.LN2) < 1e-3, 'bits = nats / ln 2');

  const { tokens, layers } = text.attention('In the beginning');
  assert.equal(tokens.length, 16);
  assert.equal(layers.length, 2);
  assert.equal(layers[0]!.length, 2);
  const map = layers[1]![0]!;
  for (let row = 0; row < 16; row++) {
    let sum = 0;
    for (let column = 0; column < 16; column++) {
      sum += map[row * 16 + column]!;
      if (column > row) assert.equal(map[row * 16 + column], 0, 'no attention to later tokens');
    }
    assert.ok(Math.abs(sum - 1) < 1e-5, 'each row is a distribution');
  }
  model.dispose();
});

test('resuming a transformer run (with gradient accumulation) is bit-identical to an uninterrupted one', async () => {
  const request = (outDir: string) => ({
    dataset: corpusFile,
    outDir,
    seed: 2,
    steps: 6,
    batchSize: 4,
    learningRate: 1e-3,
    resume: false,
    preset: 'tiny',
    config: { context: 16, accumulationSteps: 2, checkpointEvery: 100 },
    command: 'test',
    quiet: true,
    backend: 'wasm',
  });
  const straight = join(root, 'straight');
  await transformerFamily.train(request(straight));
  const interrupted = join(root, 'interrupted');
  await transformerFamily.train({ ...request(interrupted), shouldStop: (step) => step === 4 });
  // Resumed without --steps: the run keeps the length (and so the schedule) it was started with.
  await transformerFamily.train({ ...request(interrupted), resume: true, dataset: '', config: {}, steps: undefined });
  assert.deepEqual(readFileSync(join(interrupted, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')));
  assert.deepEqual(readFileSync(join(interrupted, 'optimizer.safetensors')), readFileSync(join(straight, 'optimizer.safetensors')));
});

test('a corpus without a newline trains through its checkpoints (their samples start from its first character)', async () => {
  const oneLine = join(root, 'one-line.txt');
  writeFileSync(oneLine, 'abcab cabca bcabc '.repeat(20));
  const outDir = join(root, 'one-line');
  const summary = await transformerFamily.train({ dataset: oneLine, outDir, seed: 1, steps: 2, batchSize: 2, resume: false, preset: 'tiny', config: { context: 8, checkpointEvery: 1 }, command: 'test', quiet: true, backend: 'wasm' });
  assert.equal(summary.steps, 2);
  assert.ok(readFileSync(join(outDir, 'samples.txt'), 'utf8').length > 0);
});

test('BPE text streams whole characters: the chunks join to the decoded tokens, multi-byte characters included', () => {
  const tokenizer = BpeTokenizer.train('café naïve 😀 façade — ünïcödé 😀 café '.repeat(20), 300);
  const model = tinyGpt({ vocabularySize: tokenizer.vocabularySize, context: 32 });
  const chunks: string[] = [];
  const result = generateText(model, tokenizer, 'café', { ...defaultTokenSampling, maxTokens: 60, stop: [], random: fromSeed(3), onText: (chunk) => chunks.push(chunk) });
  assert.equal(chunks.join(''), result.text);
  assert.equal(result.text, tokenizer.decode(result.tokens), 'the streamed text is the decoded tokens');
  assert.ok(result.tokens.some((id) => tokenizer.tokenBytes(id).some((byte) => byte >= 0x80)), 'multi-byte tokens were drawn');
  model.dispose();
});

test('bad text input gets clear errors', async () => {
  const base = { outDir: join(root, 'bad'), seed: 1, steps: 2, resume: false, preset: 'tiny', config: {}, command: 'test', quiet: true, backend: 'wasm' };
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'binary.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1]));
  writeFileSync(join(root, 'short.txt'), 'too short');
  await assert.rejects(transformerFamily.train({ ...base, dataset: join(root, 'empty.txt') }), /empty\.txt is empty/);
  await assert.rejects(transformerFamily.train({ ...base, dataset: join(root, 'binary.txt') }), /looks binary/);
  await assert.rejects(transformerFamily.train({ ...base, dataset: join(root, 'short.txt') }), /fewer than one training window/);
  await assert.rejects(transformerFamily.train({ ...base, dataset: 'mnist' }), /image dataset/);
  await assert.rejects(transformerFamily.train({ ...base, dataset: corpusFile, config: { dim: 30, heads: 4 } }), /dim must be a multiple of heads/);
  await assert.rejects(transformerFamily.train({ ...base, dataset: corpusFile, config: { accumulationSteps: 0 } }), /--accumulate must be a whole number ≥ 1/);
  assert.equal(existsSync(join(root, 'bad', 'model.safetensors')), false, 'nothing written');
  const tokenizer = CharTokenizer.fromText('ab');
  assert.throws(() => generateText(tinyGpt({ vocabularySize: 2 }), tokenizer, 'ab', { ...defaultTokenSampling, topP: 2, maxTokens: 3, stop: [], random: fromSeed(1) }), /top-p/);
});
