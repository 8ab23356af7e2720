/**
 * Which models run in the page and what each needs fetched, from what the server says of the
 * model (its capabilities and files): no tfjs here, so the studio can decide before it loads the
 * (large) TensorFlow.js chunk. Which families build in the browser is src/models/builders.ts's
 * list; the registry declares the same as the 'in-browser' capability (a test keeps them equal).
 */
import { companionFiles } from '../../../src/models/builder.ts';
import type { ModelBytes } from './models.ts';

/** Whether a model runs in the page: its family declares the 'in-browser' capability. */
export function runsInBrowser(info: { capabilities?: readonly string[] }): boolean {
  return Boolean(info.capabilities?.includes('in-browser'));
}

/** The files to fetch, of those the model folder has, in order: config.json, companions (a tokenizer), the weights last (the big one). */
export function filesFor(available: readonly string[]): string[] {
  return ['config.json', ...Object.values(companionFiles).filter((file) => available.includes(file)), 'model.safetensors'];
}

/** The fetched files as the builders take them. */
export function modelBytesOf(fetched: Record<string, ArrayBuffer>): ModelBytes {
  const bytes: ModelBytes = { config: fetched['config.json']!, weights: fetched['model.safetensors']! };
  for (const [key, file] of Object.entries(companionFiles) as [keyof typeof companionFiles, string][]) {
    if (fetched[file]) bytes[key] = fetched[file];
  }
  return bytes;
}
