/**
 * Import of a GPT-2-layout checkpoint: the test writes a tiny one (random weights, a byte-level
 * vocabulary with a few merges) and checks genloom's logits against a forward pass written here
 * directly from GPT-2's definition, in float64 loops over the same weights.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../../test/fixtures.ts';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import * as tf from '../../core/tf.ts';
import { encodeSafetensors, type StoredTensor } from '../../io/safetensors.ts';
import { loadModel } from '../registry.ts';
import { importGpt2, readGpt2 } from './import-gpt2.ts';

await initEngine();

const layers = 2;
const heads = 2;
const dim = 8;
const context = 16;

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n. */
function bytesToUnicode(): string[] {
  const printable = new Set<number>();
  for (const [from, to] of [[33, 126], [161, 172], [174, 255]] as const) for (let b = from; b <= to; b++) printable.add(b);
  let extra = 0;
  return Array.from({ length: 256 }, (_, byte) => String.fromCodePoint(printable.has(byte) ? byte : 256 + extra++));
}

const byteChars = bytesToUnicode();
const space = byteChars[32]!;
const merges = [[space, 't'], [`${space}t`, 'h'], [`${space}th`, 'e'], ['t', 'h']];
const vocab = [...byteChars, ...merges.map(([a, b]) => a! + b!), '<|endoftext|>'];
const vocabularySize = vocab.length;

function tensor(random: ReturnType<typeof fromSeed>, shape: number[], scale = 0.3, offset = 0): StoredTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'F32', shape, data: Float32Array.from({ length: size }, () => offset + random.normal() * scale) };
}

function writeGpt2(dir: string): Record<string, StoredTensor> {
  mkdirSync(dir, { recursive: true });
  const random = fromSeed('gpt2-fixture');
  const weights: Record<string, StoredTensor> = {
    'wte.weight': tensor(random, [vocabularySize, dim]),
    'wpe.weight': tensor(random, [context, dim]),
    'ln_f.weight': tensor(random, [dim], 0.1, 1),
    'ln_f.bias': tensor(random, [dim], 0.1),
  };
  for (let i = 0; i < layers; i++) {
    Object.assign(weights, {
      [`h.${i}.ln_1.weight`]: tensor(random, [dim], 0.1, 1),
      [`h.${i}.ln_1.bias`]: tensor(random, [dim], 0.1),
      [`h.${i}.attn.c_attn.weight`]: tensor(random, [dim, 3 * dim]),
      [`h.${i}.attn.c_attn.bias`]: tensor(random, [3 * dim], 0.1),
      [`h.${i}.attn.c_proj.weight`]: tensor(random, [dim, dim]),
      [`h.${i}.attn.c_proj.bias`]: tensor(random, [dim], 0.1),
      [`h.${i}.ln_2.weight`]: tensor(random, [dim], 0.1, 1),
      [`h.${i}.ln_2.bias`]: tensor(random, [dim], 0.1),
      [`h.${i}.mlp.c_fc.weight`]: tensor(random, [dim, 4 * dim]),
      [`h.${i}.mlp.c_fc.bias`]: tensor(random, [4 * dim], 0.1),
      [`h.${i}.mlp.c_proj.weight`]: tensor(random, [4 * dim, dim]),
      [`h.${i}.mlp.c_proj.bias`]: tensor(random, [dim], 0.1),
      // The causal-mask buffer some exports include.
      [`h.${i}.attn.bias`]: { dtype: 'F32', shape: [1, 1, context, context], data: new Float32Array(context * context) },
    });
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(weights));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: vocabularySize, n_positions: context, n_layer: layers, n_head: heads, n_embd: dim, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' }));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(vocab.map((token, id) => [token, id]))));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.map((pair) => pair.join(' ')).join('\n')}\n`);
  return weights;
}

/** GPT-2's forward pass for one sequence, straight from its definition, in float64. */
function referenceLogits(w: Record<string, StoredTensor>, ids: number[]): number[][] {
  const headDim = dim / heads;
  const at = (name: string) => w[name]!.data;
  const linear = (x: number[], name: string, outputs: number) => {
    const weight = at(`${name}.weight`);
    const bias = at(`${name}.bias`);
    return Array.from({ length: outputs }, (_, o) => x.reduce((sum, value, i) => sum + value * weight[i * outputs + o]!, bias[o]!));
  };
  const layerNorm = (x: number[], name: string) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    return x.map((value, i) => ((value - mean) / Math.sqrt(variance + 1e-5)) * at(`${name}.weight`)[i]! + at(`${name}.bias`)[i]!);
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let h = ids.map((id, t) => Array.from({ length: dim }, (_, i) => at('wte.weight')[id * dim + i]! + at('wpe.weight')[t * dim + i]!));
  for (let l = 0; l < layers; l++) {
    const qkv = h.map((x) => linear(layerNorm(x, `h.${l}.ln_1`), `h.${l}.attn.c_attn`, 3 * dim));
    const attended = h.map((_, t) => {
      const out: number[] = [];
      for (let head = 0; head < heads; head++) {
        const q = qkv[t]!.slice(head * headDim, (head + 1) * headDim);
        const scores = Array.from({ length: t + 1 }, (_, s) => q.reduce((sum, value, i) => sum + value * qkv[s]![dim + head * headDim + i]!, 0) / Math.sqrt(headDim));
        const max = Math.max(...scores);
        const exps = scores.map((score) => Math.exp(score - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let i = 0; i < headDim; i++) out.push(exps.reduce((sum, e, s) => sum + (e / total) * qkv[s]![2 * dim + head * headDim + i]!, 0));
      }
      return out;
    });
    h = h.map((x, t) => {
      const projected = linear(attended[t]!, `h.${l}.attn.c_proj`, dim);
      return x.map((value, i) => value + projected[i]!);
    });
    h = h.map((x) => {
      const hidden = linear(layerNorm(x, `h.${l}.ln_2`), `h.${l}.mlp.c_fc`, 4 * dim).map(gelu);
      const out = linear(hidden, `h.${l}.mlp.c_proj`, dim);
      return x.map((value, i) => value + out[i]!);
    });
  }
  return h.map((x) => {
    const normed = layerNorm(x, 'ln_f');
    return Array.from({ length: vocabularySize }, (_, v) => normed.reduce((sum, value, i) => sum + value * at('wte.weight')[v * dim + i]!, 0));
  });
}

const root = tempDir();

test('an imported GPT-2-layout checkpoint reproduces the reference logits, tokenizes like GPT-2 and generates', () => {
  const source = join(root, 'gpt2');
  const weights = writeGpt2(source);
  const out = join(root, 'imported');
  importGpt2(source, out, 'test');
  const model = loadModel(out);
  const text = model.text!;
  const ids = Array.from(text.tokenizer.encode(' the theme'));
  // " the" is one merged token (id 256 + its merge's rank 2), " the" again, then the bytes "m" and "e".
  assert.deepEqual(ids, [258, 258, 109, 101]);
  assert.equal(text.tokenizer.decode(ids), ' the theme');
  const { model: gpt } = readGpt2(source);
  const logits = tf.tidy(() => gpt.forward(tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32')).arraySync()[0]!);
  const reference = referenceLogits(weights, ids);
  let largest = 0;
  reference.forEach((row, t) => row.forEach((value, v) => (largest = Math.max(largest, Math.abs(value - logits[t]![v]!)))));
  assert.ok(largest < 1e-4, `logits match the reference (largest difference ${largest})`);
  gpt.dispose();
  const sample = text.generate(' the', { maxTokens: 5, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, stop: [], random: fromSeed(1) });
  assert.equal(sample.tokens.length, 5);
  model.dispose();
});

test('a GPT-2 folder with a missing or mismatched file is refused, and nothing is written', () => {
  const source = join(root, 'broken');
  writeGpt2(source);
  const out = join(root, 'never');
  rmSync(join(source, 'merges.txt'));
  assert.throws(() => importGpt2(source, out, 'test'), /has no merges\.txt/);
  writeFileSync(join(source, 'merges.txt'), '#version: 0.2\nt h\n');
  writeFileSync(join(source, 'config.json'), JSON.stringify({ vocab_size: 999, n_positions: context, n_layer: layers, n_head: heads, n_embd: dim }));
  assert.throws(() => importGpt2(source, out, 'test'), /vocab\.json has 261 tokens but config\.json says vocab_size 999/);
  writeFileSync(join(source, 'config.json'), JSON.stringify({ vocab_size: vocabularySize, n_positions: context, n_layer: layers + 1, n_head: heads, n_embd: dim }));
  assert.throws(() => importGpt2(source, out, 'test'), /has no tensor "blocks\.2\.attentionNorm\.weight"/);
  writeFileSync(join(source, 'config.json'), JSON.stringify({ vocab_size: vocabularySize, n_positions: context, n_layer: layers, n_head: heads, n_embd: dim, activation_function: 'relu' }));
  assert.throws(() => importGpt2(source, out, 'test'), /activation relu is not supported/);
  assert.equal(existsSync(out), false, 'nothing written');
});
