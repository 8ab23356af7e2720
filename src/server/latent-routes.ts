/**
 * The latent-space and attention routes: decode latents, the latents of a seed, encode an image,
 * walk between two points, map a dataset's latents, attribute vectors, attention weights. Tensor
 * work goes to the generation worker (through `work`); decodes are remembered for ratings apart
 * from the gallery's samples, since a moving slider makes many.
 */
import { z } from 'zod';
import { maxSearchResults } from '../embed/search.ts';
import { checkRequestBudget } from './budget.ts';
import type { ModelCatalog } from './catalog.ts';
import { attentionSchema, base64ImageSchema, interpolationSchema, latentMapSchema, modelNameParams, seedSchema } from './api-contract.ts';
import type { ServerContext } from './context.ts';
import { rememberPng, type RunOperation } from './model-routes.ts';
import type { SampleCache } from './samples.ts';


export function registerLatentRoutes({ api, catalog, limits, work, explorations }: { api: ServerContext['api']; catalog: ModelCatalog; limits: ServerContext['options']['limits']; work: RunOperation; explorations: SampleCache }): void {
  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/decode',
      summary: 'Decode latent vectors into images (VAE, GAN)',
      tag: 'latent',
      params: modelNameParams,
      body: z.object({ z: z.array(z.array(z.number().finite()).min(1).max(4096)).min(1).max(limits.maxImages), label: z.string().max(100).optional() }).strict(),
    },
    async ({ params, body }, reply) => {
      const entry = catalog.get(params.name);
      checkRequestBudget(entry, 'decode', { n: body.z.length }, limits.maxRequestGmac);
      const result = (await work('decode', entry, body, reply)) as { images: { png: string }[] };
      return { images: result.images.map((image, i) => ({ ...image, sampleKey: rememberPng(explorations, entry, 0, { z: body.z[i], ...(body.label ? { label: body.label } : {}) }, image.png) })) };
    },
  );

  api.route(
    { method: 'POST', url: '/api/models/:name/latent', summary: 'The latents generate draws for a seed (to start the sliders from a sample)', tag: 'latent', params: modelNameParams, body: z.object({ seed: seedSchema, n: z.number().int().min(1).max(limits.maxImages).default(1), truncation: z.number().gt(0).max(1).optional() }).strict() },
    async ({ params, body }, reply) => work('latent', catalog.get(params.name), body, reply),
  );

  api.route(
    { method: 'POST', url: '/api/models/:name/encode', summary: 'Encode an image (base64 PNG or JPEG) to its posterior mean (VAE)', tag: 'latent', params: modelNameParams, body: z.object({ png: base64ImageSchema }).strict() },
    async ({ params, body }, reply) => work('encode', catalog.get(params.name), body, reply),
  );

  const endpoint = z.union([z.object({ seed: seedSchema }).strict(), z.object({ z: z.array(z.number().finite()).min(1).max(4096) }).strict(), z.object({ png: base64ImageSchema }).strict()]);
  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/interpolate',
      summary: 'Walk the latent space between two seeds, latents or images: frames and a GIF',
      tag: 'latent',
      params: modelNameParams,
      responses: { 200: { description: 'the walk', schema: interpolationSchema } },
      body: z.object({ from: endpoint, to: endpoint, frames: z.number().int().min(2).max(limits.maxFrames).default(16), method: z.enum(['slerp', 'lerp']).default('slerp'), label: z.string().max(100).optional() }).strict(),
    },
    async ({ params, body }, reply) => {
      const entry = catalog.get(params.name);
      checkRequestBudget(entry, 'decode', { n: body.frames }, limits.maxRequestGmac);
      return work('interpolate', entry, body, reply);
    },
  );

  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/latent-map',
      summary: "A 2-D PCA map of test images' latents; a point (x, y) decodes as mean + x·axes[0] + y·axes[1]",
      tag: 'latent',
      params: modelNameParams,
      responses: { 200: { description: 'the map', schema: latentMapSchema } },
      body: z.object({ dataset: z.enum(['mnist', 'fashion-mnist']).optional(), count: z.number().int().min(10).max(5000).default(1000) }).strict(),
    },
    async ({ params, body }, reply) => work('latent-map', catalog.get(params.name), body, reply),
  );

  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/attributes',
      summary: 'Attribute vectors, one per label: mean latent of that label minus that of the rest (VAE)',
      tag: 'latent',
      params: modelNameParams,
      body: z.object({ dataset: z.enum(['mnist', 'fashion-mnist']).optional(), perLabel: z.number().int().min(10).max(2000).default(300) }).strict(),
    },
    async ({ params, body }, reply) => work('attributes', catalog.get(params.name), body, reply),
  );

  api.route(
    {
      method: 'POST',
      url: '/api/models/:name/search',
      summary: 'The dataset images nearest a text in a clip model\'s space: "find in the corpus"',
      tag: 'latent',
      params: modelNameParams,
      body: z.object({ text: z.string().trim().min(1).max(500), n: z.number().int().min(1).max(maxSearchResults).default(8), split: z.enum(['train', 'test']).default('train') }).strict(),
    },
    async ({ params, body }, reply) => work('search', catalog.get(params.name), body, reply),
  );

  api.route(
    { method: 'POST', url: '/api/models/:name/attention', summary: 'Attention weights of every layer and head for a prompt (transformer)', tag: 'text', params: modelNameParams, body: z.object({ prompt: z.string().min(1).max(4000) }).strict(), responses: { 200: { description: 'the weights', schema: attentionSchema } } },
    async ({ params, body }, reply) => work('attention', catalog.get(params.name), body, reply),
  );
}
