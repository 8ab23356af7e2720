/**
 * Training jobs over HTTP: start, list, watch (Server-Sent Events), stop and resume runs, read their
 * metrics and sample files, and upload the datasets they train on. Jobs train only on built-in
 * datasets or uploads, never on a path a request names, so the API cannot read the server's files.
 */
import { existsSync } from 'node:fs';
import { readRegularFile } from '../io/regular-file.ts';
import { basename, join } from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import { z } from 'zod';
import { trainSettingRanges } from '../train/train-settings.ts';
import type { FamilyDefinition } from '../models/family.ts';
import { families } from '../models/registry.ts';
import type { ServerContext } from './context.ts';
import { jobRequestSchema, jobSchema } from './api-contract.ts';
import { HttpError } from './http-errors.ts';
import { runNamePattern, servedRunFiles, TrainingJobs, type JobSettings } from './jobs.ts';
import { servedFile } from './served-file.ts';
import { openEventStream } from './sse.ts';
import { uploadPrefix, Uploads, uploadTooLarge, type UploadPart } from './uploads.ts';

const contentTypes: Record<string, string> = { png: 'image/png', txt: 'text/plain; charset=utf-8', mid: 'audio/midi', jsonl: 'application/x-ndjson' };
/** Multipart framing (boundaries, part headers) on top of the files themselves. */
const multipartOverheadBytes = 1024 * 1024;

const idParams = z.object({ id: z.string().max(128) });

export function registerJobRoutes(context: ServerContext): void {
  const { api, options } = context;
  const limits = options.limits;
  const uploads = new Uploads(options.runsDir, limits.maxUploadBytes);
  const jobs = new TrainingJobs({
    runsDir: options.runsDir,
    queueDepth: limits.jobQueueDepth,
    maxTrainingSteps: limits.maxTrainingSteps,
    maxParameters: limits.maxJobParameters,
    ...(options.backend ? { backend: options.backend } : {}),
    // Built-in names were checked when the job was made; uploads are looked up again, as one may be deleted meanwhile.
    resolveDataset: (spec) => (spec.startsWith(uploadPrefix) ? uploads.resolve(spec) : spec),
    nameTaken: (name) => {
      if (name === basename(options.dbPath)) return 'it is the feedback store\'s file';
      // The catalog offers the models folder first: a run of a model's name would be hidden by it.
      if (existsSync(join(context.catalog.modelsDir, name))) return `the models folder has a model "${name}"`;
      return undefined;
    },
  });
  context.onClose(() => jobs.close());

  const startBody = jobRequestSchema(Object.keys(families), trainSettingRanges, limits.maxTrainingSteps, runNamePattern);

  api.route(
    {
      method: 'POST',
      url: '/api/jobs',
      summary: 'Start a training run (queued behind the running one); it trains on a built-in dataset or an upload',
      tag: 'jobs',
      body: startBody,
      responses: { 202: { description: 'the job, queued or already running', schema: z.object({ job: jobSchema }) } },
    },
    ({ body }, reply) => {
      const family = families[body.family]!;
      checkDataset(family, body.dataset, uploads);
      if (body.preset !== undefined && !family.presets.includes(body.preset)) {
        throw new HttpError(400, 'BAD_REQUEST', `body field "preset": ${family.name} has presets ${family.presets.join(', ')}, not "${body.preset}"`);
      }
      const config = checkConfig(family, body.config ?? {}, uploads);
      const { name, config: _config, ...rest } = body;
      const settings: JobSettings = { ...rest, config };
      const job = jobs.start(name ?? jobs.defaultName(family.name), settings);
      return reply.status(202).send({ job });
    },
  );

  api.route({ method: 'GET', url: '/api/jobs', summary: 'Every job of this server and of earlier ones (from the runs folder), oldest first', tag: 'jobs', responses: { 200: { description: 'the jobs', schema: z.object({ jobs: z.array(jobSchema) }) } } }, () => ({ jobs: jobs.list() }));

  api.route({ method: 'GET', url: '/api/jobs/:id', summary: 'One job', tag: 'jobs', params: idParams, responses: { 200: { description: 'the job', schema: z.object({ job: jobSchema }) } } }, ({ params }) => ({ job: jobs.get(params.id) }));

  api.route(
    {
      method: 'GET',
      url: '/api/jobs/:id/events',
      summary: 'A job as it trains (Server-Sent Events): "state" { job } first and on every change, "progress" { step, totalSteps, values, unitsPerSecond? }, "checkpoint" { step, files }',
      tag: 'jobs',
      params: idParams,
      responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' } },
    },
    ({ params, raw }, reply) => {
      const job = jobs.get(params.id);
      const stream = openEventStream(raw, reply);
      stream.send('state', { job });
      const unsubscribe = jobs.subscribe(params.id, (event) => stream.send(event.event, event.data));
      stream.onClose(unsubscribe);
    },
  );

  api.route(
    { method: 'GET', url: '/api/jobs/:id/metrics', summary: "A job's logged metrics so far (its metrics.jsonl, one object per line)", tag: 'jobs', params: idParams, responses: { 200: { description: 'the lines', schema: z.object({ lines: z.array(z.record(z.string(), z.unknown())) }) } } },
    ({ params }) => {
      const dir = jobs.runDirOf(params.id);
      return { lines: existsSync(join(dir, 'metrics.jsonl')) ? parseJsonLines(readRunFile(dir, 'metrics.jsonl', params.id)) : [] };
    },
  );

  api.route(
    { method: 'POST', url: '/api/jobs/:id/stop', summary: 'Stop a job after its current step, keeping a checkpoint (a queued job leaves the queue)', tag: 'jobs', params: idParams, responses: { 200: { description: 'the job, stopping or stopped', schema: z.object({ job: jobSchema }) } } },
    ({ params }) => ({ job: jobs.stop(params.id) }),
  );

  api.route(
    {
      method: 'POST',
      url: '/api/jobs/:id/resume',
      summary: 'Queue a stopped or failed job again; it continues from its checkpoint. "steps" lengthens the run (and lets a finished one train on)',
      tag: 'jobs',
      params: idParams,
      body: z.object({ steps: z.number().int().min(1).max(limits.maxTrainingSteps).optional() }).strict(),
      responses: { 200: { description: 'the job, queued again', schema: z.object({ job: jobSchema }) } },
    },
    ({ params, body }) => ({ job: jobs.resume(params.id, body.steps !== undefined ? { steps: body.steps } : {}) }),
  );

  api.route(
    {
      method: 'GET',
      url: '/api/jobs/:id/files/:file',
      summary: `A run's file: ${servedRunFiles.join(', ')} (written at each checkpoint)`,
      tag: 'jobs',
      params: z.object({ id: z.string().max(128), file: z.string().max(64) }),
      responses: { 200: { description: 'the file', contentType: 'application/octet-stream' } },
    },
    ({ params }, reply) => {
      const dir = jobs.runDirOf(params.id);
      if (!(servedRunFiles as readonly string[]).includes(params.file)) {
        throw new HttpError(404, 'NOT_FOUND', `a run serves only ${servedRunFiles.join(', ')}, not "${params.file}"`);
      }
      if (!existsSync(join(dir, params.file)) && !existsSync(join(`${dir}.old`, params.file))) {
        throw new HttpError(404, 'NOT_FOUND', `job "${params.id}" has no ${params.file} yet (run files are written at checkpoints)`);
      }
      return reply.type(contentTypes[params.file.split('.').pop()!] ?? 'application/octet-stream').header('cache-control', 'no-store').send(readRunFile(dir, params.file, params.id));
    },
  );

  const { $schema: _schema, ...uploadResponseSchema } = z.toJSONSchema(z.object({ upload: z.object({ id: z.string(), dataset: z.string(), files: z.number(), bytes: z.number() }) }));
  api.describe('POST', '/api/uploads', {
    summary: 'Upload a dataset: a folder\'s files (each "file" part named by its relative path, e.g. "square/1.png") or one file; train on it with dataset "upload:ID"',
    tags: ['jobs'],
    requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'array', items: { type: 'string', format: 'binary' } } } } } } },
    responses: {
      200: { description: 'the upload', content: { 'application/json': { schema: uploadResponseSchema } } },
      '4XX': { description: `a bad file name (400) or more than ${limits.maxUploadBytes} bytes in all (413): \`{ error: { code, message } }\``, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    },
  });
  api.route({ method: 'GET', url: '/api/uploads', summary: 'The uploads kept on this server, newest first', tag: 'jobs' }, () => ({ uploads: uploads.list() }));
  api.route(
    { method: 'DELETE', url: '/api/uploads/:id', summary: "Delete an upload's files (refused while a queued or running job trains on it)", tag: 'jobs', params: z.object({ id: z.string().max(64) }) },
    ({ params }) => {
      const job = jobs.activeOn(`${uploadPrefix}${params.id}`);
      if (job) throw new HttpError(409, 'CONFLICT', `job "${job.id}" is ${job.state} on upload:${params.id}: stop it first`);
      uploads.remove(params.id);
      return { deleted: `${uploadPrefix}${params.id}` };
    },
  );

  // Multipart parsing only in this scope: no other route takes multipart bodies.
  void api.app.register(async (scope) => {
    await scope.register(fastifyMultipart, {
      preservePath: true,
      // The total is checked while the files stream in; these only stop busboy's own limits getting there first.
      limits: { fileSize: limits.maxUploadBytes + 1, files: 100_000, fields: 16, parts: 100_000 },
    });
    scope.post('/api/uploads', async (request, reply) => {
      if (!request.isMultipart()) throw new HttpError(400, 'BAD_REQUEST', 'an upload is multipart/form-data with one "file" part per file');
      // A request announcing more than the limit is refused before any of it is read.
      if (Number(request.headers['content-length'] ?? 0) > limits.maxUploadBytes + multipartOverheadBytes) throw uploadTooLarge(limits.maxUploadBytes);
      // A body that stops arriving is given up on after a quiet spell, and the half-upload removed.
      const idleMs = limits.bodyIdleSeconds * 1000;
      request.raw.setTimeout(idleMs, () => request.raw.destroy(new HttpError(408, 'TIMEOUT', `the upload stopped arriving: nothing came for ${limits.bodyIdleSeconds} s`)));
      try {
        const upload = await uploads.receive(request.parts() as AsyncIterable<UploadPart>);
        return reply.send({ upload });
      } catch (error) {
        throw malformedMultipart(error);
      } finally {
        request.raw.setTimeout(0);
      }
    });
  });
}

/**
 * The multipart parser's own errors (no boundary, a body that ends before its closing boundary, a
 * boundary too long) are the client's: a 400 that says so, not an internal error.
 */
function malformedMultipart(error: unknown): unknown {
  if (error instanceof HttpError || (error as { genloomCode?: unknown })?.genloomCode) return error;
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return new HttpError(400, 'BAD_REQUEST', `the upload is not well-formed multipart/form-data (${reason})`);
}

/** A job's dataset: a built-in one of its family, or an upload of this server. */
function checkDataset(family: FamilyDefinition, dataset: string, uploads: Uploads): void {
  if (family.builtinDatasets.includes(dataset)) return;
  if (dataset.startsWith(uploadPrefix)) {
    uploads.resolve(dataset);
    return;
  }
  const builtins = family.builtinDatasets;
  throw new HttpError(400, 'BAD_REQUEST', `body field "dataset": ${family.name} jobs train on ${builtins.length > 0 ? `${builtins.join(', ')} or ` : ''}an upload ("upload:ID" from POST /api/uploads), not "${dataset}"`);
}

/**
 * The family options of a job, by config key: only keys the family's train command takes, with
 * JSON values of the kind its flags parse to (the family's config schema checks the rest when the
 * job starts). A file-naming option (a transformer's tokenizer) takes "char" or an upload.
 */
function checkConfig(family: FamilyDefinition, config: Record<string, unknown>, uploads: Uploads): Record<string, unknown> {
  const options = new Map(family.options.map((option) => [option.configKey, option]));
  for (const [key, value] of Object.entries(config)) {
    const option = options.get(key);
    if (!option) throw new HttpError(400, 'BAD_REQUEST', `body field "config.${key}": ${family.name} takes ${[...options.keys()].join(', ')}`);
    const isSwitch = !option.flags.includes('<');
    const valid = isSwitch ? typeof value === 'boolean' : (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'number' && Number.isFinite(item)));
    if (!valid) throw new HttpError(400, 'BAD_REQUEST', `body field "config.${key}": expected ${isSwitch ? 'true or false' : 'a number, a string or a list of numbers'} (${option.description})`);
    if (key === 'tokenizer' && value !== 'char') {
      if (typeof value !== 'string' || !value.startsWith(uploadPrefix)) throw new HttpError(400, 'BAD_REQUEST', 'body field "config.tokenizer": use "char" or an uploaded tokenizer.json ("upload:ID")');
      uploads.resolve(value);
    }
  }
  return config;
}

/**
 * Reads a run file of job `id` (see servedFile: links out of the run folder and FIFOs are refused
 * unopened); the trainer renames the run folder aside for a moment while it saves, so fall back to
 * that copy.
 */
function readRunFile(dir: string, file: string, id: string): Buffer {
  const read = (folder: string) => readRegularFile(servedFile(folder, file, `job "${id}"`, 'run').path, { maxBytes: 256 * 2 ** 20, what: 'run files' });
  try {
    return read(dir);
  } catch (error) {
    if ((error as { code?: string }).code === 'NOT_FOUND' && existsSync(join(`${dir}.old`, file))) return read(`${dir}.old`);
    throw error;
  }
}

function parseJsonLines(bytes: Buffer): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // the last line may be mid-append
    }
  }
  return lines;
}
