/**
 * The studio's in-browser models (web/src/local/models.ts over src/models/builders.ts) against the
 * server's path (loadModel(dir)): the same shipped files, read as bytes and built without Node
 * APIs, must give exactly the same images and text for a seed. Both run on this process's backend, so the outputs
 * are compared bit for bit; the browser backends are compared in test/e2e/in-browser.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import { buildBrowserModel, type ModelBytes } from '../../web/src/local/models.ts';
import { filesFor, modelBytesOf } from '../../web/src/local/families.ts';
import { builderFor, modelBuilders } from './builders.ts';
import { families, loadModel } from './registry.ts';
import { generateImages } from '../generate/images.ts';
import { tempDir } from '../../test/fixtures.ts';
import { trainTinyTextToImage } from '../../test/text-to-image-model.ts';

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
    const browser = buildBrowserModel(bytesOf(name), name);
    try {
      assert.equal(browser.description.kind, 'images');
      assert.deepEqual(browser.model.imageShape, server.imageShape);
      assert.deepEqual(browser.model.labelNames, server.labelNames);
      const { seed, count, label, ...rest } = request as typeof request & { label?: number };
      const labels = label === undefined ? undefined : new Int32Array(count).fill(label);
      const expected = pixels(server.sampleImages!(count, fromSeed(seed).fork('sample'), { labels, ...rest }));
      const steps: number[] = [];
      const got = pixels(browser.sample({ seed, count, label, ...rest, onStep: (index: number) => steps.push(index) }));
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
  const browser = buildBrowserModel(bytesOf('transformer-kjv'), 'transformer-kjv');
  try {
    for (const settings of [{ temperature: 0.8, topK: 5 }, { temperature: 1.2, topK: 0 }]) {
      const expected = server.text!.generate('And God said', { maxTokens: 40, stop: [], random: fromSeed(11), topP: 1, repetitionPenalty: 1, ...settings });
      const pieces: string[] = [];
      let yields = 0;
      const result = await browser.generate({ seed: 11, prompt: 'And God said', maxTokens: 40, ...settings, onText: (text: string) => pieces.push(text), yieldEvery: async () => void yields++ });
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

test('transformer-kjv: a stop between tokens ends the text there, a prefix of the whole; the KV cache is freed', async () => {
  const browser = buildBrowserModel(bytesOf('transformer-kjv'), 'transformer-kjv');
  try {
    const whole = await browser.generate({ seed: 4, prompt: 'And', maxTokens: 30 });
    assert.equal(whole.stopped, false);
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    let made = 0;
    const stopped = await browser.generate({ seed: 4, prompt: 'And', maxTokens: 30, signal: stop.signal, onText: () => void (++made === 5 && stop.abort()), yieldEvery: async () => undefined });
    assert.equal(stopped.stopped, true);
    assert.deepEqual(stopped.tokens, whole.tokens.slice(0, 5));
    assert.equal(stopped.text, Array.from(whole.text).slice(0, 5).join(''));
    await assert.rejects(browser.generate({ seed: 4, prompt: 'And', maxTokens: 30, yieldEvery: async () => { throw new Error('page gone'); } }), /page gone/);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak, stopped or failed');
  } finally {
    browser.dispose();
  }
});

test('a text-to-image model with a byte-level BPE tokenizer builds from its files\' bytes and draws the server\'s images for a prompt', async () => {
  const workDir = tempDir('genloom-in-browser-t2i-');
  try {
    const dir = await trainTinyTextToImage(workDir, workDir);
    assert.equal(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).kind, 'bpe');
    const read = (file: string) => new Uint8Array(readFileSync(join(dir, file)));
    const server = loadModel(dir);
    const browser = buildBrowserModel({ config: read('config.json'), weights: read('model.safetensors'), tokenizer: read('tokenizer.json') }, 'txt2img-tiny');
    try {
      assert.equal(browser.model.textConditioning?.contextTokens, server.textConditioning?.contextTokens);
      assert.equal(browser.model.textConditioning!.tokenCount('a red ring'), server.textConditioning!.tokenCount('a red ring'));
      const request = { seed: 4, n: 2, prompt: 'a red ring', negativePrompt: 'a blue square', sampler: 'ddim', steps: 3, guidance: 3 };
      const flat = (images: { data: Float32Array }[]) => images.flatMap((image) => Array.from(image.data));
      const expected = flat(generateImages(server, request).images);
      assert.deepEqual(flat(generateImages(browser.model, request).images), expected);
      // The page's own request (the worker's): the same pixels for the same prompt and seed.
      assert.ok(browser.description.kind === 'images' && browser.description.prompts);
      assert.equal(browser.description.textConditioning?.contextTokens, server.textConditioning!.contextTokens);
      assert.equal(browser.description.defaultGuidance, 4);
      const { n, ...rest } = request;
      assert.deepEqual(pixels(browser.sample({ ...rest, count: n })), Float32Array.from(expected));
    } finally {
      browser.dispose();
      server.dispose();
    }
    const files = { config: read('config.json'), weights: read('model.safetensors') };
    assert.throws(() => buildBrowserModel(files, 'txt2img-tiny'), /txt2img-tiny\/tokenizer\.json is missing: a text-to-image model reads prompts/);
    assert.throws(() => buildBrowserModel({ ...files, tokenizer: new TextEncoder().encode('{"kind":"bpe"') }, 'txt2img-tiny'), /txt2img-tiny\/tokenizer\.json is not valid JSON/);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
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
  fails({ config: bytesOf('transformer-kjv').config, weights: bytesOf('transformer-kjv').weights }, 'NOT_FOUND', /transformer model: its tokenizer\.json is needed too/);
  assert.deepEqual(filesFor(['model.safetensors', 'tokenizer.json', 'config.json', 'samples.png']), ['config.json', 'tokenizer.json', 'model.safetensors']);
  assert.deepEqual(filesFor(['model.safetensors', 'config.json']), ['config.json', 'model.safetensors']);
  const buffer = new ArrayBuffer(1);
  assert.deepEqual(Object.keys(modelBytesOf({ 'config.json': buffer, 'model.safetensors': buffer, 'tokenizer.json': buffer })).sort(), ['config', 'tokenizer', 'weights']);
});

test('the studio describes a model from its family\'s declaration: samplers and their default steps, prompts', () => {
  const diffusion = buildBrowserModel(bytesOf('diffusion-mnist'), 'diffusion-mnist');
  const gan = buildBrowserModel(bytesOf('gan-mnist'), 'gan-mnist');
  const vae = buildBrowserModel(bytesOf('vae-mnist'), 'vae-mnist');
  try {
    const description = diffusion.description;
    assert.ok(description.kind === 'images');
    const timesteps = Number(diffusion.model.manifest.config['timesteps']);
    assert.deepEqual(description.samplers, [{ name: 'ddim', defaultSteps: 50 }, { name: 'ddpm', defaultSteps: timesteps }, { name: 'dpm-solver', defaultSteps: 20 }]);
    assert.equal(description.defaultSampler, 'ddim');
    assert.equal(description.defaultGuidance, diffusion.model.conditional ? 4 : 1);
    assert.equal(description.prompts, Boolean(diffusion.model.conditional));
    if (diffusion.model.conditional) assert.equal(diffusion.labelFromPrompt!('a handwritten seven'), 7);
    assert.ok(gan.description.kind === 'images' && gan.description.samplers === undefined);
    assert.equal(gan.description.prompts, Boolean(gan.model.conditional));
    assert.ok(vae.description.kind === 'images' && !vae.description.prompts && vae.labelFromPrompt === undefined);
  } finally {
    diffusion.dispose();
    gan.dispose();
    vae.dispose();
  }
});

test('one list of builders: every family with the in-browser capability has one, in the registry and in builders.ts, and no other', () => {
  const inBrowser = Object.values(families).filter((family) => family.capabilities.includes('in-browser')).map((family) => family.name).sort();
  assert.deepEqual(Object.keys(modelBuilders).sort(), inBrowser);
  for (const family of Object.values(families)) {
    assert.equal(family.build, modelBuilders[family.name], `${family.name}: the registry's builder is builders.ts's`);
    if (family.build) assert.equal(family.build.family, family.name);
    if (family.build?.sampling) assert.equal(family.build.sampling, family.sampling, `${family.name}: one sampling declaration`);
  }
  assert.throws(() => builderFor('music', 'music-bach'), (error: unknown) => error instanceof GenloomError && error.code === 'UNSUPPORTED' && /music-bach is a music model; in-browser mode runs vae, gan, diffusion, transformer models/.test(error.message));
  assert.throws(() => builderFor('toString'), (error: unknown) => error instanceof GenloomError && error.code === 'UNSUPPORTED');
});
