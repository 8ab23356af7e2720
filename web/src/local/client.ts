/**
 * The page's side of the model worker (worker.ts): one worker for the page's lifetime, holding one
 * model; each call posts a request and resolves with the worker's answer, passing diffusion steps
 * and text pieces to callbacks as they arrive.
 */
import type { BackendName } from './backend.ts';
import type { ModelBytes } from './models.ts';
import type { GenerateMessage, LoadResult, Reply, Request, SampleMessage, SampleResult, TextDone } from './protocol.ts';

/** An error the worker reported (a GenloomError's message and code, when it was one). */
export class WorkerError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  onStep?(step: number, t: number, x: Float32Array, x0: Float32Array): void;
  onText?(text: string): void;
}

type RequestBody<T extends Request['type']> = Omit<Extract<Request, { type: T }>, 'id' | 'type'>;

export class ModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'genloom-in-browser' });
    this.worker.onmessage = (event: MessageEvent<Reply>) => this.receive(event.data);
    this.worker.onerror = (event) => {
      const error = new WorkerError(`the in-browser worker failed: ${event.message || 'it could not start'}`);
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    };
  }

  /** Chooses the backend and builds the model from its files' bytes (the previous model is freed). */
  load(name: string, bytes: ModelBytes, preferred: BackendName | 'auto'): Promise<LoadResult> {
    return this.send('load', { name, bytes, preferred }) as Promise<LoadResult>;
  }

  sample(request: SampleMessage, onStep?: Pending['onStep']): Promise<SampleResult> {
    return this.send('sample', { request }, { onStep }) as Promise<SampleResult>;
  }

  generate(request: GenerateMessage, onText: (text: string) => void): Promise<TextDone> {
    return this.send('generate', { request }, { onText }) as Promise<TextDone>;
  }

  /** Ends a running text generation (it resolves with the text so far). */
  stop(): void {
    void this.send('stop', {});
  }

  private send<T extends Request['type']>(type: T, body: RequestBody<T>, callbacks: Pick<Pending, 'onStep' | 'onText'> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...callbacks });
      this.worker.postMessage({ id, type, ...body } as Request);
    });
  }

  private receive(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if (reply.type === 'step') pending.onStep?.(reply.step, reply.t, reply.x, reply.x0);
    else if (reply.type === 'text') pending.onText?.(reply.text);
    else {
      this.pending.delete(reply.id);
      if (reply.type === 'done') pending.resolve(reply.result);
      else pending.reject(new WorkerError(reply.message, reply.code));
    }
  }
}
