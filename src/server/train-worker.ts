/**
 * One training run in a worker thread, so the server keeps answering while it trains. The main
 * thread (jobs.ts) starts it through worker-boot.mjs with a TrainRequest (minus its callbacks) and a
 * SharedArrayBuffer stop flag; it posts progress, checkpoint, then done or error, and exits.
 *
 * Stopping reads the shared flag between steps (Atomics.load, no message round trip), so a stop
 * takes effect at the next step and the trainer saves a checkpoint on its way out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../core/engine.ts';
import { GenloomError } from '../core/errors.ts';
import { limitParametersBuilt } from '../core/params.ts';
import type { TrainRequest, TrainSummary } from '../models/family.ts';
import { getFamily } from '../models/registry.ts';
import { workerError } from './http-errors.ts';

export interface TrainWorkerData {
  entry: string;
  family: string;
  request: Omit<TrainRequest, 'shouldStop' | 'onProgress' | 'onCheckpoint' | 'backend' | 'quiet'>;
  /** auto, native, wasm or cpu (the server's --backend). */
  backend?: string;
  /** The server's limit on a run's length; epochs are only turned into steps once the data is loaded. */
  maxSteps: number;
  /** The server's limit on the parameters a run's model may have (its networks and copies together). */
  maxParameters: number;
  /** Int32Array over it: index 0 becomes 1 when the run should stop. */
  stopFlag: SharedArrayBuffer;
}

export type TrainWorkerMessage =
  | { type: 'started'; backend: string }
  | { type: 'progress'; step: number; totalSteps: number; values: Record<string, number>; unitsPerSecond?: number }
  | { type: 'checkpoint'; step: number }
  | { type: 'done'; summary: TrainSummary }
  | { type: 'error'; message: string; genloomCode?: string };

/** Progress is posted at most this often (and always for the last step): a tiny model makes hundreds of steps a second. */
const progressIntervalMs = 200;

async function run(data: TrainWorkerData, post: (message: TrainWorkerMessage) => void): Promise<void> {
  const stopFlag = new Int32Array(data.stopFlag);
  const family = getFamily(data.family);
  limitParametersBuilt(data.maxParameters, (built, name, shape) =>
    `this job's model would have more than ${built.toLocaleString('en-US')} parameters (at "${name}", shape [${shape.join(', ')}]); the server trains models of up to ${data.maxParameters.toLocaleString('en-US')} (genloom serve --max-parameters): choose a smaller preset or config`);
  const backend = await initEngine({ backend: data.backend });
  post({ type: 'started', backend });
  let lastPosted = 0;
  const summary = await family.train({
    ...data.request,
    backend,
    quiet: true,
    shouldStop: () => Atomics.load(stopFlag, 0) === 1,
    onProgress(step, totalSteps, values, unitsPerSecond) {
      if (totalSteps > data.maxSteps) {
        throw new GenloomError('BAD_ARGUMENT', `this run would take ${totalSteps} steps; the server allows at most ${data.maxSteps}: ask for fewer epochs or steps`);
      }
      const now = performance.now();
      if (step < totalSteps && now - lastPosted < progressIntervalMs) return;
      lastPosted = now;
      post({ type: 'progress', step, totalSteps, values, ...(unitsPerSecond !== undefined ? { unitsPerSecond } : {}) });
    },
    onCheckpoint: (step) => post({ type: 'checkpoint', step }),
  });
  post({ type: 'done', summary });
}

if (parentPort) {
  const port = parentPort;
  const post = (message: TrainWorkerMessage) => port.postMessage(message);
  try {
    await run(workerData as TrainWorkerData, post);
  } catch (error) {
    post({ type: 'error', ...workerError(error) });
  }
}
