/**
 * The transformer family: a GPT trained on text (kjv, or a user's file or folder) with a character
 * or BPE tokenizer; generation with sampling controls and a KV cache; attention maps; loss,
 * perplexity and bits per character.
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed } from '../../core/random.ts';
import { builtinTextDatasets, characterCount, characterTokenizer, encodeText, evaluationWindows, gatherWindows, loadTextCorpus, requireEnoughTokens, tokenizeCorpus, windowBatch, windowCount, type TokenIds } from '../../data/text-dataset.ts';
import { writeFileAtomic, makeDirectories } from '../../io/atomic.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { readTokenizer, tokenizerFile, writeTokenizer, type Tokenizer } from '../../text/tokenizer.ts';
import { createProgress } from '../../train/progress.ts';
import { stepGeometry, train } from '../../train/trainer.ts';
import type { FamilyDefinition, LoadedModel, TrainRequest, TrainSummary } from '../family.ts';
import { parseIntegerFlag, previousRun, runControls, runLength, runManifest, takeSettings, trainSummary } from '../../train/run-setup.ts';
import { parseTransformerConfig, transformerPresets, type TransformerConfig } from './config.ts';
import { generateText } from './generate.ts';
import { Gpt, type TokenBatch } from './gpt.ts';
import { buildTransformer, textModelOf, transformerBuilder } from './build.ts';
import { finetuneDpo } from '../../feedback/dpo.ts';

/** Training settings that are not part of the model's shape (kept out of its config). */
interface TextTrainingSettings {
  tokenizer: string;
  weightDecay: number;
  warmupSteps?: number;
  accumulationSteps: number;
  checkpointEvery?: number;
  validationWindows: number;
}

const trainingKeys = ['tokenizer', 'weightDecay', 'warmupSteps', 'accumulationSteps', 'checkpointEvery', 'validationWindows'] as const;

async function trainTransformer(request: TrainRequest): Promise<TrainSummary> {
  if (request.imageSize !== undefined) throw new GenloomError('BAD_ARGUMENT', '--image-size is for image models; a transformer reads text');
  const { previous, previousTraining, parent } = previousRun(request, 'transformer');
  // A fine-tune keeps its parent's network, tokenizer and training settings unless flags change them.
  const template = previous ?? parent;
  const { untieWeights, ...overrides } = request.config;
  if (untieWeights) overrides['tieWeights'] = false;
  const given = takeSettings<TextTrainingSettings>(overrides, trainingKeys);
  const settings: TextTrainingSettings = {
    tokenizer: 'char',
    weightDecay: 0.1,
    accumulationSteps: 1,
    validationWindows: 64,
    ...((template?.training['settings'] as Partial<TextTrainingSettings>) ?? {}),
    ...given,
  };
  checkSettings(settings);
  const datasetSpec = request.dataset || (previousTraining['dataset'] as string);
  const corpus = loadTextCorpus(datasetSpec);
  const tokenizer = previous ? readTokenizer(request.outDir) : parent ? readTokenizer(request.parent!) : settings.tokenizer === 'char' ? characterTokenizer(corpus) : readTokenizer(settings.tokenizer);
  const config = template
    ? parseTransformerConfig({ ...(template.config as Record<string, unknown>), ...overrides })
    : parseTransformerConfig({ ...overrides, vocabularySize: tokenizer.vocabularySize }, request.preset);
  const tokens = tokenizeCorpus(corpus, tokenizer);
  requireEnoughTokens(tokens.train, config.context, `the training split of ${datasetSpec}`);

  const seed = request.seed ?? (previousTraining['seed'] as number) ?? 0;
  const batchSize = request.batchSize ?? (previousTraining['batchSize'] as number) ?? 32;
  const learningRate = request.learningRate ?? (previousTraining['learningRate'] as number) ?? 1e-3;
  const windows = windowCount(tokens.train, config.context);
  const geometry = stepGeometry(windows, batchSize, settings.accumulationSteps);
  const { stepsPerEpoch } = geometry;
  const { epochs, totalSteps } = runLength(request, previous ? previousTraining : null, stepsPerEpoch, 1);
  const warmupSteps = settings.warmupSteps ?? Math.min(200, Math.floor(totalSteps / 10));
  const tokensPerStep = geometry.examplesPerStep * config.context;

  makeDirectories(request.outDir);
  if (!previous) writeTokenizer(request.outDir, tokenizer);
  const model = new Gpt(config, fromSeed(seed).fork('init'));
  const validationWindows = tokens.validation.length > 1 ? evaluationWindows(tokens.validation, config.context, settings.validationWindows) : [];
  const manifest = (step: number, epoch: number): CheckpointManifest =>
    runManifest('transformer', { ...config }, request, previous, {
      step,
      epoch,
      totalSteps,
      dataset: datasetSpec,
      tokenizer: tokenizer.kind,
      trainTokens: tokens.train.length,
      validationTokens: tokens.validation.length,
      tokensSeen: step * tokensPerStep,
      seed,
      epochs,
      batchSize,
      learningRate,
      schedule: 'cosine',
      settings,
    });
  try {
    const result = await train<TokenBatch>(
      { params: model.params, loss: (batch, random) => ({ total: model.crossEntropy(batch, config.dropout > 0 ? random : undefined), parts: {} }) },
      {
        ...runControls(request),
        seed,
        totalSteps,
        batchSize,
        accumulationSteps: settings.accumulationSteps,
        datasetSize: windows,
        makeBatch: (indices, random) => gatherWindows(tokens.train, indices, config.context, random),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps, minFactor: 0.1 },
        // GPT practice: decay the matrices, not the biases and LayerNorm gains.
        adam: { beta2: 0.99, weightDecay: settings.weightDecay, decays: (name) => !/(bias|Norm\.weight)$/.test(name) },
        clipNorm: 1,
        checkpointEvery: settings.checkpointEvery ?? Math.max(1, Math.min(stepsPerEpoch, 500)),
        logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
        unitsPerStep: geometry.batchSize * config.context,
        manifest,
        ...(validationWindows.length > 0 ? { validation: { run: () => meanLoss(model, tokens.validation, validationWindows), companionFiles: [tokenizerFile] } } : {}),
        afterCheckpoint: () => {
          // Started from the corpus's first token, which every vocabulary has (a newline need not be).
          const sample = generateText(model, tokenizer, tokenizer.decode([tokens.train[0]!]), { ...progressSampling, random: fromSeed('progress-sample') });
          writeFileAtomic(join(request.outDir, 'samples.txt'), `${sample.text}\n`);
        },
      },
    );
    return trainSummary(request, result);
  } finally {
    model.dispose();
  }
}

function checkSettings(settings: TextTrainingSettings): void {
  const wholeAtLeast = (value: number | undefined, min: number, flag: string) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min)) throw new GenloomError('BAD_ARGUMENT', `${flag} must be a whole number ≥ ${min}, got ${value}`);
  };
  if (!(settings.weightDecay >= 0 && settings.weightDecay < 1)) throw new GenloomError('BAD_ARGUMENT', `--weight-decay must be in [0, 1), got ${settings.weightDecay}`);
  wholeAtLeast(settings.warmupSteps, 0, '--warmup-steps');
  wholeAtLeast(settings.accumulationSteps, 1, '--accumulate');
  wholeAtLeast(settings.checkpointEvery, 1, '--checkpoint-every');
  wholeAtLeast(settings.validationWindows, 1, '--validation-windows');
}

const progressSampling = { maxTokens: 300, temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, stop: [] };

/** Mean cross-entropy in nats per predicted token over `windows` of `ids` (16 windows per forward pass). */
function meanLoss(model: Gpt, ids: TokenIds, windows: { start: number; length: number }[], onProgress?: (done: number) => void): number {
  let total = 0;
  let count = 0;
  const batchSize = 16;
  for (let first = 0; first < windows.length; first += batchSize) {
    const group = windows.slice(first, first + batchSize);
    // Full-length windows go together; the one short tail window is scored alone.
    for (const part of [group.filter((w) => w.length === model.config.context), group.filter((w) => w.length !== model.config.context)]) {
      if (part.length === 0) continue;
      const length = part[0]!.length;
      const loss = tf.tidy(() => model.crossEntropy(windowBatch(ids, part.map((window) => window.start), length)));
      total += loss.dataSync()[0]! * part.length * length;
      count += part.length * length;
      loss.dispose();
    }
    onProgress?.(Math.min(windows.length, first + batchSize));
  }
  return total / count;
}

function loadTransformer(dir: string, manifest: CheckpointManifest): LoadedModel {
  const tokenizer = readTokenizer(dir);
  const { weights } = loadCheckpoint(dir, { expectFamily: 'transformer' });
  const { network } = buildTransformer(manifest, weights, join(dir, 'model.safetensors'), tokenizer);
  return wrapGpt(network, tokenizer, manifest);
}

/** The family-neutral face of a GPT and its tokenizer, with evaluation (also used by `import gpt2`). */
export function wrapGpt(model: Gpt, tokenizer: Tokenizer, manifest: CheckpointManifest): LoadedModel {
  const config = model.config;
  return {
    family: 'transformer',
    manifest,
    text: textModelOf(model, tokenizer),
    async evaluate(options) {
      const training = manifest.training as Record<string, unknown>;
      const spec = options.dataset ?? (training['dataset'] as string | undefined);
      if (!spec) throw new GenloomError('BAD_ARGUMENT', 'this model records no dataset: give --dataset');
      // The model's own data, and a built-in corpus (whose split is fixed), are scored on their
      // held-out validation split; another --dataset on all of its text.
      const ownSplit = options.dataset === undefined || (builtinTextDatasets as readonly string[]).includes(spec);
      const corpus = loadTextCorpus(spec);
      const text = ownSplit ? corpus.validation : corpus.train + corpus.validation;
      const ids = encodeText(tokenizer, text);
      if (ids.length < 2) throw new GenloomError('BAD_ARGUMENT', `${spec} has too little text to evaluate (at least two tokens)`);
      const windows = evaluationWindows(ids, config.context);
      const progress = createProgress({ total: windows.length, label: 'eval', quiet: options.quiet });
      let loss: number;
      try {
        loss = meanLoss(model, ids, windows, (done) => progress.update(done, {}));
      } finally {
        progress.stop();
      }
      const predicted = ids.length - 1;
      const characters = characterCount(tokenizer.decode(ids.subarray(1)));
      const natsPerCharacter = (loss * predicted) / characters;
      return {
        family: 'transformer',
        dataset: spec,
        split: ownSplit ? 'validation' : 'all',
        tokenizer: tokenizer.kind,
        tokens: predicted,
        characters,
        loss: round(loss),
        perplexity: round(Math.exp(loss)),
        natsPerCharacter: round(natsPerCharacter),
        bitsPerCharacter: round(natsPerCharacter / Math.LN2),
        context: config.context,
        method: `mean cross-entropy over consecutive non-overlapping windows of ${config.context} tokens (each token predicted from the tokens before it in its window)`,
      };
    },
    dispose: () => model.dispose(),
  };
}

function round(value: number): number {
  return Number(value.toFixed(4));
}

export const transformerFamily: FamilyDefinition = {
  name: 'transformer',
  summary: 'decoder-only transformer (GPT) language model: trained on text with a char or BPE tokenizer; generates text from a prompt',
  datasets: 'kjv, a UTF-8 .txt file, or a folder of .txt/.md files',
  builtinDatasets: builtinTextDatasets,
  generates: 'text',
  capabilities: ['text', 'attention', 'in-browser'],
  finetunePreferences: finetuneDpo,
  // Token by token, with a KV cache: each new token is one pass at one position.
  generationWork: (_config, request) => ({ items: 1, passesPerItem: Number(request['maxTokens'] ?? 200), positionsPerPass: 1, what: 'continuations' }),
  presets: Object.keys(transformerPresets),
  options: [
    { flags: '--tokenizer <char|path>', description: 'char (default: one token per character of the corpus) or a tokenizer from `genloom tokenizer train`', configKey: 'tokenizer', parse: String },
    { flags: '--layers <n>', description: 'transformer blocks', configKey: 'layers', parse: parseIntegerFlag },
    { flags: '--heads <n>', description: 'attention heads per block', configKey: 'heads', parse: parseIntegerFlag },
    { flags: '--dim <n>', description: 'width of the residual stream (a multiple of --heads)', configKey: 'dim', parse: parseIntegerFlag },
    { flags: '--context <n>', description: 'the most tokens the model sees at once', configKey: 'context', parse: parseIntegerFlag },
    { flags: '--positions <kind>', description: 'learned (default) or rotary', configKey: 'positions', parse: String },
    { flags: '--dropout <p>', description: 'dropout rate while training (default 0)', configKey: 'dropout', parse: Number },
    { flags: '--untie-weights', description: 'give the output layer its own matrix instead of the transposed token embedding', configKey: 'untieWeights', parse: () => true },
    { flags: '--weight-decay <w>', description: 'AdamW decoupled weight decay on the weight matrices (default 0.1)', configKey: 'weightDecay', parse: Number },
    { flags: '--warmup-steps <n>', description: 'linear learning-rate warmup before the cosine decay (default: 10% of the steps, at most 200)', configKey: 'warmupSteps', parse: parseIntegerFlag },
    { flags: '--accumulate <n>', description: 'gradient accumulation: batches per optimizer step (default 1)', configKey: 'accumulationSteps', parse: parseIntegerFlag },
    { flags: '--checkpoint-every <n>', description: 'steps between checkpoints and validation (default: an epoch, at most 500)', configKey: 'checkpointEvery', parse: parseIntegerFlag },
    { flags: '--validation-windows <n>', description: 'validation windows scored at each checkpoint (default 64)', configKey: 'validationWindows', parse: parseIntegerFlag },
  ],
  train: trainTransformer,
  build: transformerBuilder,
  load: loadTransformer,
};

export type { TransformerConfig };
