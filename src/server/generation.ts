/**
 * The server's side of the generation worker: a queue in front of one worker thread. One request
 * runs at a time (tensor work uses every core already); up to `queueDepth` wait, and beyond that a
 * request is refused with 429 at once rather than left to time out. A request whose client goes
 * away is dropped from the queue, or cancelled between steps if it is running. A worker that dies
 * fails only the request it was running; the next request starts a fresh one.
 */
import { Worker } from 'node:worker_threads';
import { checkImageBytes } from '../io/image.ts';
import type { CatalogEntry } from './catalog.ts';
import { HttpError } from './http-errors.ts';
import { workerEntry } from './worker-entry.ts';
import type { WorkMessage, WorkRequest } from './generation-worker.ts';

export interface WorkOptions {
  onEvent?(event: string, data: unknown): void;
  /** Aborting drops the request (queued) or cancels it (running). */
  signal?: AbortSignal;
}

interface Pending {
  request: WorkRequest;
  options: WorkOptions;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

export class GenerationQueue {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly cancelled = new Int32Array(new SharedArrayBuffer(4));
  private running: Pending | undefined;
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;
  backend = 'not started';
  completed = 0;

  private deadline: NodeJS.Timeout | undefined;

  /** `maxSeconds`: how long one request may run before it is cancelled (and the worker replaced, if it does not stop). */
  constructor(private readonly queueDepth: number, private readonly backendName?: string, private readonly maxSeconds = Infinity) {}

  get queued(): number {
    return this.waiting.length;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  run(operation: WorkRequest['operation'], entry: Pick<CatalogEntry, 'name' | 'dir' | 'version'>, body: unknown, options: WorkOptions = {}): Promise<unknown> {
    try {
      this.checkRoom();
      checkUpload(body);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.signal?.aborted) return Promise.reject(new HttpError(499, 'CANCELLED', 'the request was cancelled'));
    return new Promise((resolve, reject) => {
      const pending: Pending = { request: { id: this.nextId++, operation, name: entry.name, dir: entry.dir, version: entry.version, body }, options, resolve, reject };
      options.signal?.addEventListener('abort', () => this.cancel(pending), { once: true });
      this.waiting.push(pending);
      void this.pump();
    });
  }

  /** Throws the 429 (or 503) a request would get now: streams check before they answer 200. */
  checkRoom(): void {
    if (this.closed) throw new HttpError(503, 'INTERNAL', 'the server is shutting down');
    if (this.running && this.waiting.length >= this.queueDepth) {
      throw new HttpError(429, 'TOO_MANY_REQUESTS', `the generation queue is full (${this.queueDepth} waiting): try again shortly`);
    }
  }

  private cancel(pending: Pending): void {
    const index = this.waiting.indexOf(pending);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      pending.reject(new HttpError(499, 'CANCELLED', 'the request was cancelled'));
    } else if (this.running === pending) {
      Atomics.store(this.cancelled, 0, pending.request.id);
    }
  }

  private start(): Promise<void> {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { entry: workerEntry('generation-worker', import.meta.url).href, cancelled: this.cancelled.buffer, backend: this.backendName },
    });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.on('message', (message: WorkMessage) => {
        if (message.type === 'ready') {
          this.backend = message.backend;
          resolve();
          return;
        }
        const running = this.running;
        if (!running || running.request.id !== message.id) return;
        if (message.type === 'event') running.options.onEvent?.(message.event, message.data);
        else this.finish(message);
      });
      worker.on('error', (error) => {
        reject(error);
        this.failWorker(error);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.failWorker(new Error(`the generation worker stopped (exit code ${code})`));
      });
    });
  }

  private failWorker(error: Error): void {
    clearTimeout(this.deadline);
    this.worker = undefined;
    this.ready = undefined;
    const running = this.running;
    this.running = undefined;
    running?.reject(new HttpError(500, 'INTERNAL', `the generation worker failed: ${error.message.split('\n')[0]}`));
    void this.pump();
  }

  private finish(message: Extract<WorkMessage, { type: 'result' | 'error' }>): void {
    clearTimeout(this.deadline);
    const running = this.running!;
    this.running = undefined;
    this.completed += 1;
    if (message.type === 'result') running.resolve(message.result);
    else if (message.error.cancelled) running.reject(new HttpError(499, 'CANCELLED', 'the request was cancelled'));
    else running.reject(message.error.genloomCode ? Object.assign(new Error(message.error.message), { genloomCode: message.error.genloomCode }) : new HttpError(500, 'INTERNAL', message.error.message));
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running || this.waiting.length === 0 || this.closed) return;
    const next = this.waiting.shift()!;
    this.running = next;
    try {
      this.ready ??= this.start();
      await this.ready;
    } catch {
      return; // failWorker has rejected it and moved on
    }
    if (this.running !== next) return;
    Atomics.store(this.cancelled, 0, 0);
    if (next.options.signal?.aborted) {
      this.running = undefined;
      next.reject(new HttpError(499, 'CANCELLED', 'the request was cancelled'));
      void this.pump();
      return;
    }
    this.worker!.postMessage(next.request);
    if (Number.isFinite(this.maxSeconds)) this.deadline = setTimeout(() => this.overrun(next), this.maxSeconds * 1000);
  }

  /**
   * A request past its time: cancelled between steps like a client leaving, and answered with 504.
   * Operations check for cancellation between steps; one that does not within a few seconds (a
   * single long pass) loses its worker, and the next request starts a fresh one.
   */
  private overrun(pending: Pending): void {
    if (this.running !== pending) return;
    Atomics.store(this.cancelled, 0, pending.request.id);
    const timedOut = new HttpError(504, 'TIMEOUT', `the request ran past this server's limit of ${this.maxSeconds} s per request and was stopped: ask for fewer items or steps`);
    const original = pending.reject;
    pending.reject = () => original(timedOut);
    const stubborn = setTimeout(() => {
      if (this.running === pending) void this.worker?.terminate();
    }, 5000);
    stubborn.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.deadline);
    for (const pending of this.waiting.splice(0)) pending.reject(new HttpError(503, 'INTERNAL', 'the server is shutting down'));
    const worker = this.worker;
    this.worker = undefined;
    if (this.running) {
      this.running.reject(new HttpError(503, 'INTERNAL', 'the server is shutting down'));
      this.running = undefined;
    }
    await worker?.terminate();
  }
}

/**
 * An uploaded image (a request's `png`) is checked here, in the server's thread, with the checks
 * the worker's decoder makes first: a hostile header is refused in milliseconds, before a worker
 * is started or a model loaded for it (on a busy machine that took seconds).
 */
function checkUpload(body: unknown): void {
  const png = (body as { png?: unknown } | null)?.png;
  if (typeof png === 'string') checkImageBytes(Buffer.from(png, 'base64'), 'the uploaded image');
}
