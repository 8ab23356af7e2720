/**
 * Imports a GPT-2-family checkpoint from a local folder (the layout of the Hugging Face `gpt2`
 * repositories: config.json, model.safetensors, vocab.json, merges.txt) into genloom's GPT and BPE
 * tokenizer, so a user who has one can generate with it and inspect its attention.
 *
 * The architectures match exactly (pre-LayerNorm blocks, fused qkv projection, GELU with the tanh
 * approximation, tied output embedding); GPT-2's Conv1D weights are already [in, out], as ours are,
 * so the import is a renaming. Everything is read and checked before anything is written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { assignStored } from '../../core/params.ts';
import { newManifest, saveCheckpoint } from '../../io/checkpoint.ts';
import { paramsToStored } from '../../core/params.ts';
import { readSafetensors, type StoredTensor } from '../../io/safetensors.ts';
import type { BpeTokenizer } from '../../text/bpe-tokenizer.ts';
import { readGpt2Tokenizer } from '../../text/gpt2-tokenizer-files.ts';
import { writeTokenizer } from '../../text/tokenizer.ts';
import { makeDirectories } from '../../io/atomic.ts';
import { parseTransformerConfig, type TransformerConfig } from './config.ts';
import { Gpt } from './gpt.ts';
import { readJsonFile } from '../../io/json-file.ts';

/** genloom's parameter name for each GPT-2 tensor name (per block where it has `{i}`). */
const blockNames: Record<string, string> = {
  'ln_1.weight': 'attentionNorm.weight',
  'ln_1.bias': 'attentionNorm.bias',
  'attn.c_attn.weight': 'attention.qkv.weight',
  'attn.c_attn.bias': 'attention.qkv.bias',
  'attn.c_proj.weight': 'attention.out.weight',
  'attn.c_proj.bias': 'attention.out.bias',
  'ln_2.weight': 'mlpNorm.weight',
  'ln_2.bias': 'mlpNorm.bias',
  'mlp.c_fc.weight': 'mlp.in.weight',
  'mlp.c_fc.bias': 'mlp.in.bias',
  'mlp.c_proj.weight': 'mlp.out.weight',
  'mlp.c_proj.bias': 'mlp.out.bias',
};

const topNames: Record<string, string> = {
  'wte.weight': 'tokenEmbedding',
  'wpe.weight': 'positionEmbedding',
  'ln_f.weight': 'finalNorm.weight',
  'ln_f.bias': 'finalNorm.bias',
};

function requireFile(dir: string, name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new GenloomError('NOT_FOUND', `${dir} has no ${name}: a GPT-2 folder needs config.json, model.safetensors, vocab.json and merges.txt`);
  return path;
}

/** The model shape from GPT-2's config.json. */
export function gpt2Config(path: string): TransformerConfig {
  const json = readJsonFile<Record<string, unknown>>(path);
  const number = (...keys: string[]) => {
    for (const key of keys) if (typeof json[key] === 'number') return json[key] as number;
    throw new GenloomError('CORRUPT_FILE', `${path} has no ${keys.join(' or ')}: is it a GPT-2 config?`);
  };
  // Options that change GPT-2's attention arithmetic, which genloom's GPT does not implement.
  if (json['scale_attn_weights'] === false || json['scale_attn_by_inverse_layer_idx'] === true) {
    throw new GenloomError('UNSUPPORTED', `${path}: scale_attn_weights=false or scale_attn_by_inverse_layer_idx=true changes the attention, which genloom's GPT does not implement`);
  }
  const activation = json['activation_function'] ?? 'gelu_new';
  if (activation !== 'gelu_new' && activation !== 'gelu_pytorch_tanh') {
    throw new GenloomError('UNSUPPORTED', `${path}: activation ${String(activation)} is not supported (genloom's GPT uses GELU with the tanh approximation, GPT-2's gelu_new)`);
  }
  return parseTransformerConfig({
    vocabularySize: number('vocab_size'),
    context: number('n_positions', 'n_ctx'),
    layers: number('n_layer'),
    heads: number('n_head'),
    dim: number('n_embd'),
    mlpRatio: json['n_inner'] == null ? 4 : (json['n_inner'] as number) / number('n_embd'),
    positions: 'learned',
    dropout: 0,
    tieWeights: true,
    bias: true,
    layerNormEpsilon: typeof json['layer_norm_epsilon'] === 'number' ? json['layer_norm_epsilon'] : 1e-5,
  });
}

/** GPT-2 tensors renamed to genloom's; buffers (attention masks) and a tied lm_head are dropped. */
export function renameGpt2Tensors(tensors: Map<string, StoredTensor>, source: string): Map<string, StoredTensor> {
  const renamed = new Map<string, StoredTensor>();
  for (const [fullName, tensor] of tensors) {
    const name = fullName.replace(/^transformer\./, '');
    if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name) || name === 'lm_head.weight') continue;
    const block = /^h\.(\d+)\.(.+)$/.exec(name);
    const ours = block ? (blockNames[block[2]!] && `blocks.${block[1]}.${blockNames[block[2]!]}`) : topNames[name];
    if (!ours) throw new GenloomError('UNSUPPORTED', `${source} has a tensor "${fullName}" that is not part of GPT-2's architecture`);
    renamed.set(ours, tensor);
  }
  const head = tensors.get('lm_head.weight');
  const embedding = renamed.get('tokenEmbedding');
  if (head && embedding && (head.data.length !== embedding.data.length || head.data.some((value, i) => value !== embedding.data[i]))) {
    throw new GenloomError('UNSUPPORTED', `${source}: lm_head.weight differs from the token embedding; genloom imports GPT-2 models with tied output weights only`);
  }
  return renamed;
}

export interface ImportedGpt2 {
  model: Gpt;
  tokenizer: BpeTokenizer;
  config: TransformerConfig;
}

/** Reads and checks a GPT-2 folder into a model in memory (nothing is written). */
export function readGpt2(dir: string): ImportedGpt2 {
  if (!existsSync(dir)) throw new GenloomError('NOT_FOUND', `no GPT-2 folder at ${dir}`);
  const configPath = requireFile(dir, 'config.json');
  const weightsPath = requireFile(dir, 'model.safetensors');
  requireFile(dir, 'vocab.json');
  requireFile(dir, 'merges.txt');
  const config = gpt2Config(configPath);
  const tokenizer = readGpt2Tokenizer(dir);
  if (tokenizer.vocabularySize !== config.vocabularySize) {
    throw new GenloomError('SHAPE_MISMATCH', `${dir}: vocab.json has ${tokenizer.vocabularySize} tokens but config.json says vocab_size ${config.vocabularySize}`);
  }
  const weights = renameGpt2Tensors(readSafetensors(weightsPath).tensors, weightsPath);
  const model = new Gpt(config, fromSeed(0));
  try {
    assignStored(model.params, weights, weightsPath);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer, config };
}

/** Imports `dir` and saves it as a genloom transformer checkpoint in `outDir`. */
export function importGpt2(dir: string, outDir: string, command: string): { config: TransformerConfig; parameters: number } {
  const { model, tokenizer, config } = readGpt2(dir);
  try {
    const manifest = newManifest('transformer', { ...config }, { step: 0, tokenizer: 'bpe', importedFrom: dir, importedFormat: 'gpt2', command });
    makeDirectories(outDir);
    writeTokenizer(outDir, tokenizer);
    const weights = paramsToStored(model.params);
    saveCheckpoint(outDir, { manifest, weights });
    return { config, parameters: Object.values(weights).reduce((sum, tensor) => sum + tensor.data.length, 0) };
  } finally {
    model.dispose();
  }
}
