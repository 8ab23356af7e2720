/**
 * The model routes: list and describe models, serve their files (for in-browser mode), generate
 * with every family and complete images with PixelCNN (as JSON, or streamed as Server-Sent
 * Events), and explore latent spaces and attention. Tensor work goes to the generation worker;
 * this thread validates, queues and answers.
 */
import { createReadStream, existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestDefaults } from '../generate/fields.ts';
import { describeFamily, families, familyNamed } from '../models/registry.ts';
import { genloomVersion } from '../version.ts';
import { completeRequestSchema, completionResultSchema, familyInfoSchema, generateResultSchema, generateRequestSchema, healthSchema, modelNameParams, modelInfoSchema, modelSummarySchema } from './api-contract.ts';
import { checkRequestBudget } from './budget.ts';
import { summaryOf, type CatalogEntry } from './catalog.ts';
import type { ServerContext } from './context.ts';
import { GenerationQueue } from './generation.ts';
import { describeError, HttpError } from './http-errors.ts';
import { registerLatentRoutes } from './latent-routes.ts';
import { SampleCache, type RememberedSample } from './samples.ts';
import { servedFile } from './served-file.ts';
import { openEventStream } from './sse.ts';

const servedFiles = ['config.json', 'model.safetensors', 'tokenizer.json', 'samples.png', 'loss.png'] as const;
const contentTypes: Record<string, string> = { json: 'application/json', safetensors: 'application/octet-stream', png: 'image/png' };


/** Runs a worker operation for a request, cancelled if the client goes away first. */
export type RunOperation = (operation: Parameters<GenerationQueue['run']>[0], entry: CatalogEntry, body: unknown, reply: FastifyReply, onEvent?: (event: string, data: unknown) => void) => Promise<unknown>;

export interface ModelRoutes {
  generation: GenerationQueue;
  /** Where outputs are remembered for ratings: the gallery's, then the latent explorer's. */
  samples: SampleCache[];
}

export function registerModelRoutes(context: ServerContext): ModelRoutes {
  const { api, catalog, options } = context;
  const limits = options.limits;
  const generation = new GenerationQueue(limits.queueDepth, options.backend, limits.maxRequestSeconds);
  const samples = new SampleCache();
  // Latent-explorer decodes come many a second while a slider moves: kept apart, so they never
  // push the gallery's samples out before they are rated.
  const explorations = new SampleCache(200, 16 * 2 ** 20);
  context.onClose(() => generation.close());

  /** Runs an operation for a request, cancelling it if the client goes away first. */
  const work: RunOperation = (operation: Parameters<GenerationQueue['run']>[0], entry: CatalogEntry, body: unknown, reply: FastifyReply, onEvent?: (event: string, data: unknown) => void) => {
    const controller = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    return generation.run(operation, entry, body, { signal: controller.signal, onEvent });
  };

  /**
   * Answers an operation as JSON, or with `stream` as Server-Sent Events: the operation's events as
   * they come, then `result` (passed through `finish`) or `error`. A client that leaves cancels it.
   */
  const answer = async (
    operation: Parameters<GenerationQueue['run']>[0],
    entry: CatalogEntry,
    request: Record<string, unknown>,
    stream: boolean | undefined,
    finish: (result: Record<string, unknown>) => Record<string, unknown>,
    raw: FastifyRequest,
    reply: FastifyReply,
  ) => {
    checkRequestBudget(entry, operation === 'complete' ? 'complete' : 'generate', request, limits.maxRequestGmac);
    if (!stream) return finish((await work(operation, entry, request, reply)) as Record<string, unknown>);
    // A full queue is a 429 status, not a 200 stream whose only event is the refusal.
    generation.checkRoom();
    const events = openEventStream(raw, reply);
    const controller = new AbortController();
    events.onClose(() => controller.abort());
    try {
      const result = (await generation.run(operation, entry, request, { signal: controller.signal, onEvent: (event, data) => events.send(event, data) })) as Record<string, unknown>;
      events.send('result', finish(result));
    } catch (error) {
      if (!events.closed) events.send('error', describeError(error).body);
    } finally {
      events.close();
    }
    return reply;
  };

  api.route({ method: 'GET', url: '/api/health', summary: 'Is the server up; its version, backend and queue', tag: 'server', responses: { 200: { description: 'the server', schema: healthSchema } } }, async () => {
    const stats = generation.busy || generation.queued > 0 ? undefined : await generation.run('stats', { name: '', dir: '', version: '' }, {});
    return { ok: true, version: genloomVersion, backend: generation.backend, generation: { running: generation.busy, queued: generation.queued, completed: generation.completed, ...(stats ? { worker: stats } : {}) } };
  });

  api.route({ method: 'GET', url: '/api/families', summary: 'The model families this genloom knows: what each makes and can do, its built-in datasets, sampling defaults, presets and train options', tag: 'models', responses: { 200: { description: 'the families', schema: z.object({ families: z.array(familyInfoSchema) }) } } }, () => ({
    families: Object.values(families).map(describeFamily),
  }));

  api.route({ method: 'GET', url: '/api/models', summary: 'The models the studio offers (the models folder, then the runs folder)', tag: 'models', responses: { 200: { description: 'the models', schema: z.object({ models: z.array(modelSummarySchema) }) } } }, () => ({
    // Text-to-image models first: what the studio leads with (a stable sort keeps the catalog's order otherwise).
    models: catalog.list().map(summaryOf).sort((a, b) => Number(b.capabilities.includes('text-to-image')) - Number(a.capabilities.includes('text-to-image'))),
  }));

  api.route({ method: 'GET', url: '/api/models/:name', summary: 'One model: its family, capabilities, config, training record and what it takes', tag: 'models', params: modelNameParams, responses: { 200: { description: 'the model', schema: modelInfoSchema } } }, async ({ params }, reply) => {
    const entry = catalog.get(params.name);
    const described = (await work('describe', entry, {}, reply)) as Record<string, unknown>;
    return {
      ...summaryOf(entry),
      ...described,
      config: entry.manifest.config,
      training: entry.manifest.training,
      ...(entry.manifest.metrics ? { metrics: entry.manifest.metrics } : {}),
      files: servedFiles.filter((file) => existsSync(join(entry.dir, file))),
    };
  });

  api.describe('GET', '/api/models/:name/files/:file', {
    summary: "A model's file: config.json, model.safetensors, tokenizer.json, samples.png or loss.png (in-browser mode loads its weights here)",
    tags: ['models'],
    parameters: [
      { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'file', in: 'path', required: true, schema: { type: 'string', enum: servedFiles } },
    ],
    responses: { 200: { description: 'the file', content: { 'application/octet-stream': {} } } },
  });
  api.app.get('/api/models/:name/files/:file', (request: FastifyRequest<{ Params: { name: string; file: string } }>, reply) => {
    const entry = catalog.get(request.params.name);
    const file = request.params.file;
    if (!(servedFiles as readonly string[]).includes(file)) throw new HttpError(404, 'NOT_FOUND', `models serve only ${servedFiles.join(', ')}; not "${file}"`);
    const { path, size } = servedFile(entry.dir, file, entry.name, 'model');
    return reply
      .header('content-type', contentTypes[file.split('.').pop()!] ?? 'application/octet-stream')
      .header('content-length', size)
      .header('cache-control', 'no-cache')
      .send(createReadStream(path));
  });

  const generateBody = generateRequestSchema(limits);

  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/generate',
      summary: 'Generate with any family: images (VAE, GAN, diffusion, PixelCNN), text (transformer), music, clips (video: GIF, MP4, frame strip) or 3-D shapes (mesh, OBJ, PLY, preview); `stream: true` answers with Server-Sent Events (progress, step, token, then result or error)',
      tag: 'generate',
      params: modelNameParams,
      body: generateBody,
      responses: { 200: { description: 'the result (JSON), or with stream: true an event stream', contentType: 'application/json', schema: generateResultSchema } },
    },
    async ({ params, body, raw }, reply) => {
      const entry = catalog.get(params.name);
      const { stream, ...rest } = body;
      const modality = familyNamed(entry.family)?.generates;
      const request = {
        ...(modality ? requestDefaults[modality] : {}),
        // A JSON body has no undefined values and zod leaves absent keys out: what was given overrides the defaults.
        ...rest,
        seed: rest.seed ?? randomInt(0, 2 ** 31 - 1),
      };
      return answer('generate', entry, request, stream, (result) => withSampleKeys(samples, entry, request, result), raw, reply);
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/complete',
      summary: 'Complete an image (base64 PNG or JPEG, fitted to the model) from its top `rows` rows, `n` times (PixelCNN); `stream: true` answers with Server-Sent Events (progress, then result or error)',
      tag: 'generate',
      params: modelNameParams,
      body: completeRequestSchema(limits),
      responses: { 200: { description: 'the kept input and the completions (JSON), or with stream: true an event stream', contentType: 'application/json', schema: completionResultSchema } },
    },
    async ({ params, body, raw }, reply) => {
      const entry = catalog.get(params.name);
      // Checked here as well as in the worker, so a streamed request is refused with a 400, not an error event.
      if (!entry.capabilities.includes('completion')) throw new HttpError(400, 'UNSUPPORTED', `${entry.name} is a ${entry.family} model; completion needs a PixelCNN`);
      const height = entry.manifest.config['imageHeight'];
      if (typeof height === 'number' && body.rows !== undefined && body.rows >= height) {
        throw new HttpError(400, 'BAD_ARGUMENT', `"rows" must be 1..${height - 1} for ${entry.name}'s ${height}-row images; got ${body.rows}`);
      }
      const { stream, png, ...rest } = body;
      const request = { ...rest, png, seed: rest.seed ?? randomInt(0, 2 ** 31 - 1) };
      // The input is not kept with the samples' settings (it is large); the rows and label are.
      const settings = { seed: request.seed, n: request.n, operation: 'complete', ...(typeof height === 'number' ? { rows: rest.rows ?? Math.floor(height / 2) } : {}), ...(rest.label !== undefined ? { label: rest.label } : {}) };
      return answer('complete', entry, request, stream, (result) => withSampleKeys(samples, entry, settings, result), raw, reply);
    },
  );

  registerLatentRoutes({ api, catalog, limits, work, explorations });

  return { generation, samples: [samples, explorations] };
}

export function rememberPng(samples: SampleCache, entry: CatalogEntry, seed: number, settings: Record<string, unknown>, png: string): string {
  return samples.remember({ model: entry.name, dir: entry.dir, family: entry.family, version: entry.version, seed, settings, file: { bytes: Buffer.from(png, 'base64'), extension: 'png' } });
}

/** Gives each output of a generate result the key a rating refers to it by. */
function withSampleKeys(samples: SampleCache, entry: CatalogEntry, request: Record<string, unknown>, result: Record<string, unknown>): Record<string, unknown> {
  const { seed, n: _n, ...settings } = request as { seed: number; n?: number } & Record<string, unknown>;
  const common: Omit<RememberedSample, 'settings'> = { model: entry.name, dir: entry.dir, family: entry.family, version: entry.version, seed };
  if (result['kind'] === 'images') {
    // An image is drawn again from its seed, its batch size and its index in the batch (with the
    // prompt, negative prompt, sampler, steps and guidance in the settings): what a fine-tune on
    // ratings or A/B preferences (Diffusion-DPO) regenerates it from.
    const images = result['images'] as { png: string; index: number }[];
    const prompt = typeof request['prompt'] === 'string' ? { prompt: request['prompt'] } : {};
    const batch = { ...settings, n: images.length };
    return {
      ...result,
      images: images.map((image) => ({ ...image, sampleKey: samples.remember({ ...common, ...prompt, settings: { ...batch, index: image.index }, file: { bytes: Buffer.from(image.png, 'base64'), extension: 'png' } }) })),
    };
  }
  if (result['kind'] === 'text') {
    const prompt = String(result['prompt']);
    return { ...result, sampleKey: samples.remember({ ...common, settings, prompt, text: String(result['text']) }) };
  }
  if (result['kind'] === 'music') {
    return { ...result, sampleKey: samples.remember({ ...common, settings, file: { bytes: Buffer.from(String(result['midi']), 'base64'), extension: 'mid' } }) };
  }
  return result;
}
