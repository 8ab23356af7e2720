/**
 * Transformer speed, on each backend compared: the training step of nanoGPT's CPU "baby" character
 * model (4 layers, 4 heads, width 128, context 64, batch 12, vocabulary 65) with AdamW and gradient
 * clipping, as genloom's trainer takes it; the same step in PyTorch where python3 has torch
 * (bench/peers/nanogpt_baby.py, in each setting of peers.ts's peerSettings); and generation speed
 * with and without the KV cache (one sequence, 256 tokens from a one-token prompt, so the 64-token
 * window restarts).
 */
import { gradientsOf } from '../src/core/params.ts';
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { CharTokenizer } from '../src/text/char-tokenizer.ts';
import { parseTransformerConfig } from '../src/models/transformer/config.ts';
import { generateText } from '../src/models/transformer/generate.ts';
import { Gpt } from '../src/models/transformer/gpt.ts';
import { AdamW } from '../src/train/adam.ts';
import { initEngine } from '../src/core/engine.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { medianMs, stepTiming } from './timing.ts';

const vocabulary = 65;
const batchSize = 12;

/** The training step and generation speed on the backend the engine is on now. */
function measure(quick: boolean): { stepMs: number; kernels: number; cached: number; uncached: number } {
  const model = new Gpt(parseTransformerConfig({ vocabularySize: vocabulary }, 'baby'), fromSeed(1));
  const { context } = model.config;
  const optimizer = new AdamW(model.params, { beta2: 0.99, weightDecay: 0.1 });
  const random = fromSeed(2);
  const ids = () => tf.tensor2d(Int32Array.from({ length: batchSize * context }, () => random.integer(vocabulary)), [batchSize, context], 'int32');
  const batch = { inputs: ids(), targets: ids() };
  const step = () => {
    const { value, grads } = gradientsOf(model.params, () => model.crossEntropy(batch));
    optimizer.apply(grads, 1e-3, 1); // clipped to norm 1, as the trainer does
    value.dataSync();
    tf.dispose([value, grads] as tf.TensorContainer);
  };
  const { ms: stepMs, kernels } = stepTiming(step, quick ? 5 : 20, 3);
  const tokenizer = new CharTokenizer(Array.from({ length: vocabulary }, (_, i) => String.fromCodePoint(0x41 + i)));
  const tokensPerSecond = (useCache: boolean) => {
    const tokens = quick ? 64 : 256;
    const seconds = medianMs((i) => {
      generateText(model, tokenizer, 'A', { maxTokens: tokens, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, stop: [], random: fromSeed(i), useCache });
    }, quick ? 1 : 3, 1) / 1000;
    return tokens / seconds;
  };
  const cached = tokensPerSecond(true);
  const uncached = tokensPerSecond(false);
  tf.dispose([batch.inputs, batch.targets]);
  optimizer.dispose();
  model.dispose();
  return { stepMs, kernels, cached, uncached };
}

export async function benchTransformer({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const repeats = quick ? 5 : 20;
  const tokens = quick ? 64 : 256;
  const subject = 'baby GPT train step (batch 12 × 64)';
  const rows: BenchRow[] = [];
  const steps: [string, number][] = [];
  for (const backend of backends) {
    await initEngine({ backend });
    const { stepMs, kernels, cached, uncached } = measure(quick);
    steps.push([backend, stepMs]);
    rows.push(
      { name: `${backend}: ${subject}`, value: stepMs, unit: 'ms', note: `median of ${repeats}; ${kernels} kernels per step`, kind: 'step', subject, runner: backend, stepMs, kernels },
      { name: `${backend}: train throughput`, value: (batchSize * 64 * 1000) / stepMs, unit: 'tokens/s' },
      { name: `${backend}: generate with the KV cache`, value: cached, unit: 'tokens/s', note: `one sequence, ${tokens} tokens`, kind: 'generation', subject: `baby GPT generation with the KV cache (${tokens} tokens)`, runner: backend },
      { name: `${backend}: generate without it`, value: uncached, unit: 'tokens/s', note: `the cache is ${(cached / uncached).toFixed(1)}× faster` },
    );
  }
  rows.push(...pytorchStepRows('nanogpt_baby.py', (threads) => [String(threads), String(repeats)], subject, steps));
  return rows;
}
