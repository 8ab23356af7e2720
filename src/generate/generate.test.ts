/**
 * The generation layer: what each family declares, the request checks every shell relies on (and
 * how each shell words them), seeded results, and cancellation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asFlag, asJsonField, GenloomError } from '../core/errors.ts';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import { families, loadModel } from '../models/registry.ts';
import { checkGenerationFields, generate, generateImages, latentsForSeed, modalityFields, requestDefaults } from './index.ts';

const starter = (name: string) => new URL(`../../models/${name}`, import.meta.url).pathname;

test('every family declares its datasets and capabilities, and a generating family a known modality', () => {
  for (const family of Object.values(families)) {
    assert.ok(Array.isArray(family.builtinDatasets), `${family.name} declares builtinDatasets`);
    assert.ok(Array.isArray(family.capabilities), `${family.name} declares capabilities`);
    if (!family.generates) continue;
    assert.ok(modalityFields[family.generates], `${family.name} makes ${family.generates}, a modality with request fields`);
    assert.ok(requestDefaults[family.generates], `${family.name}: ${family.generates} has request defaults`);
    assert.ok(family.capabilities.length > 0, `${family.name} generates, so it can do something`);
    for (const field of family.generationFields ?? []) assert.ok(!modalityFields[family.generates].includes(field), `${family.name}.${field} repeats a ${family.generates} field`);
  }
});

test('a field the model does not take is refused by name, said as a flag by the CLI and as a JSON key by the server', async () => {
  await initEngine({ backend: 'cpu' });
  const vae = loadModel(starter('vae-mnist'));
  try {
    checkGenerationFields(vae, 'models/vae-mnist', { seed: 1, n: 2, label: undefined });
    const error = (() => {
      try {
        checkGenerationFields(vae, 'models/vae-mnist', { seed: 1, truncation: 0.5 });
      } catch (caught) {
        return caught as GenloomError;
      }
      assert.fail('truncation was accepted for a VAE');
    })();
    assert.ok(error instanceof GenloomError);
    assert.equal(error.code, 'BAD_ARGUMENT');
    assert.equal(error.message, 'truncation is not for models/vae-mnist, a vae model (it is for gan models)');
    assert.equal(error.render(asFlag), '--truncation is not for models/vae-mnist, a vae model (it is for gan models)');
    assert.equal(error.render(asJsonField), '"truncation" is not for models/vae-mnist, a vae model (it is for gan models)');
    assert.throws(() => generateImages(vae, { seed: 1, n: 1, maxTokens: 3 } as never), /maxTokens is not for the model, a vae model \(it is for transformer models\)/);
    assert.throws(() => generateImages(vae, { seed: 1, n: 1, label: '3' }), /not a conditional model: it takes no label/);
  } finally {
    vae.dispose();
  }
});

test('the same request gives the same pixels; the seed picks the latents the studio sliders start from', async () => {
  await initEngine({ backend: 'cpu' });
  const gan = loadModel(starter('gan-mnist'));
  try {
    const before = tf.memory().numTensors;
    const first = generateImages(gan, { seed: 5, n: 3, label: '7', truncation: 0.7 });
    const again = generate(gan, { seed: 5, n: 3, label: '7', truncation: 0.7 });
    const other = generateImages(gan, { seed: 6, n: 3, label: '7', truncation: 0.7 });
    assert.equal(tf.memory().numTensors, before, 'no tensor outlives a generation');
    assert.equal(again.kind, 'images');
    assert.deepEqual(again.kind === 'images' && again.images.map((image) => Array.from(image.data)), first.images.map((image) => Array.from(image.data)));
    assert.notDeepEqual(other.images[0]!.data, first.images[0]!.data);
    assert.deepEqual(first.labelNames, ['7', '7', '7']);
    const all = generateImages(gan, { seed: 5, n: 20, label: 'all' });
    assert.equal(all.columns, 10);
    assert.deepEqual(Array.from(all.labels!).slice(0, 12), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    // The latents a seed draws are the first ones its sample stream gives, whatever the count.
    assert.deepEqual(latentsForSeed(5, 1, 8)[0], latentsForSeed(5, 3, 8)[0]);
  } finally {
    gan.dispose();
  }
});

test('an aborted signal stops generation at its next report', async () => {
  await initEngine({ backend: 'cpu' });
  const pixelcnn = loadModel(starter('pixelcnn-mnist'));
  try {
    const controller = new AbortController();
    let reports = 0;
    const before = tf.memory().numTensors;
    assert.throws(
      () => generateImages(pixelcnn, { seed: 1, n: 1 }, { signal: controller.signal, onProgress: () => { if (++reports === 2) controller.abort(); } }),
      (error: Error) => error.name === 'AbortError',
    );
    assert.equal(reports, 2, 'it stopped at the report after the abort');
    assert.equal(tf.memory().numTensors, before, 'a cancelled generation leaves no tensors');
  } finally {
    pixelcnn.dispose();
  }
});
