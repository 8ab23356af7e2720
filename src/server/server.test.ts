/**
 * The studio's HTTP API over real HTTP, against a started server with the shipped starter models:
 * every family generates, the same seed gives the same output, the latent routes agree with
 * generate, streams stream and cancel, feedback lands in the SQLite store, and bad requests get
 * clean 4xx JSON while the server keeps answering.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { FeedbackStore } from '../feedback/store.ts';
import { fails, ok as cli } from '../../test/cli.ts';
import { tempDir } from '../../test/fixtures.ts';
import { resolveServerOptions, startServer, type StudioServer } from './app.ts';
import { z } from 'zod';
import { families } from '../models/registry.ts';
import { familyInfoSchema, generateResultSchema, healthSchema, modelInfoSchema, modelSummarySchema } from './api-contract.ts';

const shippedModels = fileURLToPath(new URL('../../models/', import.meta.url));
let server: StudioServer;
let runsDir: string;
let modelsDir: string;

before(async () => {
  runsDir = tempDir('genloom-server-runs-');
  modelsDir = tempDir('genloom-server-models-');
  for (const name of ['vae-mnist', 'gan-mnist', 'diffusion-mnist', 'transformer-kjv', 'music-bach', 'pixelcnn-mnist', 'video-moving-mnist', 'shape-voxels', 'clip-emoji', 'vae-emoji']) cpSync(join(shippedModels, name), join(modelsDir, name), { recursive: true });
  server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, limits: { queueDepth: 2, maxBodyBytes: 256 * 1024 } }));
});

after(async () => {
  await server.close();
  rmSync(runsDir, { recursive: true, force: true });
  rmSync(modelsDir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

async function ok(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const { status, json } = await call(method, path, body);
  assert.equal(status, 200, `${method} ${path}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

/** A clean 4xx: the status, a code and a one-line message matching `pattern`. */
async function refused(status: number, pattern: RegExp, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<void> {
  const result = await call(method, path, body, headers);
  assert.equal(result.status, status, `${method} ${path} → ${result.status} ${JSON.stringify(result.json)}`);
  assert.equal(typeof result.json['error']?.code, 'string');
  assert.match(result.json['error'].message, pattern);
  assert.doesNotMatch(result.json['error'].message, /\n/);
}

function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a streamed POST as a list of Server-Sent Events. */
async function events(path: string, body: unknown): Promise<{ event: string; data: any }[]> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('event: '))
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      return { event: eventLine!.slice(7), data: JSON.parse(dataLine!.slice(6)) };
    });
}

function pixels(base64: string): Uint8Array {
  return PNG.sync.read(Buffer.from(base64, 'base64')).data;
}

test('GET /api/families: every registered family as it declares itself', async () => {
  const { families: listed } = await ok('GET', '/api/families');
  assert.deepEqual(listed.map((family: { name: string }) => family.name), Object.keys(families));
  const byName = Object.fromEntries(listed.map((family: { name: string }) => [family.name, family]));
  assert.deepEqual(byName.video.builtinDatasets, ['moving-mnist']);
  assert.deepEqual(byName.shape.builtinDatasets, ['shapes']);
  assert.equal(byName.transformer.generates, 'text');
  assert.equal(byName.classifier.generates, undefined, 'a classifier makes nothing');
  assert.deepEqual(byName.gan.generationFields, ['truncation', 'reject']);
  assert.equal(byName.diffusion.sampling.defaultSampler, 'ddim');
  assert.ok(byName.vae.options.some((option: { configKey: string }) => option.configKey === 'latentDim'));
  const gan = await ok('GET', '/api/models/gan-mnist');
  assert.deepEqual(gan['generationFields'], ['seed', 'n', 'label', 'prompt', 'truncation', 'reject']);
});

test('the answers have the shapes of the HTTP contract the studio compiles against (src/server/api-contract.ts)', async () => {
  const strict = <T extends z.ZodObject>(schema: T) => schema.strict();
  healthSchema.parse(await ok('GET', '/api/health'));
  z.object({ families: z.array(strict(familyInfoSchema)) }).parse(await ok('GET', '/api/families'));
  const { models } = z.object({ models: z.array(strict(modelSummarySchema)) }).parse(await ok('GET', '/api/models'));
  // Every field a model description has is in the contract (strict: an unlisted one fails here).
  for (const model of models) strict(modelInfoSchema).parse(await ok('GET', `/api/models/${model.name}`));
  const requests: Record<string, Record<string, unknown>> = {
    'vae-mnist': { n: 2, seed: 1 },
    'diffusion-mnist': { n: 1, seed: 1, label: '3', steps: 2, trajectory: true },
    'transformer-kjv': { prompt: 'And', maxTokens: 4, seed: 1 },
    'music-bach': { bars: 1, seed: 1 },
    'video-moving-mnist': { n: 1, seed: 1 },
    'shape-voxels': { n: 1, seed: 1 },
  };
  const kinds = [];
  for (const [name, body] of Object.entries(requests)) {
    const result = generateResultSchema.parse(await ok('POST', `/api/models/${name}/generate`, body));
    kinds.push(result.kind);
  }
  assert.deepEqual(kinds, ['images', 'images', 'text', 'music', 'clips', 'shapes']);
});

test('health, the model list and a model description', async () => {
  const health = await ok('GET', '/api/health');
  assert.equal(health['ok'], true);
  const { models } = await ok('GET', '/api/models');
  assert.deepEqual(models.map((model: { name: string }) => model.name), ['clip-emoji', 'diffusion-mnist', 'gan-mnist', 'music-bach', 'pixelcnn-mnist', 'shape-voxels', 'transformer-kjv', 'vae-emoji', 'vae-mnist', 'video-moving-mnist']);
  assert.deepEqual((await ok('GET', '/api/models/shape-voxels'))['capabilities'], ['shapes']);
  assert.deepEqual((await ok('GET', '/api/models/video-moving-mnist'))['capabilities'], ['clips']);
  const vae = await ok('GET', '/api/models/vae-mnist');
  assert.equal(vae['family'], 'vae');
  assert.deepEqual(vae['imageShape'], [28, 28, 1]);
  assert.equal(vae['latentDim'], (vae['config'] as { latentDim: number }).latentDim);
  assert.ok(vae['capabilities'].includes('latent-map'));
  const gan = await ok('GET', '/api/models/gan-mnist');
  assert.equal(gan['conditional'], true);
  assert.equal(gan['labelNames'].length, 10);
  assert.ok(gan['files'].includes('model.safetensors'));
});

test('images: the same seed gives the same PNGs, another seed others; labels are honoured', async () => {
  const first = await ok('POST', '/api/models/gan-mnist/generate', { n: 3, seed: 5, label: '7' });
  const again = await ok('POST', '/api/models/gan-mnist/generate', { n: 3, seed: 5, label: '7' });
  const other = await ok('POST', '/api/models/gan-mnist/generate', { n: 3, seed: 6, label: '7' });
  assert.equal(first['kind'], 'images');
  assert.equal(first['images'].length, 3);
  assert.deepEqual(first['images'].map((image: { png: string }) => image.png), again['images'].map((image: { png: string }) => image.png));
  assert.notEqual(first['images'][0].png, other['images'][0].png);
  assert.equal(first['images'][0].label, '7');
  assert.equal(new Set(first['images'].map((image: { sampleKey: string }) => image.sampleKey)).size, 3);
  const size = PNG.sync.read(Buffer.from(first['images'][0].png, 'base64'));
  assert.deepEqual([size.width, size.height], [28, 28]);
});

test('diffusion streams its denoising steps, and a trajectory comes back with the result', async () => {
  const stream = await events('/api/models/diffusion-mnist/generate', { n: 2, seed: 1, prompt: 'a handwritten three', sampler: 'ddim', steps: 5, trajectory: true, stream: true });
  const steps = stream.filter((item) => item.event === 'step');
  assert.equal(steps.length, 5);
  const result = stream.at(-1)!;
  assert.equal(result.event, 'result');
  assert.equal(result.data.trajectory.length, 5);
  assert.equal(result.data.images[0].label, '3');
  // The last step's x0 estimate is the image (the grid of the two).
  assert.deepEqual(pixels(result.data.trajectory[4].x0Png), pixels(result.data.grid));
});

test('text streams piece by piece; the pieces make the result', async () => {
  const stream = await events('/api/models/transformer-kjv/generate', { prompt: 'And God said', maxTokens: 24, seed: 3, stream: true });
  const tokens = stream.filter((item) => item.event === 'token');
  assert.ok(tokens.length > 5, `${tokens.length} token events`);
  const result = stream.at(-1)!;
  assert.equal(result.event, 'result');
  assert.equal(tokens.map((item) => item.data.text).join(''), result.data.text);
  const again = await ok('POST', '/api/models/transformer-kjv/generate', { prompt: 'And God said', maxTokens: 24, seed: 3 });
  assert.equal(again['text'], result.data.text);
});

test('music: MIDI, WAV, a piano roll and the notes to play', async () => {
  const piece = await ok('POST', '/api/models/music-bach/generate', { bars: 2, seed: 4, temperature: 0.9 });
  assert.equal(piece['kind'], 'music');
  assert.equal(Buffer.from(piece['midi'], 'base64').subarray(0, 4).toString(), 'MThd');
  assert.equal(Buffer.from(piece['wav'], 'base64').subarray(0, 4).toString(), 'RIFF');
  assert.ok(piece['notes'].length > 0);
  for (const note of piece['notes']) assert.ok(note.start >= 0 && note.duration > 0 && note.pitch >= 0 && note.pitch < 128);
  await refused(400, /unknown style "jazz".*bach/, 'POST', '/api/models/music-bach/generate', { style: 'jazz' });
});

test('video: clips of the digits a prompt names, as GIF, MP4 and a frame strip; the same seed gives the same clip', async () => {
  const body = { seed: 4, n: 1, prompt: 'a 3 and a 7 bouncing' };
  const result = await ok('POST', '/api/models/video-moving-mnist/generate', body);
  assert.equal(result['kind'], 'clips');
  assert.deepEqual(result['digits'], ['3', '7']);
  const [clip] = result['clips'] as { gif: string; mp4: string; strip: string }[];
  assert.equal(Buffer.from(clip!.gif, 'base64').subarray(0, 6).toString(), 'GIF89a');
  assert.equal(Buffer.from(clip!.mp4, 'base64').subarray(4, 8).toString(), 'ftyp');
  assert.equal(PNG.sync.read(Buffer.from(clip!.strip, 'base64')).height, 64 * 2 + 2 * 2, 'one row of 64-pixel frames at 2×, with its border');
  const again = await ok('POST', '/api/models/video-moving-mnist/generate', body);
  assert.equal((again['clips'] as { gif: string }[])[0]!.gif, clip!.gif);
  await refused(400, /names 1 label \(3\); this model shows 2 per clip/, 'POST', '/api/models/video-moving-mnist/generate', { prompt: 'a 3' });
  await refused(400, /at most 16 clips per request/, 'POST', '/api/models/video-moving-mnist/generate', { n: 17 });
  await refused(400, /"steps" is not for video-moving-mnist, a video model/, 'POST', '/api/models/video-moving-mnist/generate', { steps: 3 });
});

test('shapes: a labelled mesh with its OBJ, PLY and preview', async () => {
  const result = await ok('POST', '/api/models/shape-voxels/generate', { seed: 1, n: 2, label: 'torus' });
  assert.equal(result['kind'], 'shapes');
  const shapes = result['shapes'] as { label: string; positions: number[]; faces: number[]; obj: string; ply: string; preview: string }[];
  assert.equal(shapes.length, 2);
  for (const shape of shapes) {
    assert.equal(shape.label, 'torus');
    assert.ok(shape.faces.length > 0 && shape.faces.length % 3 === 0, 'triangles');
    assert.ok(Math.max(...shape.faces) < shape.positions.length / 3, 'faces index the vertices');
    assert.equal((shape.obj.match(/^f /gm) ?? []).length, shape.faces.length / 3, 'the OBJ holds the same triangles');
    assert.equal(Buffer.from(shape.ply, 'base64').subarray(0, 3).toString(), 'ply');
    assert.equal(PNG.sync.read(Buffer.from(shape.preview, 'base64')).width, 192);
  }
  await refused(400, /unknown label "teapot"/, 'POST', '/api/models/shape-voxels/generate', { label: 'teapot' });
});

test('latent routes agree with generate: decode(latent(seed)) is the seed\'s image; interpolation ends at its endpoints', async () => {
  const generated = await ok('POST', '/api/models/vae-mnist/generate', { n: 2, seed: 11 });
  const { z } = await ok('POST', '/api/models/vae-mnist/latent', { seed: 11, n: 2 });
  assert.equal(z.length, 2);
  const decoded = await ok('POST', '/api/models/vae-mnist/decode', { z });
  assert.deepEqual(pixels(decoded['images'][1].png), pixels(generated['images'][1].png));
  const walk = await ok('POST', '/api/models/vae-mnist/interpolate', { from: { seed: 11 }, to: { z: z[1] }, frames: 5 });
  assert.equal(walk['frames'].length, 5);
  assert.deepEqual(pixels(walk['frames'][0].png), pixels(generated['images'][0].png));
  assert.deepEqual(pixels(walk['frames'][4].png), pixels(generated['images'][1].png));
  assert.equal(Buffer.from(walk['gif'], 'base64').subarray(0, 3).toString(), 'GIF');
  const encoded = await ok('POST', '/api/models/vae-mnist/encode', { png: generated['images'][0].png });
  assert.equal(encoded['mean'].length, z[0].length);
  await refused(400, /has 3 numbers but vae-mnist's latent space has/, 'POST', '/api/models/vae-mnist/decode', { z: [[1, 2, 3]] });
  await refused(400, /no encoder/, 'POST', '/api/models/gan-mnist/encode', { png: generated['images'][0].png });
  await refused(422, /not a PNG or JPEG/, 'POST', '/api/models/vae-mnist/encode', { png: Buffer.from('hello world!').toString('base64') });
});

test('the latent map is a PCA whose points decode back through its basis', async () => {
  const map = await ok('POST', '/api/models/vae-mnist/latent-map', { count: 60 });
  assert.equal(map['points'].length, 60);
  assert.ok(map['points'].every((point: { label?: string }) => typeof point.label === 'string'));
  const { mean, axes } = map['basis'];
  assert.equal(axes.length, 2);
  // Orthonormal axes: a point's coordinates are its latent's projections, so x = (z − mean)·axis.
  const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);
  assert.ok(Math.abs(dot(axes[0], axes[0]) - 1) < 1e-6 && Math.abs(dot(axes[0], axes[1])) < 1e-6);
  const { x, y } = map['points'][0];
  const z = mean.map((value: number, d: number) => value + x * axes[0][d] + y * axes[1][d]);
  const decoded = await ok('POST', '/api/models/vae-mnist/decode', { z: [z] });
  assert.equal(decoded['images'].length, 1);
  const attributes = await ok('POST', '/api/models/vae-mnist/attributes', { perLabel: 20 });
  assert.equal(attributes['attributes'].length, 10);
  assert.equal(attributes['attributes'][3].vector.length, mean.length);
});

test('find in the corpus: a clip model\'s nearest emoji for a text; a colour VAE\'s sliders are its named attributes', async () => {
  const { hits } = await ok('POST', '/api/models/clip-emoji/search', { text: 'red heart', n: 4 });
  assert.equal(hits.length, 4);
  assert.ok(hits.every((hit: { score: number }, i: number) => i === 0 || hit.score <= hits[i - 1].score), 'best first');
  assert.ok(hits.some((hit: { caption: string }) => /^red heart, /.test(hit.caption)), JSON.stringify(hits.map((hit: { caption: string }) => hit.caption)));
  const png = PNG.sync.read(Buffer.from(hits[0].png, 'base64'));
  assert.deepEqual([png.width, png.height], [32, 32]);
  await refused(400, /text/, 'POST', '/api/models/clip-emoji/search', { text: '   ' });
  await refused(400, /does not embed texts and images: use a clip model/, 'POST', '/api/models/vae-mnist/search', { text: 'a seven' });
  const { attributes } = await ok('POST', '/api/models/vae-emoji/attributes', {});
  assert.deepEqual(attributes.slice(0, 3).map((attribute: { name: string }) => attribute.name), ['age', 'smile', 'red hair']);
  assert.equal(attributes[0].vector.length, 64);
});

test('attention: per layer and head a T×T matrix whose rows sum to 1 and never look ahead', async () => {
  const { tokens, layers } = await ok('POST', '/api/models/transformer-kjv/attention', { prompt: 'In the beginning' });
  const T = tokens.length;
  assert.equal(T, 'In the beginning'.length);
  const matrix: number[] = layers[0][0];
  assert.equal(matrix.length, T * T);
  for (let row = 0; row < T; row++) {
    const weights = matrix.slice(row * T, (row + 1) * T);
    assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-2);
    assert.ok(weights.slice(row + 1).every((value) => value === 0));
  }
});

test('ratings and preferences land in the SQLite store that finetune reads', async () => {
  const images = await ok('POST', '/api/models/gan-mnist/generate', { n: 2, seed: 21 });
  const [a, b] = images['images'];
  const rating = await ok('POST', '/api/feedback/ratings', { sampleKey: a.sampleKey, kind: 'thumbs', score: 1 });
  const stars = await ok('POST', '/api/feedback/ratings', { sampleKey: a.sampleKey, kind: 'stars', score: 4, rater: 'ada' });
  assert.equal(stars['sampleId'], rating['sampleId'], 'a sample is stored once however often it is rated');
  const preference = await ok('POST', '/api/feedback/preferences', { chosen: b.sampleKey, rejected: a.sampleKey });
  const text = await ok('POST', '/api/models/transformer-kjv/generate', { prompt: 'Let there', maxTokens: 8, seed: 1 });
  await ok('POST', '/api/feedback/ratings', { sampleKey: text['sampleKey'], kind: 'stars', score: 2 });
  const stats = await ok('GET', '/api/feedback/stats?model=gan-mnist');
  assert.deepEqual([stats['samples'], stats['ratings'], stats['preferences']], [2, 2, 1]);

  const store = FeedbackStore.open(join(runsDir, 'feedback.db'));
  try {
    const ratings = store.ratings();
    assert.deepEqual(ratings.map((r) => [r.kind, r.score, r.rater]), [['thumbs', 1, 'studio'], ['stars', 4, 'ada'], ['stars', 2, 'studio']]);
    const samples = store.samples();
    const imageSample = samples.find((sample) => sample.id === rating['sampleId'])!;
    assert.equal(imageSample.family, 'gan');
    assert.equal(imageSample.seed, 21);
    assert.ok(imageSample.outputPath?.endsWith('.png'));
    assert.equal(samples.find((sample) => sample.family === 'transformer')!.outputText, text['text']);
    assert.equal(store.preferences()[0]!.id, preference['preferenceId']);
  } finally {
    store.close();
  }
  // The studio's ratings are what `genloom finetune --ratings` trains from.
  const child = join(runsDir, 'gan-child');
  const output = cli('finetune', join(modelsDir, 'gan-mnist'), '--ratings', join(runsDir, 'feedback.db'), '--method', 'rejection', '--steps', '1', '--out', child);
  // Its one rated sample, scored by the mean of a thumbs up (1) and four stars (0.75).
  assert.match(output, /trained on 1 of 1 samples \(reward 0\.875/);
  await refused(410, /no longer known/, 'POST', '/api/feedback/ratings', { sampleKey: 'never-issued', kind: 'thumbs', score: 1 });
  await refused(400, /thumbs rating scores -1 \(down\) or 1 \(up\)/, 'POST', '/api/feedback/ratings', { sampleKey: a.sampleKey, kind: 'thumbs', score: 3 });
  await refused(400, /two different samples/, 'POST', '/api/feedback/preferences', { chosen: a.sampleKey, rejected: a.sampleKey });
});

test('PixelCNN completion keeps the top rows exactly, is seeded, streams, and can be rated', async () => {
  const digit = (await ok('POST', '/api/models/vae-mnist/generate', { n: 1, seed: 4 }))['images'][0].png as string;
  const body = { png: digit, rows: 14, n: 2, seed: 1 };
  const first = await ok('POST', '/api/models/pixelcnn-mnist/complete', body);
  assert.equal(first['kind'], 'images');
  assert.equal(first['seed'], 1);
  assert.equal(first['images'].length, 2);
  const input = PNG.sync.read(Buffer.from(first['input'], 'base64'));
  assert.deepEqual([input.width, input.height], [28, 28]);
  const keptBytes = 14 * 28 * 4; // RGBA rows
  const kept = input.data.subarray(0, keptBytes);
  assert.ok(kept.some((value, i) => i % 4 !== 3 && value === 255), 'the kept rows hold some of the digit');
  for (const image of first['images'] as { png: string; index: number; sampleKey: string }[]) {
    const decoded = PNG.sync.read(Buffer.from(image.png, 'base64'));
    assert.deepEqual([decoded.width, decoded.height], [28, 28]);
    assert.deepEqual(decoded.data.subarray(0, keptBytes), kept, `completion ${image.index} keeps the top 14 rows`);
    assert.equal(typeof image.sampleKey, 'string');
  }
  // The rest is drawn: grey in the input, black or white in the completions.
  assert.equal(input.data[keptBytes], 128);
  const again = await ok('POST', '/api/models/pixelcnn-mnist/complete', body);
  assert.deepEqual(again['images'].map((image: { png: string }) => image.png), first['images'].map((image: { png: string }) => image.png));
  const rated = await ok('POST', '/api/feedback/ratings', { sampleKey: first['images'][0].sampleKey, kind: 'thumbs', score: 1 });
  assert.equal(typeof rated['sampleId'], 'number');

  const stream = await events('/api/models/pixelcnn-mnist/complete', { ...body, n: 1, stream: true });
  const progress = stream.filter((event) => event.event === 'progress');
  assert.ok(progress.length >= 1);
  assert.deepEqual(progress.at(-1)!.data, { done: 28, total: 28 });
  assert.equal(stream.at(-1)!.event, 'result');
  assert.equal(stream.findIndex((event) => event.event === 'result'), stream.length - 1, 'progress comes before the result');
  assert.equal(stream.at(-1)!.data.images[0].png, first['images'][0].png);

  await refused(400, /"rows" must be 1\.\.27/, 'POST', '/api/models/pixelcnn-mnist/complete', { ...body, rows: 28 });
  await refused(400, /"rows" must be 1\.\.27/, 'POST', '/api/models/pixelcnn-mnist/complete', { ...body, rows: 28, stream: true });
  await refused(400, /1/, 'POST', '/api/models/pixelcnn-mnist/complete', { ...body, rows: 0 });
  await refused(400, /completion needs a PixelCNN/, 'POST', '/api/models/vae-mnist/complete', body);
  await refused(400, /completion needs a PixelCNN/, 'POST', '/api/models/gan-mnist/complete', { ...body, stream: true });
  const described = await ok('GET', '/api/models/pixelcnn-mnist');
  assert.ok(described['capabilities'].includes('completion'));
});

test('bad requests get one-line 4xx JSON errors', async () => {
  await refused(400, /not valid JSON/, 'POST', '/api/models/vae-mnist/generate', '{"n": 2,');
  await refused(400, /body field "n".*expected number/, 'POST', '/api/models/vae-mnist/generate', { n: 'four' });
  await refused(400, /body field "n".*<=64/, 'POST', '/api/models/vae-mnist/generate', { n: 100_000 });
  await refused(400, /Unrecognized key.*"colour"/, 'POST', '/api/models/vae-mnist/generate', { colour: 'red' });
  await refused(400, /"maxTokens" is not for vae-mnist, a vae model/, 'POST', '/api/models/vae-mnist/generate', { maxTokens: 5 });
  await refused(400, /"truncation" is not for vae-mnist, a vae model \(it is for gan models\)/, 'POST', '/api/models/vae-mnist/generate', { truncation: 0.5 });
  await refused(400, /unknown label "zebra"/, 'POST', '/api/models/gan-mnist/generate', { label: 'zebra' });
  await refused(400, /not a conditional model/, 'POST', '/api/models/vae-mnist/generate', { label: '3' });
  await refused(404, /no model "nope": the studio has clip-emoji, diffusion-mnist/, 'POST', '/api/models/nope/generate', {});
  await refused(400, /not a model name/, 'GET', '/api/models/..%2F..%2Fetc');
  await refused(404, /models serve only config.json/, 'GET', '/api/models/vae-mnist/files/optimizer.safetensors');
  await refused(404, /no route GET \/api\/nothing/, 'GET', '/api/nothing');
  await refused(413, /body/i, 'POST', '/api/models/vae-mnist/decode', { z: [new Array(100_000).fill(0.5)] });
  // fetch cannot set Host; DNS rebinding would, so send it with node:http.
  const rebound = await rawGet(server.url, '/api/models', { host: 'evil.example:80' });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body, /must be addressed to 127.0.0.1 or localhost/);
  assert.equal((await rawGet(server.url, '/api/models', { host: '127.evil.example' })).status, 403, 'a name that starts like 127.x is not loopback');
  // A page on another site may send a multipart upload without a preflight; its Origin gives it away.
  const crossSite = await fetch(`${server.url}/api/uploads`, { method: 'POST', headers: { origin: 'http://evil.example' }, body: new FormData() });
  assert.equal(crossSite.status, 403);
  assert.match(((await crossSite.json()) as { error: { message: string } }).error.message, /another site's page \(http:\/\/evil.example\)/);
  const sandboxed = await fetch(`${server.url}/api/uploads`, { method: 'POST', headers: { origin: 'null' }, body: new FormData() });
  assert.equal(sandboxed.status, 403, 'a sandboxed frame (Origin: null) is another site too');
  const sameSite = await fetch(`${server.url}/api/models`, { headers: { origin: server.url } });
  assert.equal(sameSite.status, 200);
  assert.equal((await ok('GET', '/api/health'))['ok'], true, 'still answering');
});

test('a full queue answers 429 at once; every other request completes', async () => {
  // queueDepth is 2: one runs, two wait, the rest are refused.
  const requests = Array.from({ length: 6 }, (_, i) => call('POST', '/api/models/diffusion-mnist/generate', { n: 4, seed: i, steps: 8 }));
  const results = await Promise.all(requests);
  const statuses = results.map((result) => result.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
  const refusedOne = results.find((result) => result.status === 429)!;
  assert.match(refusedOne.json['error'].message, /queue is full/);
  // Streamed requests are refused the same way, with the status, before any stream opens.
  const streamed = await Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`${server.url}/api/models/diffusion-mnist/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 4, seed: i, steps: 8, stream: true }) })));
  const kinds = await Promise.all(streamed.map(async (response) => `${response.status} ${response.headers.get('content-type')?.split(';')[0]}`));
  await Promise.all(streamed.map((response) => response.text()));
  assert.deepEqual(kinds.sort(), ['200 text/event-stream', '200 text/event-stream', '200 text/event-stream', '429 application/json', '429 application/json', '429 application/json']);
});

test('a client that disconnects mid-stream cancels its work; the server goes on', async () => {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/api/models/transformer-kjv/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ maxTokens: 2000, stream: true, seed: 1 }), signal: controller.signal });
  const reader = response.body!.getReader();
  await reader.read(); // the stream has begun
  const started = Date.now();
  controller.abort();
  // 2,000 tokens take several seconds; cancelled, the next request is answered long before.
  const next = await ok('POST', '/api/models/vae-mnist/generate', { n: 1, seed: 1 });
  assert.equal(next['images'].length, 1);
  assert.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms`);
  const health = await ok('GET', '/api/health');
  assert.equal(health['generation'].worker.numTensors, health['generation'].worker.numTensors, 'stats come back');
});

test('a model folder that changes under the running server: removed is 404, replaced is reloaded', async () => {
  const copy = join(modelsDir, 'vae-copy');
  cpSync(join(modelsDir, 'vae-mnist'), copy, { recursive: true });
  const before = await ok('POST', '/api/models/vae-copy/generate', { n: 1, seed: 2 });
  rmSync(copy, { recursive: true });
  await refused(404, /no model "vae-copy"/, 'POST', '/api/models/vae-copy/generate', { n: 1, seed: 2 });
  // Another model under the same name: the worker must not serve the one it had cached.
  cpSync(join(modelsDir, 'gan-mnist'), copy, { recursive: true });
  const replaced = await ok('GET', '/api/models/vae-copy');
  assert.equal(replaced['family'], 'gan');
  const after = await ok('POST', '/api/models/vae-copy/generate', { n: 1, seed: 2 });
  assert.notEqual(after['images'][0].png, before['images'][0].png);
  // A sample of the old weights is not filed under the new ones.
  await refused(409, /vae-copy has changed on disk since this sample was made/, 'POST', '/api/feedback/ratings', { sampleKey: before['images'][0].sampleKey, kind: 'thumbs', score: 1 });
  // A half-written folder (config.json without weights) is not offered at all.
  mkdirSync(join(modelsDir, 'half'));
  cpSync(join(modelsDir, 'vae-mnist', 'config.json'), join(modelsDir, 'half', 'config.json'));
  await refused(404, /no model "half"/, 'GET', '/api/models/half');
});

test('/openapi.json describes every route with its request schema', async () => {
  const document = await ok('GET', '/openapi.json');
  assert.equal(document['openapi'], '3.1.0');
  const paths = document['paths'] as Record<string, Record<string, any>>;
  for (const path of ['/api/models', '/api/models/{name}', '/api/models/{name}/generate', '/api/models/{name}/decode', '/api/models/{name}/interpolate', '/api/feedback/ratings', '/api/jobs', '/api/uploads']) {
    assert.ok(paths[path], `${path} is described`);
  }
  const generate = paths['/api/models/{name}/generate']!['post'];
  assert.equal(generate.requestBody.content['application/json'].schema.properties.n.maximum, 64);
  assert.equal(generate.parameters[0].name, 'name');
});

test('off loopback the server needs a token, and then every API request must carry it', async () => {
  assert.throws(() => resolveServerOptions({ modelsDir, runsDir, host: '0.0.0.0' }), /needs a token/);
  const guarded = await startServer(resolveServerOptions({ modelsDir, runsDir: tempDir('genloom-token-runs-'), port: 0, host: '127.0.0.1', token: 's3cret' }));
  try {
    const get = async (path: string, headers: Record<string, string> = {}) => (await rawGet(guarded.url, path, headers)).status;
    assert.equal(await get('/api/models'), 401);
    assert.equal(await get('/api/models', { authorization: 'Bearer wrong' }), 401);
    assert.equal(await get('/api/models', { authorization: 'Bearer s3cret' }), 200);
    assert.equal(await get('/api/models?token=s3cret'), 200);
    // Percent-encoding the path routes to the same handlers; it must not skip the token.
    assert.equal(await get('/%61pi/models'), 401);
    assert.equal(await get('/%6Fpenapi.json'), 401);
  } finally {
    await guarded.close();
  }
});

test('genloom serve says what to do when it cannot start', () => {
  fails(/serving on 0\.0\.0\.0 \(not loopback\) needs a token/, 'serve', '--host', '0.0.0.0', '--models', modelsDir, '--no-web');
  fails(/the models folder .*nowhere does not exist/, 'serve', '--models', join(modelsDir, 'nowhere'), '--no-web');
  const port = new URL(server.url).port;
  fails(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`), 'serve', '--port', port, '--models', modelsDir, '--runs', runsDir, '--no-web');
});
