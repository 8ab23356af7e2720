/**
 * The studio's in-browser loader (web/src/local/models.ts) against the server's path
 * (loadModel(dir)): the same shipped files, read as bytes and built without Node APIs, must give
 * exactly the same images and text for a seed. Both run on this process's backend, so the outputs
 * are compared bit for bit; the browser backends are compared in test/e2e/in-browser.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import { buildBrowserModel, filesFor, type ImageModel, type ModelBytes, type TextModel } from '../../web/src/local/models.ts';
import { loadModel } from './registry.ts';

await initEngine();

const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));

function bytesOf(name: string): ModelBytes {
  const read = (file: string) => new Uint8Array(readFileSync(join(modelsDir, name, file)));
  return { config: read('config.json'), weights: read('model.safetensors'), ...(name.startsWith('transformer') ? { tokenizer: read('tokenizer.json') } : {}) };
}

function pixels(images: tf.Tensor): Float32Array {
  const values = images.dataSync() as Float32Array;
  images.dispose();
  return values;
}

const imageCases = [
  { name: 'vae-mnist', seed: 7, count: 6 },
  { name: 'gan-mnist', seed: 7, count: 6, label: 3, truncation: 0.7 },
  { name: 'gan-mnist', seed: 123, count: 5 }, // labels drawn from the seed
  { name: 'diffusion-mnist', seed: 5, count: 3, label: 8, sampler: 'ddim', steps: 4, guidance: 3 },
  { name: 'diffusion-mnist', seed: 9, count: 2, sampler: 'dpm-solver', steps: 3 },
];

for (const { name, ...request } of imageCases) {
  test(`${name} ${JSON.stringify(request)}: the browser loader draws exactly the server's images`, () => {
    const before = tf.memory().numTensors;
    const server = loadModel(join(modelsDir, name));
    const browser = buildBrowserModel(bytesOf(name), name) as ImageModel;
    try {
      assert.equal(browser.kind, 'images');
      assert.deepEqual(browser.imageShape, server.imageShape);
      assert.deepEqual(browser.labelNames, server.labelNames);
      const { seed, count, label, ...rest } = request as typeof request & { label?: number };
      const labels = label === undefined ? undefined : new Int32Array(count).fill(label);
      const expected = pixels(server.sampleImages!(count, fromSeed(seed).fork('sample'), { labels, ...rest }));
      const steps: number[] = [];
      const got = pixels(browser.sample({ seed, count, label, ...rest, onStep: (index) => steps.push(index) }));
      assert.equal(got.length, count * 28 * 28);
      assert.deepEqual(got, expected);
      if (name.startsWith('diffusion')) assert.equal(steps.length, (rest as { steps: number }).steps);
      // A different seed gives different images (the seed is used, not ignored).
      const other = pixels(browser.sample({ seed: seed + 1, count, label, ...rest }));
      assert.notDeepEqual(other, got);
    } finally {
      server.dispose();
      browser.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  });
}

test('transformer-kjv: the browser loader streams exactly the server\'s text for a seed', async () => {
  const server = loadModel(join(modelsDir, 'transformer-kjv'));
  const browser = buildBrowserModel(bytesOf('transformer-kjv'), 'transformer-kjv') as TextModel;
  try {
    for (const settings of [{ temperature: 0.8, topK: 5 }, { temperature: 1.2, topK: 0 }]) {
      const expected = server.text!.generate('And God said', { maxTokens: 40, stop: [], random: fromSeed(11), topP: 1, repetitionPenalty: 1, ...settings });
      const pieces: string[] = [];
      let yields = 0;
      const result = await browser.generate({ seed: 11, prompt: 'And God said', maxTokens: 40, ...settings, onText: (text) => pieces.push(text), yieldEvery: async () => void yields++ });
      assert.equal(result.text, expected.text);
      assert.deepEqual(result.tokens, expected.tokens);
      assert.equal(pieces.length, 40);
      assert.equal(pieces.join(''), result.text);
      assert.equal(yields, 40);
    }
    // The empty prompt starts from a newline, as on the server.
    const expected = server.text!.generate('', { maxTokens: 10, stop: [], random: fromSeed(2), temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 });
    assert.equal((await browser.generate({ seed: 2, prompt: '', maxTokens: 10 })).text, expected.text);
  } finally {
    server.dispose();
    browser.dispose();
  }
});

test('bad files and other families give one-line errors that name the file', () => {
  const vae = bytesOf('vae-mnist');
  const fails = (files: ModelBytes, code: string, pattern: RegExp) =>
    assert.throws(() => buildBrowserModel(files, 'm'), (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message));
  fails({ ...vae, config: new TextEncoder().encode('{') }, 'CORRUPT_FILE', /m\/config\.json is not valid JSON/);
  fails({ ...vae, weights: vae.weights.slice(0, 100) as Uint8Array }, 'CORRUPT_FILE', /m\/model\.safetensors is not a valid safetensors file/);
  fails({ ...vae, weights: encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }) }, 'SHAPE_MISMATCH', /has no tensor/);
  const music = JSON.parse(readFileSync(join(modelsDir, 'music-bach', 'config.json'), 'utf8'));
  const vaeStep = JSON.parse(new TextDecoder().decode(vae.config as Uint8Array)).training.step;
  fails({ ...vae, config: new TextEncoder().encode(JSON.stringify({ ...music, training: { step: vaeStep } })) }, 'UNSUPPORTED', /music model; in-browser mode runs vae, gan, diffusion, transformer/);
  fails({ ...bytesOf('transformer-kjv'), tokenizer: new TextEncoder().encode('{"kind":"bpe","vocab":[],"merges":[]}') }, 'UNSUPPORTED', /character-level models only/);
  assert.deepEqual(filesFor('transformer'), ['config.json', 'tokenizer.json', 'model.safetensors']);
  assert.deepEqual(filesFor('gan'), ['config.json', 'model.safetensors']);
});
