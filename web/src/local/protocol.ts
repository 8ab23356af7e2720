/**
 * The messages between the page and the worker that runs the model (worker.ts). Every request
 * carries an id; the worker answers it with one `done` or `error`, and before that, for sampling and
 * text, any number of `step` or `text` messages with the same id.
 */
import type { BackendChoice, BackendName } from './backend.ts';
import type { ModelBytes } from './models.ts';

/**
 * What the page needs to know of a loaded model to offer its controls (functions stay in the
 * worker). Read from the model and its family's declaration, never from the family's name.
 */
export type ModelDescription =
  | {
      kind: 'images';
      family: string;
      imageShape: [number, number, number];
      labelNames?: string[];
      conditional: boolean;
      /** Families with a choice of samplers (diffusion): each, with its default number of steps. */
      samplers?: { name: string; defaultSteps: number }[];
      defaultSampler?: string;
      defaultGuidance?: number;
      /** Conditional models read prompts such as "a handwritten seven"; text-to-image models read any text. */
      prompts: boolean;
      /** Text-to-image models: prompts are free text, read up to this many tokens. */
      textConditioning?: { contextTokens: number };
    }
  | { kind: 'text'; family: string; context: number; vocabularySize: number };

export interface SampleMessage {
  seed: number;
  count: number;
  label?: number;
  /** Diffusion: a prompt naming the label (read in the worker; overrides `label`), or a text-to-image model's free text. */
  prompt?: string;
  /** Text-to-image models: what guidance steers away from. */
  negativePrompt?: string;
  truncation?: number;
  sampler?: string;
  steps?: number;
  guidance?: number;
  /** Send every denoising step (x_t and the x0 estimate) as it is made. */
  recordSteps?: boolean;
}

export interface GenerateMessage {
  seed: number;
  prompt: string;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
}

export type Request =
  | { id: number; type: 'load'; name: string; bytes: ModelBytes; preferred: BackendName | 'auto' }
  | { id: number; type: 'sample'; request: SampleMessage }
  | { id: number; type: 'generate'; request: GenerateMessage }
  | { id: number; type: 'stop' };

export type Reply =
  | { id: number; type: 'done'; result: LoadResult | SampleResult | TextDone }
  | { id: number; type: 'error'; message: string; code?: string }
  | { id: number; type: 'step'; step: number; t: number; x: Float32Array; x0: Float32Array }
  | { id: number; type: 'text'; text: string };

export interface LoadResult {
  backend: BackendChoice;
  model: ModelDescription;
  buildSeconds: number;
}

export interface SampleResult {
  /** [count, H, W, C] in [0, 1]. */
  data: Float32Array;
  /** The label every image has (given, or read from the prompt); undefined when drawn per image. */
  label?: number;
  /** Seconds the worker spent (sampling and reading back). */
  seconds: number;
}

export interface TextDone {
  text: string;
  tokens: number;
  seconds: number;
  stopped: boolean;
}
