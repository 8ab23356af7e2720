/**
 * Text-to-image over the HTTP API, in process (Fastify's inject, no socket): a tiny text-conditioned
 * diffusion model trained here is listed first and described as text-to-image, generates from a
 * prompt and a negative prompt (both reach the sampler: changing either changes the pixels), notes
 * a prompt cut to the text encoder's context, and an A/B preference on two of its images stores
 * what a Diffusion-DPO fine-tune needs to draw both again. A label model refuses a negative prompt
 * with a 400 that names the field.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FeedbackStore } from '../feedback/store.ts';
import { estimateGenerationCost } from '../generate/cost.ts';
import { readManifest } from '../io/checkpoint.ts';
import { tempDir } from '../../test/fixtures.ts';
import { trainTinyTextToImage } from '../../test/text-to-image-model.ts';
import { imagesResultSchema, modelInfoSchema, modelSummarySchema } from './api-contract.ts';
import { buildServer, resolveServerOptions, type StudioServer } from './app.ts';

const workDir = tempDir('genloom-t2i-work-');
const modelsDir = tempDir('genloom-t2i-models-');
const runsDir = tempDir('genloom-t2i-runs-');
let server: StudioServer;

before(async () => {
  await trainTinyTextToImage(workDir, modelsDir, 'txt2img-tiny');
  // A label-conditioned diffusion model of the same family: text conditioning is the model's, not the family's.
  cpSync(fileURLToPath(new URL('../../models/diffusion-mnist', import.meta.url)), join(modelsDir, 'diffusion-mnist'), { recursive: true });
  server = await buildServer(resolveServerOptions({ modelsDir, runsDir, port: 0 }));
});

after(async () => {
  await server?.close();
  for (const dir of [workDir, modelsDir, runsDir]) rmSync(dir, { recursive: true, force: true });
});

async function call(method: 'GET' | 'POST', url: string, payload?: object): Promise<{ status: number; json: any }> {
  const response = await server.app.inject({ method, url, ...(payload ? { payload } : {}) });
  return { status: response.statusCode, json: response.json() };
}

async function ok(method: 'GET' | 'POST', url: string, payload?: object): Promise<any> {
  const { status, json } = await call(method, url, payload);
  assert.equal(status, 200, `${method} ${url}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

const generate = (body: object) => ok('POST', '/api/models/txt2img-tiny/generate', { sampler: 'ddim', steps: 3, guidance: 3, n: 2, ...body });

test('the catalog lists a text-to-image model first and describes how it reads prompts', async () => {
  const { models } = await ok('GET', '/api/models');
  const names = models.map((model: unknown) => modelSummarySchema.parse(model).name);
  assert.deepEqual(names, ['txt2img-tiny', 'diffusion-mnist'], 'text-to-image first, though "d" sorts before "t"');
  assert.ok(models[0].capabilities.includes('text-to-image'));
  assert.ok(!models[1].capabilities.includes('text-to-image'));
  const info = modelInfoSchema.parse(await ok('GET', '/api/models/txt2img-tiny'));
  assert.ok(info.textConditioning && info.textConditioning.contextTokens > 0);
  assert.equal(info.prompts, true);
  assert.ok(info.generationFields.includes('negativePrompt'));
  assert.ok(info.files.includes('tokenizer.json'), 'in-browser mode fetches the tokenizer');
  assert.equal(modelInfoSchema.parse(await ok('GET', '/api/models/diffusion-mnist')).textConditioning, undefined);
});

test('the budget counts a latent model\'s U-Net at the latent\'s size, two passes a step with guidance', () => {
  const manifest = readManifest(join(modelsDir, 'txt2img-tiny'));
  const cost = estimateGenerationCost(manifest, 1, 'generate', { n: 2, sampler: 'ddim', steps: 10, guidance: 3 });
  // 16×16 images; the tiny autoencoder's two levels halve each side once: an 8×8 latent.
  assert.deepEqual({ items: cost.items, passesPerItem: cost.passesPerItem, positionsPerPass: cost.positionsPerPass }, { items: 2, passesPerItem: 20, positionsPerPass: 64 });
  assert.equal(estimateGenerationCost(manifest, 1, 'generate', { n: 1, steps: 10, guidance: 1 }).passesPerItem, 10);
});

test('a prompt and a negative prompt both reach the sampler; a long prompt is noted as cut', async () => {
  const body = { seed: 7, prompt: 'a red ring', negativePrompt: 'a blue square' };
  const first = imagesResultSchema.parse(await generate(body));
  assert.equal(first.images.length, 2);
  assert.deepEqual(first.prompts, ['a red ring', 'a red ring']);
  assert.deepEqual(first.notes, []);
  const again = imagesResultSchema.parse(await generate(body));
  assert.deepEqual(again.images.map((image) => image.png), first.images.map((image) => image.png), 'the same request gives the same pixels');
  const otherNegative = imagesResultSchema.parse(await generate({ ...body, negativePrompt: 'a green ring' }));
  assert.notEqual(otherNegative.images[0]!.png, first.images[0]!.png, 'the negative prompt changes the images');
  const otherPrompt = imagesResultSchema.parse(await generate({ ...body, prompt: 'a yellow square' }));
  assert.notEqual(otherPrompt.images[0]!.png, first.images[0]!.png, 'the prompt changes the images');
  const long = imagesResultSchema.parse(await generate({ seed: 1, n: 1, prompt: 'a red ring beside a blue square '.repeat(20) }));
  assert.equal(long.notes?.length, 1);
  assert.match(long.notes![0]!, /tokens; the text encoder reads \d+, so the rest is cut/);
});

test('an A/B preference stores the prompt, seed and settings of both images', async () => {
  const result = imagesResultSchema.parse(await generate({ seed: 11, prompt: 'a green square', negativePrompt: 'a red ring', steps: 4 }));
  const [a, b] = result.images;
  await ok('POST', '/api/feedback/preferences', { chosen: b!.sampleKey, rejected: a!.sampleKey });
  const store = FeedbackStore.open(join(runsDir, 'feedback.db'));
  try {
    const [preference] = store.preferences();
    assert.equal(preference!.prompt, 'a green square');
    for (const [sample, index] of [[preference!.chosen, 1], [preference!.rejected, 0]] as const) {
      assert.equal(sample.seed, 11);
      assert.equal(sample.prompt, 'a green square');
      assert.equal(sample.family, 'diffusion');
      assert.deepEqual(
        { ...sample.settings },
        { prompt: 'a green square', negativePrompt: 'a red ring', sampler: 'ddim', steps: 4, guidance: 3, n: 2, index, source: 'studio' },
      );
    }
  } finally {
    store.close();
  }
});

test('a negative prompt for a model without text conditioning is a 400 that names the field', async () => {
  const { status, json } = await call('POST', '/api/models/diffusion-mnist/generate', { seed: 1, n: 1, steps: 2, negativePrompt: 'a three' });
  assert.equal(status, 400, JSON.stringify(json));
  assert.equal(json.error.code, 'BAD_ARGUMENT');
  assert.match(json.error.message, /"negativePrompt"/);
  assert.match(json.error.message, /no text conditioning/);
  const label = await call('POST', '/api/models/txt2img-tiny/generate', { seed: 1, n: 1, steps: 2, label: '3' });
  assert.equal(label.status, 400);
  assert.match(label.json.error.message, /free-text prompts, not labels: give "prompt"/);
});
