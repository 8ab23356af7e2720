/**
 * The server under the attacks of issue 27, each a regression test: images whose headers declare
 * billions of pixels or whose data is short, broken multipart uploads, poisoned model folders (a
 * directory, a FIFO or an outside link where a file belongs, a config.json without its config),
 * streams asked for by HEAD, uploads that stop arriving, requests that would hold the worker for
 * minutes, resumes that go backwards, raw HTTP that does not parse, and absolute paths in answers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../../src/io/image.ts';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { tempDir } from '../fixtures.ts';
import { ihdr, pngFile } from '../png-bytes.ts';

const shippedModels = fileURLToPath(new URL('../../models/', import.meta.url));
let server: StudioServer;
let runsDir: string;
let modelsDir: string;
let outside: string;

function poisoned(name: string, from = 'vae-mnist'): string {
  const dir = join(modelsDir, name);
  cpSync(join(shippedModels, from), dir, { recursive: true });
  return dir;
}

before(async () => {
  runsDir = tempDir('genloom-hostile-runs-');
  modelsDir = tempDir('genloom-hostile-models-');
  outside = tempDir('genloom-hostile-outside-');
  writeFileSync(join(outside, 'secret.png'), 'not for clients');
  for (const name of ['vae-mnist', 'pixelcnn-mnist', 'transformer-kjv']) cpSync(join(shippedModels, name), join(modelsDir, name), { recursive: true });
  const asDirectory = poisoned('weights-directory');
  rmSync(join(asDirectory, 'model.safetensors'));
  mkdirSync(join(asDirectory, 'model.safetensors'));
  const noConfig = poisoned('no-config');
  const manifest = JSON.parse(readFileSync(join(noConfig, 'config.json'), 'utf8'));
  delete manifest.config;
  writeFileSync(join(noConfig, 'config.json'), JSON.stringify(manifest));
  const linked = poisoned('outside-link');
  rmSync(join(linked, 'samples.png'), { force: true });
  symlinkSync(join(outside, 'secret.png'), join(linked, 'samples.png'));
  const fifo = poisoned('fifo-weights');
  rmSync(join(fifo, 'model.safetensors'));
  execFileSync('mkfifo', [join(fifo, 'model.safetensors')]);
  server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, limits: { bodyIdleSeconds: 1, maxRequestGmac: 1000, maxTrainingSteps: 4 } }));
});

after(async () => {
  await server.close();
  for (const dir of [runsDir, modelsDir, outside]) rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined || typeof body !== 'object' || body instanceof Uint8Array ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = method === 'HEAD' ? '' : await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, ms: Date.now() - started };
}

function assertRefused(result: { status: number; json: any; text: string }, status: number, pattern: RegExp): void {
  assert.equal(result.status, status, result.text.slice(0, 300));
  assert.equal(typeof result.json?.error?.code, 'string', result.text.slice(0, 300));
  assert.match(result.json.error.message, pattern);
  assert.ok(!result.text.includes(modelsDir) && !result.text.includes(runsDir), `no server folder in ${result.text.slice(0, 300)}`);
}

test('an image whose header declares billions of pixels is refused at once, and a short IDAT gives the same refusal every time', async () => {
  for (const side of [8000, 30000, 65535]) {
    const result = await call('POST', '/api/models/vae-mnist/encode', { png: pngFile(ihdr(side, side, 8, 0), Buffer.alloc(side + 1)).toString('base64') });
    assertRefused(result, 422, new RegExp(`${side}x${side}`));
    assert.ok(result.ms < 2000, `${side}×${side} answered in ${result.ms} ms`);
  }
  const short = pngFile(ihdr(28, 28, 8, 0), Buffer.alloc(29)).toString('base64'); // the first row only
  const messages = new Set<string>();
  for (let attempt = 0; attempt < 4; attempt++) {
    const result = await call('POST', '/api/models/pixelcnn-mnist/complete', { png: short, n: 1 });
    assert.equal(result.status, 422, result.text);
    messages.add(result.json.error.message);
  }
  assert.equal(messages.size, 1, [...messages].join(' | '));
  const health = await call('GET', '/api/health');
  assert.equal(health.status, 200);
});

test('broken multipart uploads are 400s, and one that stops arriving is given up on', async () => {
  assertRefused(await call('POST', '/api/uploads', 'abc', { 'content-type': 'multipart/form-data' }), 400, /multipart|boundary/i);
  const truncated = '--XYZ\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\ncontent-type: text/plain\r\n\r\nhello';
  assertRefused(await call('POST', '/api/uploads', truncated, { 'content-type': 'multipart/form-data; boundary=XYZ' }), 400, /multipart/i);
  assertRefused(await call('POST', '/api/uploads', 'x', { 'content-type': `multipart/form-data; boundary=${'b'.repeat(5000)}` }), 400, /multipart|boundary/i);

  // A Content-Length of a megabyte and ten bytes sent: a 408 after the quiet spell, not a request held open.
  const started = Date.now();
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => {
      socket.write(`POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 1048576\r\n\r\n--XYZ\r\n`);
    });
    let received = '';
    socket.on('data', (data) => (received += data.toString()));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(20_000, () => socket.destroy());
  });
  assert.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
  if (answer) assert.match(answer, /408|stopped arriving/);
});

test('poisoned model folders: a directory, a FIFO or an outside link where a file belongs, a config.json without config', async () => {
  assertRefused(await call('GET', '/api/models/weights-directory/files/model.safetensors'), 422, /not a regular file/);
  assertRefused(await call('GET', '/api/models/outside-link/files/samples.png'), 403, /outside its model folder/);
  assertRefused(await call('GET', '/api/models/no-config'), 422, /config/);
  assertRefused(await call('POST', '/api/models/no-config/generate', { n: 1 }), 422, /config/);
  assertRefused(await call('POST', '/api/models/no-config/decode', { z: [[0]] }), 422, /config/);
  // The FIFO is refused without being opened: the worker is not blocked, and the next model generates.
  assertRefused(await call('POST', '/api/models/fifo-weights/generate', { n: 1 }), 422, /FIFO/);
  const next = await call('POST', '/api/models/vae-mnist/generate', { n: 1, seed: 1 });
  assert.equal(next.status, 200, next.text.slice(0, 200));
});

test('a request that would hold the worker for minutes is refused with what would fit', async () => {
  const many = await call('POST', '/api/models/pixelcnn-mnist/generate', { n: 64 });
  assertRefused(many, 413, /pixelcnn-mnist would take about [\d,]+ GMAC \(64 images × 784 network passes\).*at most \d+ images/);
  const fit = Number(/at most (\d+)/.exec(many.json.error.message)![1]);
  assert.ok(fit >= 1 && fit < 64);
  assertRefused(await call('POST', '/api/models/pixelcnn-mnist/complete', { png: encodePng({ width: 28, height: 28, channels: 1, data: new Float32Array(784) }).toString('base64'), n: 16, rows: 1 }), 413, /16 images × 756 network passes/);
  assertRefused(await call('POST', '/api/models/pixelcnn-mnist/generate', { n: 64, stream: true }), 413, /GMAC/);
});

test('HEAD on a stream answers at once; a resume cannot go backwards; no answer names a server folder', async () => {
  const job = await call('POST', '/api/jobs', { family: 'vae', dataset: 'mnist', steps: 2, name: 'tiny-vae', preset: 'tiny' });
  assert.equal(job.status, 202, job.text);
  const head = await call('HEAD', '/api/jobs/tiny-vae/events');
  assert.equal(head.status, 200);
  assert.ok(head.ms < 2000, `HEAD took ${head.ms} ms`);
  for (let wait = 0; wait < 240; wait++) {
    const state = (await call('GET', '/api/jobs/tiny-vae')).json.job.state;
    if (state === 'finished' || state === 'failed') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const finished = await call('GET', '/api/jobs/tiny-vae');
  assert.equal(finished.json.job.state, 'finished', finished.text.slice(0, 300));
  assertRefused(await call('POST', '/api/jobs/tiny-vae/resume', { steps: 1 }), 400, /at step 2/);
  assertRefused(await call('POST', '/api/jobs/tiny-vae/resume', {}), 409, /pass "steps"/);
  // A run folder's files poisoned under the server: a link out and a FIFO are refused, not served or blocking.
  const runDir = join(runsDir, 'tiny-vae');
  rmSync(join(runDir, 'samples.png'), { force: true });
  symlinkSync(join(outside, 'secret.png'), join(runDir, 'samples.png'));
  assertRefused(await call('GET', '/api/jobs/tiny-vae/files/samples.png'), 403, /outside its run folder/);
  rmSync(join(runDir, 'loss.png'), { force: true });
  execFileSync('mkfifo', [join(runDir, 'loss.png')]);
  assertRefused(await call('GET', '/api/jobs/tiny-vae/files/loss.png'), 422, /not a regular file \(it is a FIFO\)/);
  for (const path of ['/api/jobs/tiny-vae', '/api/jobs', '/api/feedback/stats', '/api/models/vae-mnist']) {
    const answer = await call('GET', path);
    assert.ok(!answer.text.includes(runsDir) && !answer.text.includes(modelsDir) && !answer.text.includes(process.cwd()), `${path} names a server folder: ${answer.text.slice(0, 300)}`);
  }
});

test('a request that runs past the time limit is stopped with 504, and the worker goes on to the next', async () => {
  const strictRuns = tempDir('genloom-hostile-strict-');
  const strict = await startServer(resolveServerOptions({ modelsDir, runsDir: strictRuns, port: 0, limits: { maxRequestSeconds: 1 } }));
  try {
    const post = (path: string, body: unknown) => fetch(`${strict.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const started = Date.now();
    const slow = await post('/api/models/pixelcnn-mnist/generate', { n: 4, seed: 1 });
    const text = await slow.text();
    assert.equal(slow.status, 504, text);
    assert.match(JSON.parse(text).error.message, /limit of 1 s per request/);
    assert.ok(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
    const next = await post('/api/models/vae-mnist/generate', { n: 1, seed: 1 });
    assert.equal(next.status, 200);
  } finally {
    await strict.close();
    rmSync(strictRuns, { recursive: true, force: true });
  }
});

test('a job whose model would be hundreds of gigabytes fails as it starts, naming the limit, before allocating', async () => {
  const started = Date.now();
  const job = await call('POST', '/api/jobs', { family: 'transformer', dataset: 'kjv', steps: 2, name: 'huge-gpt', config: { layers: 96, dim: 8192, heads: 64 } });
  assert.equal(job.status, 202, job.text);
  let state = job.json.job;
  while (state.state === 'queued' || state.state === 'running') {
    assert.ok(Date.now() - started < 60_000, 'the job failed within a minute');
    await new Promise((resolve) => setTimeout(resolve, 300));
    state = (await call('GET', '/api/jobs/huge-gpt')).json.job;
  }
  assert.equal(state.state, 'failed');
  assert.match(state.error, /more than [\d,]+ parameters .*up to 100,000,000 \(genloom serve --max-parameters\)/);
  const health = await call('GET', '/api/health');
  assert.equal(health.status, 200);
});

test('HTTP that does not parse, bad URLs and over-long names are answered in the one error shape', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => socket.write('GARBAGE / HTTP/9\r\n\r\n'));
    let received = '';
    socket.on('data', (data) => (received += data.toString()));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.match(raw, /"error":\{"code":"BAD_REQUEST","message":"the request is not valid HTTP/);
  assertRefused(await call('GET', '/api/models/%E0%A4%A'), 400, /URL is not valid/);
  assertRefused(await call('GET', `/api/models/${'a'.repeat(300)}`), 414, /longer than 100 characters/);
  assertRefused(await call('POST', '/api/models/vae-mnist/generate', 'n=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, /application\/json/);
});
