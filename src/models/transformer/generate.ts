/**
 * Text generation with a GPT: the context-window policy, the KV cache, streaming and stop strings.
 *
 * The context policy (stated once, used by both paths): the model sees at most `context` tokens. A
 * prompt longer than that keeps its last `context` tokens. When generation fills the window, it
 * restarts from the newest ⌈context/2⌉ tokens: with learned absolute positions the cached keys
 * cannot slide, so the cache is rebuilt from those tokens in one pass, and the next ⌊context/2⌋
 * tokens are cheap again. The uncached path runs the same window through the whole model at every
 * token; the two give the same logits (tested).
 */
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import type { Random } from '../../core/random.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import type { Gpt, KvCache } from './gpt.ts';
import { drawToken, nextTokenProbabilities, validateTokenSampling, type TokenSamplingOptions } from '../../sampling/token-sampling.ts';

/** The tokens a model currently sees, and (with the cache) their keys and values. */
export class ContextWindow {
  readonly tokens: number[] = [];
  /** Index in `tokens` of the first token the model sees. */
  start = 0;
  private cache: KvCache | null = null;
  private cachedEnd = 0;

  constructor(private readonly model: Gpt, private readonly useCache: boolean) {}

  /** Appends tokens; a block longer than the window keeps its newest `context` tokens, one token that overflows it restarts the window. */
  append(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.tokens.push(ids[i]!);
    const { context } = this.model.config;
    if (this.tokens.length - this.start > context) {
      this.start = this.tokens.length - (ids.length > 1 ? context : Math.ceil(context / 2));
      this.dropCache();
    }
  }

  /** Logits [vocabularySize] for the token after the last one. */
  nextLogits(): Float32Array {
    if (this.tokens.length === this.start) throw new GenloomError('BAD_ARGUMENT', 'the model needs at least one token of text to continue');
    if (!this.useCache) {
      return lastRow(() => this.model.forward(tensorOf(this.tokens.slice(this.start))));
    }
    if (!this.cache) {
      this.cache = this.model.newCache();
      this.cachedEnd = this.start;
    }
    const fresh = this.tokens.slice(this.cachedEnd);
    this.cachedEnd = this.tokens.length;
    return lastRow(() => this.model.forward(tensorOf(fresh), { cache: this.cache! }));
  }

  dispose(): void {
    this.dropCache();
  }

  private dropCache(): void {
    if (!this.cache) return;
    tf.dispose([...this.cache.keys, ...this.cache.values].filter((tensor): tensor is tf.Tensor4D => tensor !== null));
    this.cache = null;
  }
}

function tensorOf(ids: number[]): tf.Tensor2D {
  return tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32');
}

/** The last position's logits of a forward pass, as numbers (the tensors are freed). */
function lastRow(forward: () => tf.Tensor3D): Float32Array {
  const row = tf.tidy(() => {
    const logits = forward();
    const [, length, vocabulary] = logits.shape;
    return tf.slice(logits, [0, length - 1, 0], [1, 1, vocabulary]);
  });
  const values = row.dataSync() as Float32Array;
  row.dispose();
  return values;
}

export interface TextGenerationOptions extends TokenSamplingOptions {
  maxTokens: number;
  /** Generation ends before the first of these strings (which is not output). */
  stop: string[];
  random: Random;
  /** Use the KV cache (default); false re-runs the window for every token (for comparison). */
  useCache?: boolean;
  /** Receives the text as it is made, in order; joined, the chunks are the result's text. */
  onText?(text: string): void;
  /** Ends generation before the next token once aborted (the result is the text so far). */
  signal?: AbortSignal;
}

export interface TextGenerationResult {
  /** The continuation (without the prompt). */
  text: string;
  tokens: number[];
  promptTokens: number;
  /** Prompt tokens dropped because the prompt was longer than the context. */
  droppedPromptTokens: number;
  stoppedBy: 'max-tokens' | 'stop' | 'aborted';
  seconds: number;
}

export const maxGenerationTokens = 100_000;

/**
 * Continues `prompt` token by token, all at once (the CLI, the server).
 *
 * @example
 * const { text } = generateText(gpt, tokenizer, 'And God said', { maxTokens: 40, stop: [], random: fromSeed(1), temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1 });
 */
export function generateText(model: Gpt, tokenizer: Tokenizer, prompt: string, options: TextGenerationOptions): TextGenerationResult {
  const tokens = tokenLoop(model, tokenizer, prompt, options);
  let step = tokens.next();
  while (!step.done) step = tokens.next();
  return step.value;
}

/**
 * generateText with `between()` awaited after every token, so a page (or a worker) can paint the
 * text and see a stop request while it is made; `options.signal` ends it early. The same draws as
 * generateText, so the same seed gives the same text.
 *
 * @example
 * const stop = new AbortController();
 * const result = await generateTextAsync(gpt, tokenizer, 'And', { ...options, signal: stop.signal, onText: show }, () => new Promise((resolve) => setTimeout(resolve)));
 */
export async function generateTextAsync(model: Gpt, tokenizer: Tokenizer, prompt: string, options: TextGenerationOptions, between?: () => Promise<void>): Promise<TextGenerationResult> {
  const tokens = tokenLoop(model, tokenizer, prompt, options);
  let step = tokens.next();
  try {
    while (!step.done) {
      if (between) await between();
      step = tokens.next();
    }
  } finally {
    // A failed `between` ends the loop: returning runs its cleanup (the KV cache is freed).
    if (!step.done) tokens.return(undefined as never);
  }
  return step.value;
}

/**
 * The token loop, written once: it yields after every token and returns the result; generateText
 * drives it straight through, generateTextAsync awaits between tokens. Token i is drawn from
 * options.random.fork('token', i), whoever drives the loop.
 */
function* tokenLoop(model: Gpt, tokenizer: Tokenizer, prompt: string, options: TextGenerationOptions): Generator<void, TextGenerationResult, void> {
  validateTokenSampling(options);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1 || options.maxTokens > maxGenerationTokens) {
    throw new GenloomError('BAD_ARGUMENT', `max tokens must be a whole number from 1 to ${maxGenerationTokens}, got ${options.maxTokens}`);
  }
  const stops = options.stop.filter((stop) => stop.length > 0);
  const promptIds = prompt.length > 0 ? tokenizer.encode(prompt) : startTokens(tokenizer);
  const window = new ContextWindow(model, options.useCache ?? true);
  const started = performance.now();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // a generated U+FEFF is text, as in decode()
  const output = new StopStringFilter(stops, options.onText);
  const tokens: number[] = [];
  let stoppedBy: TextGenerationResult['stoppedBy'] = 'max-tokens';
  try {
    window.append(promptIds);
    const droppedPromptTokens = window.start;
    // Kept as the text grows, so the repetition penalty never rescans the whole history.
    const seen = new Set<number>(promptIds);
    for (let i = 0; i < options.maxTokens; i++) {
      if (options.signal?.aborted) {
        stoppedBy = 'aborted';
        break;
      }
      const logits = window.nextLogits();
      const token = drawToken(nextTokenProbabilities(logits, seen, options), options.random.fork('token', i));
      tokens.push(token);
      seen.add(token);
      window.append([token]);
      if (output.push(decoder.decode(tokenizer.tokenBytes(token), { stream: true }))) {
        stoppedBy = 'stop';
        break;
      }
      yield;
    }
    if (stoppedBy !== 'stop') output.finish(decoder.decode());
    return { text: output.text, tokens, promptTokens: promptIds.length, droppedPromptTokens, stoppedBy, seconds: (performance.now() - started) / 1000 };
  } finally {
    window.dispose();
  }
}

/** What an empty prompt starts from: a newline (a line or verse boundary) when the vocabulary has one. */
function startTokens(tokenizer: Tokenizer): Int32Array {
  try {
    return tokenizer.encode('\n');
  } catch {
    throw new GenloomError('BAD_ARGUMENT', 'this model has no newline token to start from: give a prompt');
  }
}

/**
 * Passes text through as it comes, except a tail that could still turn into a stop string, and ends
 * the text before the first stop string.
 */
class StopStringFilter {
  text = '';
  private pending = '';

  constructor(private readonly stops: string[], private readonly onText?: (text: string) => void) {}

  /** True when a stop string has appeared (the text then ends before it). */
  push(chunk: string): boolean {
    this.pending += chunk;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.emit(this.pending.slice(0, cut));
      this.pending = '';
      return true;
    }
    let held = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, this.pending.length); length > held; length--) {
        if (this.pending.endsWith(stop.slice(0, length))) {
          held = length;
          break;
        }
      }
    }
    this.emit(this.pending.slice(0, this.pending.length - held));
    this.pending = this.pending.slice(this.pending.length - held);
    return false;
  }

  finish(rest: string): void {
    this.emit(this.pending + rest);
    this.pending = '';
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    this.text += text;
    this.onText?.(text);
  }
}
