/**
 * What every route module of the server shares: its options and limits, the route table with its
 * OpenAPI description, the model catalog, and the hooks that run when the server closes.
 */
import type { Api } from './routes.ts';
import type { ModelCatalog } from './catalog.ts';

export interface ServerLimits {
  /** Images per generate/decode request. */
  maxImages: number;
  /** Tokens per text request. */
  maxTokens: number;
  /** Denoising steps per diffusion request, and training steps per job. */
  maxSteps: number;
  maxTrainingSteps: number;
  /** Frames of an interpolation. */
  maxFrames: number;
  /** Bars of a music request. */
  maxBars: number;
  /**
   * The most one generation request may cost, in giga multiply-adds (src/generate/cost.ts): about a
   * minute of a PixelCNN on two cores. More gets 413 with the number of items that would fit.
   */
  maxRequestGmac: number;
  /** The most parameters a training job's model may have; a bigger one fails as it starts, before anything is allocated. */
  maxJobParameters: number;
  /** Seconds one generation request may run before it is cancelled (504). */
  maxRequestSeconds: number;
  /** A JSON request body. */
  maxBodyBytes: number;
  /** An upload (all its files together). */
  maxUploadBytes: number;
  /** Seconds an upload may go without a byte arriving before it is given up (408). */
  bodyIdleSeconds: number;
  /** Seconds a whole request may take to arrive (Node's requestTimeout; checked every few seconds). */
  requestArrivalSeconds: number;
  /** Requests waiting for the generation worker beyond the one it runs; more get 429. */
  queueDepth: number;
  /** Training jobs waiting behind the running one; more get 429. */
  jobQueueDepth: number;
}

export const defaultLimits: ServerLimits = {
  maxImages: 64,
  maxTokens: 2000,
  maxSteps: 1000,
  maxTrainingSteps: 100_000,
  maxFrames: 64,
  maxBars: 64,
  maxRequestGmac: 1000,
  maxRequestSeconds: 300,
  maxJobParameters: 100_000_000,
  maxBodyBytes: 4 * 1024 * 1024,
  maxUploadBytes: 200 * 1024 * 1024,
  bodyIdleSeconds: 30,
  requestArrivalSeconds: 300,
  queueDepth: 16,
  jobQueueDepth: 4,
};

export interface ServerOptions {
  /** The folder of models the studio offers (default ./models). */
  modelsDir: string;
  /** Where training jobs write their runs and uploads land (default ./runs). */
  runsDir: string;
  /** The SQLite feedback store (default <runsDir>/feedback.db). */
  dbPath: string;
  host: string;
  port: number;
  /** Required as `Authorization: Bearer TOKEN` (or `?token=`) on every /api request when set. */
  token?: string;
  limits: ServerLimits;
  /** The built front end (web/dist); absent: the API alone. */
  webDir?: string;
  /** Tensor backend of the workers (auto, native, wasm, cpu). */
  backend?: string;
}

export interface ServerContext {
  options: ServerOptions;
  api: Api;
  catalog: ModelCatalog;
  /** Cleanup that runs when the server closes (workers, stores), in order. */
  onClose(cleanup: () => void | Promise<void>): void;
}
