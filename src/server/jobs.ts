/**
 * Training jobs: one runs at a time in a worker thread (train-worker.ts), the rest wait in a FIFO
 * queue of bounded depth. A job is a run folder under runsDir; its record is kept in memory and in
 * `<run>/job.json`, so a restarted server lists its old runs (as stopped or finished) and can resume
 * them from their checkpoints.
 *
 * States: queued → running → finished | stopped | failed, with stopping between running and stopped
 * while the run finishes its step and saves. Stop of a queued job just takes it off the queue;
 * resume puts a stopped or failed job (or, given more steps, a finished one) back on it.
 *
 * job.json is only written while no worker is training into the folder: the trainer saves a
 * checkpoint by renaming the whole run folder, and a file written into it meanwhile would be lost.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from '../io/atomic.ts';
import { hasCheckpoint, readManifest, recoverCheckpoint } from '../io/checkpoint.ts';
import { buildTrainRequest, trainCommandLine, type TrainSettings } from '../train/train-settings.ts';
import { getFamily } from '../models/registry.ts';
import { defaultLimits } from './context.ts';
import { HttpError } from './http-errors.ts';
import type { TrainWorkerData, TrainWorkerMessage } from './train-worker.ts';
import { workerEntry } from './worker-entry.ts';

export type JobState = 'queued' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed';

/** What a job was asked to train: the body of POST /api/jobs after validation. */
export interface JobSettings {
  family: string;
  /** A built-in name or `upload:<id>`, resolved to a path only when the job starts. */
  dataset: string;
  steps?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  preset?: string;
  imageSize?: number;
  config: Record<string, unknown>;
}

/** A job as the API shows it. */
export interface Job {
  id: string;
  name: string;
  family: string;
  dataset: string;
  state: JobState;
  step: number;
  /** 0 until the run has worked out its length (when asked for epochs). */
  totalSteps: number;
  last: Record<string, number>;
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Its name in /api/models, once it has a checkpoint. */
  model?: string;
  /** Which of the run's files GET /api/jobs/:id/files/:file has now. */
  files: string[];
}

export type JobEvent =
  | { event: 'state'; data: { job: Job } }
  | { event: 'progress'; data: { step: number; totalSteps: number; values: Record<string, number>; unitsPerSecond?: number } }
  | { event: 'checkpoint'; data: { step: number; files: string[] } };

/** job.json: the job and what to run when it is resumed. */
interface JobRecord extends Omit<Job, 'model' | 'files'> {
  settings: JobSettings;
}

/** The run files the API serves; anything else in a run folder (weights, optimizer state) is not. */
export const servedRunFiles = ['samples.png', 'loss.png', 'samples.txt', 'samples.mid', 'metrics.jsonl'] as const;

export const runNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Folders of runsDir that are not runs. */
const reservedNames = new Set(['uploads', 'feedback-samples']);
const jobFile = 'job.json';
/** How long a closing server waits for the running job to save before it terminates the worker. */
const closeGraceMs = 5000;

export interface TrainingJobsOptions {
  runsDir: string;
  /** Jobs that may wait behind the running one; more are refused with 429. */
  queueDepth: number;
  maxTrainingSteps: number;
  /** The most parameters a job's model may build (default: the server's default limit): a bigger one fails as it starts. */
  maxParameters?: number;
  /** Tensor backend of the workers. */
  backend?: string;
  /** The module a job's worker runs (default train-worker.ts; tests give one that crashes). */
  workerEntry?: URL;
  /** Why a run name may not be used although no run has it (a model of that name, the feedback store), or undefined. */
  nameTaken?(name: string): string | undefined;
  /** A job's dataset spec → what its worker trains on: a built-in name as it is, an upload's path (an HttpError when it is gone). */
  resolveDataset(spec: string): string;
}

interface RunningJob {
  id: string;
  worker: Worker;
  stopFlag: Int32Array;
  /** What the worker reported before it exited. */
  outcome?: { state: 'finished' | 'stopped' | 'failed'; error?: string };
  exited: Promise<void>;
}

/**
 * The server's training queue.
 * @example
 * const jobs = new TrainingJobs({ runsDir: 'runs', queueDepth: 4, maxTrainingSteps: 100_000, resolveDataset: (spec) => spec });
 * const job = jobs.start('mnist-vae', { family: 'vae', dataset: 'mnist', steps: 2000, config: { latentDim: 8 } });
 * const unsubscribe = jobs.subscribe(job.id, ({ event, data }) => console.log(event, data));
 */
export class TrainingJobs {
  readonly runsDir: string;
  private readonly records = new Map<string, JobRecord>();
  private readonly queue: string[] = [];
  private running: RunningJob | null = null;
  private readonly listeners = new Map<string, Set<(event: JobEvent) => void>>();
  private closing = false;

  constructor(private readonly options: TrainingJobsOptions) {
    this.runsDir = resolve(options.runsDir);
    this.loadPreviousRuns();
  }

  /** Queues a new run; it starts at once when nothing else is training. */
  start(name: string, settings: JobSettings): Job {
    if (!runNamePattern.test(name)) throw new HttpError(400, 'BAD_REQUEST', `run name "${name}" is not allowed: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
    if (reservedNames.has(name)) throw new HttpError(400, 'BAD_REQUEST', `run name "${name}" is reserved by the server: choose another`);
    // Checkpoint saves use <run>.old and <run>.saving beside a run and delete them: never a run's name.
    if (/\.(old|saving)$/.test(name)) throw new HttpError(400, 'BAD_REQUEST', `run name "${name}" ends like a checkpoint's temporary folder (.old, .saving): choose another`);
    const taken = this.options.nameTaken?.(name);
    if (taken) throw new HttpError(409, 'CONFLICT', `run name "${name}" is taken: ${taken}`);
    if (this.records.has(name)) throw new HttpError(409, 'CONFLICT', `run "${name}" already exists: resume it (POST /api/jobs/${name}/resume) or choose another name`);
    if (existsSync(this.runDir(name))) throw new HttpError(409, 'CONFLICT', `a folder "${name}" already exists in the runs folder: choose another name`);
    this.refuseWhenQueueFull();
    const record: JobRecord = { id: name, name, family: settings.family, dataset: settings.dataset, state: 'queued', step: 0, totalSteps: settings.steps ?? 0, last: {}, createdAt: new Date().toISOString(), settings };
    this.records.set(name, record);
    this.save(record);
    this.enqueue(record);
    return this.view(record);
  }

  /** `<family>-<UTC time>`, with a counter when that is taken. */
  defaultName(family: string): string {
    const time = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    let name = `${family}-${time}`;
    for (let n = 2; this.records.has(name) || existsSync(this.runDir(name)); n++) name = `${family}-${time}-${n}`;
    return name;
  }

  /** A job that is queued or training on `dataset` now, if any. */
  activeOn(dataset: string): Job | undefined {
    const record = [...this.records.values()].find((job) => job.dataset === dataset && ['queued', 'running', 'stopping'].includes(job.state));
    return record ? this.view(record) : undefined;
  }

  list(): Job[] {
    return [...this.records.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((record) => this.view(record));
  }

  get(id: string): Job {
    return this.view(this.record(id));
  }

  /** The run folder of job `id` (for its files and metrics). */
  runDirOf(id: string): string {
    return this.runDir(this.record(id).name);
  }

  /** Stops a running job after its current step (with a checkpoint), or takes a queued one off the queue. */
  stop(id: string): Job {
    const record = this.record(id);
    if (record.state === 'queued') {
      const index = this.queue.indexOf(id);
      if (index >= 0) this.queue.splice(index, 1);
      this.finish(record, 'stopped');
    } else if (record.state === 'running' && this.running?.id === id) {
      Atomics.store(this.running.stopFlag, 0, 1);
      this.setState(record, 'stopping');
    } else if (record.state === 'finished' || record.state === 'failed') {
      throw new HttpError(409, 'CONFLICT', `job "${id}" is not running: it ${record.state === 'finished' ? 'finished' : 'failed'} at step ${record.step}`);
    }
    return this.view(record);
  }

  /** Queues a stopped or failed job again, to continue from its checkpoint; `steps` lengthens the run (and lets a finished one go on). */
  resume(id: string, options: { steps?: number } = {}): Job {
    const record = this.record(id);
    if (record.state === 'queued' || record.state === 'running' || record.state === 'stopping') {
      throw new HttpError(409, 'CONFLICT', `job "${id}" is already ${record.state}`);
    }
    const steps = options.steps ?? record.settings.steps;
    // The checkpoint is where training continues from; the record's step can lag it (a server that stopped before the last progress event was saved).
    const outDir = this.runDir(record.name);
    const at = hasCheckpoint(outDir) ? Math.max(record.step, Number(readManifest(outDir).training.step ?? 0)) : record.step;
    if (options.steps !== undefined && options.steps <= at) {
      throw new HttpError(400, 'BAD_REQUEST', `job "${id}" is at step ${at}: "steps" must be more than that to train further`);
    }
    if (options.steps === undefined && (record.state === 'finished' || (steps !== undefined && steps <= at))) {
      throw new HttpError(409, 'CONFLICT', `job "${id}" already ${record.state === 'finished' ? 'finished' : 'trained'} its ${at} steps: pass "steps" (more than ${at}) to train it longer`);
    }
    this.refuseWhenQueueFull();
    if (steps !== undefined) record.settings = { ...record.settings, steps };
    delete record.error;
    delete record.finishedAt;
    if (steps !== undefined) record.totalSteps = steps;
    record.state = 'queued';
    this.save(record);
    this.enqueue(record);
    return this.view(record);
  }

  /** Calls `listener` with the job's events until the returned function is called. */
  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    this.record(id);
    const set = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  /** For the server's close (after it stopped taking requests): queued jobs stay stopped; the running one stops, saving, within ~5 s (then its worker is terminated). */
  async close(): Promise<void> {
    this.closing = true;
    for (const id of this.queue.splice(0)) this.finish(this.records.get(id)!, 'stopped');
    const running = this.running;
    if (!running) return;
    Atomics.store(running.stopFlag, 0, 1);
    const record = this.records.get(running.id)!;
    if (record.state === 'running') this.setState(record, 'stopping');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), closeGraceMs)));
    const exited = await Promise.race([running.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (exited === true) {
      // Checkpoints are written to a staging folder and renamed into place, so cutting a save short loses only that save.
      running.outcome ??= { state: 'stopped' };
      await running.worker.terminate();
      await running.exited;
    }
  }

  private record(id: string): JobRecord {
    const record = this.records.get(id);
    if (!record) {
      const known = [...this.records.keys()];
      throw new HttpError(404, 'NOT_FOUND', `no job "${id}"${known.length > 0 ? `: the server has ${known.slice(-20).join(', ')}` : ' (no jobs yet)'}`);
    }
    return record;
  }

  private runDir(name: string): string {
    return join(this.runsDir, name);
  }

  private refuseWhenQueueFull(): void {
    if (this.queue.length >= this.options.queueDepth && (this.running || this.queue.length > 0)) {
      throw new HttpError(429, 'TOO_MANY_REQUESTS', `the training queue is full (${this.queue.length} jobs waiting behind the running one): wait for one to finish or stop one`);
    }
  }

  private enqueue(record: JobRecord): void {
    this.queue.push(record.id);
    this.emit(record.id, { event: 'state', data: { job: this.view(record) } });
    this.startNext();
  }

  private startNext(): void {
    if (this.running || this.closing) return;
    const id = this.queue.shift();
    if (id === undefined) return;
    const record = this.records.get(id)!;
    try {
      this.launch(record);
    } catch (error) {
      this.finish(record, 'failed', error instanceof Error ? error.message : String(error));
      this.startNext();
    }
  }

  /** Starts the worker for `record`; throws (before any worker exists) when its dataset is gone. */
  private launch(record: JobRecord): void {
    const outDir = this.runDir(record.name);
    const family = getFamily(record.family);
    const { settings } = record;
    const trainSettings: TrainSettings = {
      dataset: this.options.resolveDataset(settings.dataset),
      outDir,
      seed: settings.seed,
      epochs: settings.epochs,
      steps: settings.steps,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      resume: hasCheckpoint(outDir),
      preset: settings.preset,
      imageSize: settings.imageSize,
      config: this.resolveConfig(settings.config),
    };
    // The command recorded in config.json is the `genloom train` line that reproduces this run.
    const { quiet: _quiet, backend: _backend, ...request } = buildTrainRequest(trainSettings, { command: trainCommandLine(family, trainSettings), quiet: true, backend: '' });
    const stopFlag = new Int32Array(new SharedArrayBuffer(4));
    const workerData: TrainWorkerData = {
      entry: (this.options.workerEntry ?? workerEntry('train-worker', import.meta.url)).href,
      family: record.family,
      request,
      maxSteps: this.options.maxTrainingSteps,
      maxParameters: this.options.maxParameters ?? defaultLimits.maxJobParameters,
      stopFlag: stopFlag.buffer as SharedArrayBuffer,
      ...(this.options.backend ? { backend: this.options.backend } : {}),
    };
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    if (trainSettings.resume) record.step = Number(readManifest(outDir).training.step ?? record.step);
    this.save(record);
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData });
    const running: RunningJob = { id: record.id, worker, stopFlag, exited: new Promise((resolve) => worker.once('exit', () => resolve())) };
    this.running = running;
    this.emit(record.id, { event: 'state', data: { job: this.view(record) } });
    worker.on('message', (message: TrainWorkerMessage) => this.onWorkerMessage(record, running, message));
    worker.on('error', (error) => {
      running.outcome ??= { state: 'failed', error: `the training worker crashed: ${oneLine(error.message)}` };
    });
    worker.once('exit', (code) => {
      this.running = null;
      if (!running.outcome) running.outcome = this.closing ? { state: 'stopped' } : { state: 'failed', error: `the training worker exited unexpectedly (code ${code})` };
      // A throw in an event listener would take the server down: a run folder that cannot be read
      // back fails its job instead.
      try {
        // A worker terminated mid-save leaves the run folder renamed aside; put it back before writing job.json.
        recoverCheckpoint(outDir);
        if (hasCheckpoint(outDir)) record.step = Number(readManifest(outDir).training.step ?? record.step);
        this.finish(record, running.outcome.state, running.outcome.error);
      } catch (error) {
        record.state = 'failed';
        record.error = `the run folder could not be read back: ${oneLine((error as Error).message)}`;
        this.emit(record.id, { event: 'state', data: { job: this.view(record) } });
      }
      this.startNext();
    });
  }

  /** Config values that name files (a transformer's tokenizer) may only name uploads, like datasets. */
  private resolveConfig(config: Record<string, unknown>): Record<string, unknown> {
    const resolved = { ...config };
    if (typeof resolved['tokenizer'] === 'string' && resolved['tokenizer'] !== 'char') resolved['tokenizer'] = this.options.resolveDataset(resolved['tokenizer']);
    return resolved;
  }

  private onWorkerMessage(record: JobRecord, running: RunningJob, message: TrainWorkerMessage): void {
    switch (message.type) {
      case 'started':
        return;
      case 'progress': {
        const { step, totalSteps, values, unitsPerSecond } = message;
        record.step = step;
        record.totalSteps = totalSteps;
        record.last = values;
        this.emit(record.id, { event: 'progress', data: { step, totalSteps, values, ...(unitsPerSecond !== undefined ? { unitsPerSecond } : {}) } });
        return;
      }
      case 'checkpoint':
        this.emit(record.id, { event: 'checkpoint', data: { step: message.step, files: this.filesOf(record.name) } });
        return;
      case 'done':
        record.step = message.summary.steps;
        if (Object.keys(message.summary.last).length > 0) record.last = message.summary.last;
        running.outcome = { state: message.summary.stoppedEarly ? 'stopped' : 'finished' };
        void running.worker.terminate();
        return;
      case 'error':
        running.outcome = { state: 'failed', error: oneLine(message.message) };
        void running.worker.terminate();
        return;
    }
  }

  private finish(record: JobRecord, state: 'stopped' | 'finished' | 'failed', error?: string): void {
    record.state = state;
    record.finishedAt = new Date().toISOString();
    if (error) record.error = error;
    else delete record.error;
    this.save(record);
    this.emit(record.id, { event: 'state', data: { job: this.view(record) } });
  }

  private setState(record: JobRecord, state: JobState): void {
    record.state = state;
    this.emit(record.id, { event: 'state', data: { job: this.view(record) } });
  }

  private emit(id: string, event: JobEvent): void {
    for (const listener of this.listeners.get(id) ?? []) listener(event);
  }

  private filesOf(name: string): string[] {
    const dir = this.runDir(name);
    return servedRunFiles.filter((file) => existsSync(join(dir, file)));
  }

  private view(record: JobRecord): Job {
    const { settings: _settings, ...job } = record;
    const dir = this.runDir(record.name);
    return { ...job, ...(hasCheckpoint(dir) ? { model: record.name } : {}), files: this.filesOf(record.name) };
  }

  private save(record: JobRecord): void {
    writeFileAtomic(join(this.runDir(record.name), jobFile), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Jobs of an earlier server: what was queued or running then is stopped now, at its last checkpoint. */
  private loadPreviousRuns(): void {
    if (!existsSync(this.runsDir)) return;
    for (const name of readdirSync(this.runsDir).sort()) {
      if (!runNamePattern.test(name) || reservedNames.has(name)) continue;
      const dir = this.runDir(name);
      const path = join(dir, jobFile);
      if (!existsSync(path)) continue;
      let record: JobRecord;
      try {
        record = JSON.parse(readFileSync(path, 'utf8')) as JobRecord;
        if (record.name !== name || typeof record.settings?.family !== 'string') continue;
      } catch {
        continue; // not a job this server can read: the run folder is still listed as a model if it has one
      }
      if (record.state === 'queued' || record.state === 'running' || record.state === 'stopping') {
        record.state = 'stopped';
        if (hasCheckpoint(dir)) record.step = Number(readManifest(dir).training.step ?? record.step);
      }
      this.records.set(record.id, record);
    }
  }
}

function oneLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
