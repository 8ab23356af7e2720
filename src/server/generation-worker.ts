/**
 * The generation worker: a thread that keeps recently used models loaded and runs one operation at
 * a time for the server (src/server/generation.ts). Tensor work here never blocks the HTTP thread.
 *
 * Cancelling: the server writes the id of a request it no longer wants into a shared Int32Array;
 * operations poll it between steps (messages cannot arrive while synchronous tensor code runs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../core/engine.ts';
import * as tf from '../core/tf.ts';
import type { LoadedModel } from '../models/family.ts';
import { loadModel } from '../models/registry.ts';
import { workerError } from './http-errors.ts';
import * as operations from './operations.ts';

export interface WorkRequest {
  id: number;
  operation: keyof typeof handlers;
  name: string;
  dir: string;
  /** Changes when the model's files change: a cached model of another version is reloaded. */
  version: string;
  body: unknown;
}

export type WorkMessage =
  | { id: number; type: 'event'; event: string; data: unknown }
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; error: { message: string; genloomCode?: string; cancelled?: boolean } }
  | { id: 0; type: 'ready'; backend: string };

type Handler = (model: LoadedModel, body: never, context: operations.OperationContext) => unknown;

const handlers = {
  describe: (model: LoadedModel) => operations.describe(model),
  generate: operations.generate,
  decode: operations.decode,
  latent: operations.latentsForSeed,
  encode: operations.encode,
  complete: operations.complete,
  interpolate: operations.interpolateLatents,
  'latent-map': operations.latentMap,
  attributes: operations.attributes,
  attention: operations.attention,
  search: operations.search,
  stats: () => ({}),
} satisfies Record<string, Handler>;

class Cancelled extends Error {}

const { cancelled: cancelledBuffer, backend } = workerData as { cancelled: SharedArrayBuffer; backend?: string };
const cancelled = new Int32Array(cancelledBuffer);
const loaded = new Map<string, { version: string; model: LoadedModel; bytes: number }>();
// Loaded models are kept by count and by the tensor memory they hold (a folder of big models must
// not pile up): the least recently used go first, the one just loaded always stays.
const maxLoaded = 4;
const maxLoadedBytes = 1024 * 1024 * 1024;
// Per-model results that are expensive and depend only on the model's version (latent maps).
const cachedResults = new Map<string, unknown>();

function modelFor(request: WorkRequest): LoadedModel {
  const cached = loaded.get(request.dir);
  if (cached && cached.version === request.version) {
    loaded.delete(request.dir);
    loaded.set(request.dir, cached); // most recently used last
    return cached.model;
  }
  if (cached) {
    cached.model.dispose();
    loaded.delete(request.dir);
  }
  const before = tf.memory().numBytes;
  const model = loadModel(request.dir);
  loaded.set(request.dir, { version: request.version, model, bytes: Math.max(0, tf.memory().numBytes - before) });
  const heldBytes = () => [...loaded.values()].reduce((sum, entry) => sum + entry.bytes, 0);
  while (loaded.size > 1 && (loaded.size > maxLoaded || heldBytes() > maxLoadedBytes)) {
    const [oldest, entry] = loaded.entries().next().value as [string, { model: LoadedModel }];
    entry.model.dispose();
    loaded.delete(oldest);
  }
  return model;
}

function post(message: WorkMessage): void {
  parentPort!.postMessage(message);
}

async function run(request: WorkRequest): Promise<void> {
  const context: operations.OperationContext = {
    name: request.name,
    emit: (event, data) => post({ id: request.id, type: 'event', event, data }),
    checkCancelled: () => {
      if (Atomics.load(cancelled, 0) === request.id) throw new Cancelled('cancelled');
    },
  };
  try {
    if (request.operation === 'stats') {
      post({ id: request.id, type: 'result', result: { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, loadedModels: loaded.size, loadedBytes: [...loaded.values()].reduce((sum, entry) => sum + entry.bytes, 0), heapUsed: process.memoryUsage().heapUsed } });
      return;
    }
    const cacheKey = request.operation === 'latent-map' || request.operation === 'attributes' ? `${request.operation}:${request.dir}:${request.version}:${JSON.stringify(request.body)}` : undefined;
    if (cacheKey && cachedResults.has(cacheKey)) {
      post({ id: request.id, type: 'result', result: cachedResults.get(cacheKey) });
      return;
    }
    const model = modelFor(request);
    const handler = handlers[request.operation] as Handler;
    // tf.tidy cannot wait for a promise (clips are encoded to MP4 asynchronously), so the scope is
    // opened and closed by hand; the worker runs one request at a time, so nothing else lands in it.
    tf.engine().startScope();
    let result: unknown;
    try {
      result = await handler(model, request.body as never, context);
    } finally {
      tf.engine().endScope();
    }
    if (cacheKey) {
      if (cachedResults.size > 16) cachedResults.delete(cachedResults.keys().next().value!);
      cachedResults.set(cacheKey, result);
    }
    post({ id: request.id, type: 'result', result });
  } catch (error) {
    post({ id: request.id, type: 'error', error: error instanceof Cancelled ? { message: 'cancelled', cancelled: true } : workerError(error) });
  }
}

const engine = await initEngine({ backend });
post({ id: 0, type: 'ready', backend: engine });
parentPort!.on('message', (request: WorkRequest) => void run(request));
