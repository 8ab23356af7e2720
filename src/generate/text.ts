/**
 * Text from a language model: a prompt continued token by token, streamed through `onText`.
 */
import { GenloomError } from '../core/errors.ts';
import type { LoadedModel } from '../models/family.ts';
import type { TextGenerationResult } from '../models/transformer/generate.ts';
import { defaultTokenSampling, validateTokenSampling, type TokenSamplingOptions } from '../sampling/token-sampling.ts';
import { checkGenerationFields } from './fields.ts';
import type { GenerationOptions } from './images.ts';
import { generationRandom } from './seeds.ts';

export interface TextRequest extends Partial<TokenSamplingOptions> {
  seed: number;
  /** Default: a new line (the model starts a text of its own). */
  prompt?: string;
  maxTokens: number;
  /** Generation ends before the first of these strings. */
  stop?: string[];
}

export interface GeneratedText extends TextGenerationResult {
  prompt: string;
  tokensPerSecond: number;
}

/** The sampling settings a request asks for, over the defaults, checked. */
export function tokenSamplingOf(request: Partial<TokenSamplingOptions>, defaults: TokenSamplingOptions = defaultTokenSampling): TokenSamplingOptions {
  const sampling = {
    temperature: request.temperature ?? defaults.temperature,
    topK: request.topK ?? defaults.topK,
    topP: request.topP ?? defaults.topP,
    repetitionPenalty: request.repetitionPenalty ?? defaults.repetitionPenalty,
  };
  validateTokenSampling(sampling);
  return sampling;
}

/**
 * Continues `prompt`; the same request gives the same text.
 *
 * @example
 * const model = loadModel('models/transformer-kjv');
 * const result = generateText(model, { seed: 1, prompt: 'And it came to pass', maxTokens: 200, temperature: 0.8 }, { onText: (chunk) => process.stdout.write(chunk) });
 */
export function generateText(model: LoadedModel, request: TextRequest, options: GenerationOptions & { onText?(chunk: string): void } = {}): GeneratedText {
  const name = options.name ?? 'the model';
  checkGenerationFields(model, name, request);
  if (!model.text) throw new GenloomError('UNSUPPORTED', `${name} is a ${model.family} model, which does not write text`);
  const sampling = tokenSamplingOf(request);
  const prompt = request.prompt ?? '\n';
  model.text.tokenizer.encode(prompt); // a prompt the tokenizer cannot read fails before anything streams
  const { signal, onText } = options;
  const result = model.text.generate(prompt, {
    ...sampling,
    maxTokens: request.maxTokens,
    stop: request.stop ?? [],
    random: generationRandom(request.seed, 'text'),
    onText: (chunk) => {
      signal?.throwIfAborted();
      onText?.(chunk);
    },
  });
  return { ...result, prompt, tokensPerSecond: result.seconds > 0 ? result.tokens.length / result.seconds : 0 };
}
