/**
 * Training jobs over real HTTP: uploads, a tiny VAE trained, watched over SSE, stopped and resumed,
 * the queue and its limit, failures, bad requests, and what a restarted server remembers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';
import { resolveServerOptions, startServer, type StudioServer } from './app.ts';
import { defaultLimits } from './context.ts';
import { TrainingJobs } from './jobs.ts';

const modelsDir = tempDir('genloom-jobs-models-');
const runsDir = tempDir('genloom-jobs-runs-');
const limits = { ...defaultLimits, jobQueueDepth: 1, maxUploadBytes: 64 * 1024, maxTrainingSteps: 5000 };
/** A VAE small enough that a step takes milliseconds. */
const tinyVae = { latentDim: 2, convChannels: [4], hiddenUnits: 8 };
let server: StudioServer;
let dataset = '';

interface Answer {
  status: number;
  body: any;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

async function upload(files: { name: string; bytes: Uint8Array<ArrayBuffer> }[]): Promise<Answer> {
  const form = new FormData();
  for (const file of files) form.append('file', new Blob([file.bytes]), file.name);
  const response = await fetch(`${server.url}/api/uploads`, { method: 'POST', body: form });
  return { status: response.status, body: await response.json() };
}

function assertError(answer: Answer, status: number, code: string, pattern: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error.code, code);
  assert.match(answer.body.error.message, pattern);
  assert.doesNotMatch(answer.body.error.message, /\n/, 'one line');
}

/** An SSE subscription that collects events; waitFor resolves with the first event a predicate accepts. */
function watch(path: string) {
  const events: { event: string; data: any }[] = [];
  const waiters: { test: (event: { event: string; data: any }) => boolean; resolve: (event: { event: string; data: any }) => void }[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const response = await fetch(`${server.url}${path}`, { signal: controller.signal });
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (!name || data === undefined) continue;
        const event = { event: name, data: JSON.parse(data) };
        events.push(event);
        for (const waiter of waiters.filter((w) => w.test(event))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
  })().catch((error: Error) => {
    if (error.name !== 'AbortError') throw error;
  });
  return {
    events,
    waitFor(test: (event: { event: string; data: any }) => boolean, timeoutMs = 30_000) {
      const seen = events.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise<{ event: string; data: any }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event on ${path} within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`)), timeoutMs);
        waiters.push({ test, resolve: (event) => (clearTimeout(timer), resolve(event)) });
      });
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}

async function waitForState(id: string, states: string[], timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call('GET', `/api/jobs/${id}`);
    if (states.includes(body.job.state)) return body.job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${body.job.state}, not ${states.join('/')}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function trainedStep(run: string): number {
  return JSON.parse(readFileSync(join(runsDir, run, 'config.json'), 'utf8')).training.step;
}

before(async () => {
  server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, limits }));
});

after(async () => {
  await server?.close();
});

test('uploads: a folder keeps its relative paths; bad names and oversized uploads are refused and leave nothing behind', async () => {
  const folder = writeShapeFolder(join(tempDir(), 'shapes'), 64);
  const files = ['square', 'ring'].flatMap((label) => readdirSync(join(folder, label)).map((file) => ({ name: `shapes/${label}/${file}`, bytes: readFileSync(join(folder, label, file)) })));
  const answer = await upload(files);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.upload.files, 128);
  assert.equal(answer.body.upload.bytes, files.reduce((sum, file) => sum + file.bytes.length, 0));
  assert.match(answer.body.upload.dataset, /^upload:[0-9a-f]{12}$/);
  dataset = answer.body.upload.dataset;
  const saved = join(runsDir, 'uploads', answer.body.upload.id, 'shapes', 'ring', readdirSync(join(folder, 'ring'))[0]!);
  assert.ok(existsSync(saved), `${relative(runsDir, saved)} saved under its relative path`);

  const png = files[0]!.bytes;
  assertError(await upload([{ name: 'ok.png', bytes: png }, { name: '../x.png', bytes: png }]), 400, 'BAD_REQUEST', /"\.\.\/x\.png".*"\.\."/);
  assertError(await upload([{ name: '/etc/x.png', bytes: png }]), 400, 'BAD_REQUEST', /absolute path/);
  assertError(await upload([{ name: 'a\\b.png', bytes: png }]), 400, 'BAD_REQUEST', /control character|\\/);
  assertError(await upload([{ name: 'a.png', bytes: png }, { name: 'a.png', bytes: png }]), 400, 'BAD_REQUEST', /clashes/);
  // Two files that are each under the limit but together over it.
  const half = new Uint8Array(40 * 1024);
  assertError(await upload([{ name: 'one.bin', bytes: half }, { name: 'two.bin', bytes: half }]), 413, 'PAYLOAD_TOO_LARGE', /64 KiB/);
  assert.deepEqual(readdirSync(join(runsDir, 'uploads')), [answer.body.upload.id], 'refused uploads leave no folder, temporary or not');
});

test('uploads are listed newest first and can be deleted; a job on a deleted one is refused', async () => {
  const text = await upload([{ name: 'verses.txt', bytes: new TextEncoder().encode('In the beginning. '.repeat(50)) }]);
  assert.equal(text.status, 200);
  const listed = (await call('GET', '/api/uploads')).body.uploads as { id: string; files: number; bytes: number }[];
  assert.deepEqual(listed.map((entry) => entry.id), [text.body.upload.id, dataset.slice('upload:'.length)]);
  assert.deepEqual([listed[0]!.files, listed[0]!.bytes], [1, 900]);
  assert.deepEqual((await call('DELETE', `/api/uploads/${text.body.upload.id}`)).body, { deleted: text.body.upload.dataset });
  assert.ok(!existsSync(join(runsDir, 'uploads', text.body.upload.id)));
  assertError(await call('DELETE', `/api/uploads/${text.body.upload.id}`), 404, 'NOT_FOUND', /no upload/);
  assertError(await call('DELETE', '/api/uploads/..%2F..%2Fetc'), 404, 'NOT_FOUND', /no upload/);
  assertError(await call('POST', '/api/jobs', { family: 'transformer', dataset: text.body.upload.dataset, steps: 2 }), 400, 'BAD_REQUEST', /no upload/);
  assert.equal((await call('GET', '/api/uploads')).body.uploads.length, 1);
});

test('bad job requests are clean 4xx errors that name the problem', async () => {
  const good = { family: 'vae', dataset, steps: 4, config: tinyVae };
  assertError(await call('POST', '/api/jobs', { ...good, family: 'lstm' }), 400, 'BAD_REQUEST', /family/);
  assertError(await call('POST', '/api/jobs', { ...good, dataset: '/etc' }), 400, 'BAD_REQUEST', /mnist, fashion-mnist, emoji or an upload/);
  assertError(await call('POST', '/api/jobs', { ...good, dataset: '../runs' }), 400, 'BAD_REQUEST', /not "\.\.\/runs"/);
  assertError(await call('POST', '/api/jobs', { ...good, dataset: 'upload:000000000000' }), 400, 'BAD_REQUEST', /no upload "upload:000000000000"/);
  assertError(await call('POST', '/api/jobs', { ...good, family: 'transformer', dataset: 'mnist', config: {} }), 400, 'BAD_REQUEST', /transformer jobs train on kjv/);
  assertError(await call('POST', '/api/jobs', { ...good, name: '../escape' }), 400, 'BAD_REQUEST', /name/);
  assertError(await call('POST', '/api/jobs', { ...good, name: 'uploads' }), 400, 'BAD_REQUEST', /reserved/);
  assertError(await call('POST', '/api/jobs', { ...good, name: 'mine.old' }), 400, 'BAD_REQUEST', /checkpoint's temporary folder/);
  assertError(await call('POST', '/api/jobs', { ...good, name: 'feedback.db' }), 409, 'CONFLICT', /feedback store/);
  mkdirSync(join(modelsDir, 'starter'), { recursive: true });
  assertError(await call('POST', '/api/jobs', { ...good, name: 'starter' }), 409, 'CONFLICT', /models folder has a model "starter"/);
  assertError(await call('POST', '/api/jobs', { ...good, steps: limits.maxTrainingSteps + 1 }), 400, 'BAD_REQUEST', /steps/);
  assertError(await call('POST', '/api/jobs', { ...good, preset: 'huge' }), 400, 'BAD_REQUEST', /presets tiny/);
  assertError(await call('POST', '/api/jobs', { ...good, config: { layers: 3 } }), 400, 'BAD_REQUEST', /config\.layers.*latentDim/);
  assertError(await call('POST', '/api/jobs', { ...good, config: { latentDim: { x: 1 } } }), 400, 'BAD_REQUEST', /config\.latentDim/);
  assertError(await call('POST', '/api/jobs', { ...good, outDir: '/tmp/x' }), 400, 'BAD_REQUEST', /outDir|unrecognized/i);
  assertError(await call('POST', '/api/jobs', { ...good, family: 'transformer', dataset: 'kjv', config: { tokenizer: '/etc/passwd' } }), 400, 'BAD_REQUEST', /tokenizer/);
  assertError(await call('GET', '/api/jobs/nothing'), 404, 'NOT_FOUND', /no job "nothing"/);
  assert.deepEqual((await call('GET', '/api/jobs')).body.jobs, [], 'no refused request made a job');
});

test('a job trains over SSE, queues the next, stops mid-run and resumes to its full length', async () => {
  const first = await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'shapes-vae', steps: 400, batchSize: 4, seed: 3, config: tinyVae });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.job.id, 'shapes-vae');
  const events = watch('/api/jobs/shapes-vae/events');

  const second = await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'second', steps: 4, batchSize: 8, config: tinyVae });
  assert.equal(second.status, 202);
  assert.equal(second.body.job.state, 'queued', 'one job runs at a time');
  assertError(await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'third', steps: 4, config: tinyVae }), 429, 'TOO_MANY_REQUESTS', /queue is full/);

  const checkpoint = await events.waitFor((event) => event.event === 'checkpoint');
  assert.ok(checkpoint.data.files.includes('samples.png') && checkpoint.data.files.includes('loss.png'), checkpoint.data.files.join(','));
  const health = await call('GET', '/api/health');
  assert.equal(health.status, 200, 'the server answers while a job trains');
  assert.equal(health.body.ok, true);

  const stopping = await call('POST', '/api/jobs/shapes-vae/stop');
  assert.equal(stopping.status, 200);
  assert.ok(['stopping', 'stopped'].includes(stopping.body.job.state), stopping.body.job.state);
  const stopped = (await events.waitFor((event) => event.event === 'state' && event.data.job.state === 'stopped')).data.job;
  assert.ok(stopped.step > 0 && stopped.step < 400, `stopped mid-run at ${stopped.step}`);
  assert.equal(trainedStep('shapes-vae'), stopped.step, 'the checkpoint is at the step the job reports');
  assert.equal(stopped.model, 'shapes-vae');
  for (const file of ['config.json', 'model.safetensors', 'job.json']) assert.ok(existsSync(join(runsDir, 'shapes-vae', file)), file);

  assert.equal(events.events[0]!.event, 'state', 'the stream opens with the job');
  const steps = events.events.filter((event) => event.event === 'progress').map((event) => event.data.step);
  assert.ok(steps.length >= 1, 'progress events');
  assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'steps only increase');
  const progress = events.events.find((event) => event.event === 'progress')!.data;
  assert.equal(progress.totalSteps, 400);
  assert.ok(Number.isFinite(progress.values.loss), 'progress carries the loss');

  // The queued job runs once the first has stopped, and finishes.
  const secondDone = await waitForState('second', ['finished', 'failed']);
  assert.equal(secondDone.state, 'finished', secondDone.error);
  assert.equal(trainedStep('second'), 4);

  assertError(await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'shapes-vae', steps: 4, config: tinyVae }), 409, 'CONFLICT', /resume/);
  const resumed = await call('POST', '/api/jobs/shapes-vae/resume');
  assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
  assert.ok(['queued', 'running'].includes(resumed.body.job.state));
  assertError(await call('POST', '/api/jobs/shapes-vae/resume'), 409, 'CONFLICT', /already (queued|running)/);
  assertError(await call('DELETE', `/api/uploads/${dataset.slice('upload:'.length)}`), 409, 'CONFLICT', /job "shapes-vae" is (queued|running) on upload:/);
  const finished = (await events.waitFor((event) => event.event === 'state' && ['finished', 'failed'].includes(event.data.job.state), 60_000)).data.job;
  assert.equal(finished.state, 'finished', finished.error);
  assert.equal(finished.step, 400);
  assert.equal(trainedStep('shapes-vae'), 400);
  await events.close();

  const metrics = (await call('GET', '/api/jobs/shapes-vae/metrics')).body.lines as { step: number; loss?: number }[];
  assert.equal(metrics.at(-1)!.step, 400);
  assert.ok(metrics.every((line, i) => i === 0 || line.step > metrics[i - 1]!.step), 'the resumed run continued the log without repeating steps');
  const manifest = JSON.parse(readFileSync(join(runsDir, 'shapes-vae', 'config.json'), 'utf8'));
  assert.match(manifest.training.command, /^genloom train vae --dataset \S+ --out \S+shapes-vae --seed 3 --steps 400 --batch-size 4 --latent-dim 2 --conv-channels 4 --hidden-units 8$/);

  const png = await fetch(`${server.url}/api/jobs/shapes-vae/files/samples.png`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assertError(await call('GET', '/api/jobs/shapes-vae/files/model.safetensors'), 404, 'NOT_FOUND', /serves only/);
  assertError(await call('GET', '/api/jobs/shapes-vae/files/samples.txt'), 404, 'NOT_FOUND', /no samples\.txt yet/);
  assertError(await call('POST', '/api/jobs/shapes-vae/resume'), 409, 'CONFLICT', /finished its 400 steps/);
  assertError(await call('POST', '/api/jobs/shapes-vae/resume', { steps: 300 }), 400, 'BAD_REQUEST', /at step 400/);
  // Given more steps, a finished run trains on from its checkpoint.
  const longer = await call('POST', '/api/jobs/shapes-vae/resume', { steps: 432 });
  assert.equal(longer.body.job.totalSteps, 432);
  const extended = await waitForState('shapes-vae', ['finished', 'failed']);
  assert.equal(extended.step, 432, extended.error);
  assert.equal(trainedStep('shapes-vae'), 432);
  assertError(await call('POST', '/api/jobs/shapes-vae/stop'), 409, 'CONFLICT', /not running: it finished at step 432/);
  const models = (await call('GET', '/api/models')).body.models.map((model: { name: string }) => model.name);
  assert.ok(models.includes('shapes-vae'), 'the run is a model of the studio');
});

test('a failing run ends as failed with a one-line message; stopping a queued job just dequeues it', async () => {
  const bad = await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'bad-config', steps: 4, config: { ...tinyVae, latentDim: 0 } });
  assert.equal(bad.status, 202);
  const queued = await call('POST', '/api/jobs', { family: 'vae', dataset, steps: 4, config: tinyVae });
  assert.equal(queued.body.job.state, 'queued');
  const unnamed = queued.body.job.name as string;
  assert.match(unnamed, /^vae-\d{8}-\d{6}$/, 'runs are named by family and time unless named');
  const dequeued = await call('POST', `/api/jobs/${unnamed}/stop`);
  assert.equal(dequeued.body.job.state, 'stopped');
  assert.equal(dequeued.body.job.step, 0);
  const failed = await waitForState('bad-config', ['failed', 'finished']);
  assert.equal(failed.state, 'failed');
  assert.match(failed.error, /latentDim/);
  assert.doesNotMatch(failed.error, /\n/);
  assert.equal((await call('GET', `/api/jobs/${unnamed}`)).body.job.state, 'stopped', 'a stopped queued job never starts');
  // A built-in dataset, and a length in epochs that only the loaded data turns into (too many) steps.
  const tooLong = await call('POST', '/api/jobs', { family: 'vae', dataset: 'mnist', name: 'too-long', epochs: 1, batchSize: 4, config: tinyVae });
  assert.equal(tooLong.status, 202, JSON.stringify(tooLong.body));
  const refused = await waitForState('too-long', ['failed', 'finished']);
  assert.equal(refused.state, 'failed');
  assert.match(refused.error, /would take 15000 steps; the server allows at most 5000/);
});

test('closing the server stops the running job with a checkpoint; a restarted server lists earlier jobs', async () => {
  const long = await call('POST', '/api/jobs', { family: 'vae', dataset, name: 'interrupted', steps: limits.maxTrainingSteps, batchSize: 4, config: tinyVae });
  assert.equal(long.status, 202);
  const events = watch('/api/jobs/interrupted/events');
  await events.waitFor((event) => event.event === 'checkpoint');
  await events.close();
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 8000, 'close waits at most a few seconds for the job');
  server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, limits }));
  const jobs = Object.fromEntries(((await call('GET', '/api/jobs')).body.jobs as { name: string; state: string; step: number }[]).map((job) => [job.name, job]));
  assert.deepEqual(Object.keys(jobs).filter((name) => !name.startsWith('vae-')).sort(), ['bad-config', 'interrupted', 'second', 'shapes-vae', 'too-long']);
  assert.equal(Object.keys(jobs).length, 6);
  assert.equal(jobs['shapes-vae']!.state, 'finished');
  assert.equal(jobs['bad-config']!.state, 'failed');
  assert.equal(jobs['interrupted']!.state, 'stopped');
  assert.ok(jobs['interrupted']!.step > 0 && jobs['interrupted']!.step < limits.maxTrainingSteps);
  assert.equal(jobs['interrupted']!.step, trainedStep('interrupted'), 'stopped at its checkpoint');
});

test('a worker that crashes fails its job with a one-line message, and the queue goes on', async () => {
  // A stand-in for train-worker.ts that exits, throws, or finishes at once, by run name.
  const dir = tempDir();
  const entry = join(dir, 'crashing-worker.mjs');
  writeFileSync(
    entry,
    `import { parentPort, workerData } from 'node:worker_threads';
     const name = workerData.request.outDir.split('/').pop();
     if (name === 'exits') process.exit(3);
     if (name === 'throws') throw new Error('out of memory\\n    at somewhere');
     parentPort.postMessage({ type: 'done', summary: { outDir: workerData.request.outDir, steps: 7, stoppedEarly: false, last: { loss: 1 } } });`,
  );
  const jobs = new TrainingJobs({ runsDir: join(dir, 'runs'), queueDepth: 4, maxTrainingSteps: 100, workerEntry: pathToFileURL(entry), resolveDataset: (spec) => spec });
  const settings = { family: 'vae', dataset: 'mnist', steps: 7, config: {} };
  for (const name of ['exits', 'throws', 'finishes']) jobs.start(name, settings);
  const finished = new Promise<void>((resolve) => jobs.subscribe('finishes', ({ event, data }) => event === 'state' && data.job.state === 'finished' && resolve()));
  await finished;
  const states = Object.fromEntries(jobs.list().map((job) => [job.name, job]));
  assert.equal(states['exits']!.state, 'failed');
  assert.match(states['exits']!.error!, /exited unexpectedly \(code 3\)/);
  assert.equal(states['throws']!.state, 'failed');
  assert.equal(states['throws']!.error, 'the training worker crashed: out of memory');
  assert.equal(states['finishes']!.step, 7);
  await jobs.close();
});

test('video and shape jobs train on their own built-in datasets (moving-mnist, shapes), and other datasets are refused by name', async () => {
  assertError(await call('POST', '/api/jobs', { family: 'video', dataset: 'mnist', steps: 2 }), 400, 'BAD_REQUEST', /video jobs train on moving-mnist or an upload/);
  assertError(await call('POST', '/api/jobs', { family: 'shape', dataset: 'fashion-mnist', steps: 2 }), 400, 'BAD_REQUEST', /shape jobs train on shapes or an upload/);
  const video = await call('POST', '/api/jobs', { family: 'video', dataset: 'moving-mnist', name: 'clips', preset: 'tiny', steps: 2, batchSize: 2, config: { frames: 4 } });
  assert.equal(video.status, 202, JSON.stringify(video.body));
  const clips = await waitForState('clips', ['finished', 'failed'], 120_000);
  assert.equal(clips.state, 'finished', clips.error);
  assert.equal(clips.step, 2);
  const shape = await call('POST', '/api/jobs', { family: 'shape', dataset: 'shapes', name: 'voxels', preset: 'tiny', steps: 2, batchSize: 2 });
  assert.equal(shape.status, 202, JSON.stringify(shape.body));
  const voxels = await waitForState('voxels', ['finished', 'failed'], 120_000);
  assert.equal(voxels.state, 'finished', voxels.error);
  const models = (await call('GET', '/api/models')).body.models as { name: string; family: string; capabilities: string[] }[];
  assert.deepEqual(models.filter((model) => ['clips', 'voxels'].includes(model.name)).map((model) => [model.name, model.family, model.capabilities]), [
    ['clips', 'video', ['clips']],
    ['voxels', 'shape', ['shapes']],
  ]);
});
