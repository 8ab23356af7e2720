/**
 * Direct Preference Optimization (Rafailov et al. 2023) for the transformer family: fine-tune a GPT
 * from pairs of continuations of one prompt, one preferred over the other, with no reward model and
 * no sampling during training. The policy is pushed to raise the chosen continuation's likelihood
 * relative to the rejected one's, measured against a frozen reference (the parent), so it cannot
 * win by moving far from what the parent already said.
 *
 * Our names and the paper's symbols:
 *   prompt, chosen, rejected            x, y_w, y_l
 *   the policy (the GPT we train)       π_θ, initialised from the parent
 *   the reference (the parent, frozen)  π_ref
 *   completionLogProbs                  log π(y | x) = Σ_t log π(y_t | x, y_<t), over y's tokens only
 *   beta                                β
 *   chosen / rejected reward            r̂(x, y) = β (log π_θ(y | x) − log π_ref(y | x))
 *   dpoLoss                             L = −E log σ(r̂(x, y_w) − r̂(x, y_l))
 *
 * Training runs through the shared trainer (progress, metrics.jsonl, loss.png, atomic checkpoints,
 * --resume); the result is an ordinary transformer model directory that records its parent.
 */
import { join, resolve } from 'node:path';
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import { assignStored } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';
import { loadCheckpoint, type CheckpointManifest } from '../io/checkpoint.ts';
import type { PreferenceFinetuneRequest, PreferencePair, TrainRequest, TrainSummary } from '../models/family.ts';
import { previousRun, runManifest } from '../train/run-setup.ts';
import { parseTransformerConfig } from '../models/transformer/config.ts';
import { generateText } from '../models/transformer/generate.ts';
import { Gpt } from '../models/transformer/gpt.ts';
import { readTokenizer, writeTokenizer, type Tokenizer } from '../text/tokenizer.ts';
import { createProgress } from '../train/progress.ts';
import { train } from '../train/trainer.ts';

export type { PreferencePair };

/** Rows of prompt + completion ids, and which predictions belong to the completion. */
export interface CompletionBatch {
  /** int32 [B, T]: each row's prompt ids then completion ids, right-padded with 0. */
  tokens: tf.Tensor2D;
  /** int32 [B, T − 1]: the token each position predicts (tokens shifted left by one). */
  targets: tf.Tensor2D;
  /** float32 [B, T − 1]: 1 where the target is a completion token; 0 for prompt and padding. */
  mask: tf.Tensor2D;
}

/**
 * Encodes prompt and completion separately and joins their ids, so the boundary between them is
 * exact (a BPE merge never straddles it). A row holds at most `context + 1` tokens: the model reads
 * the first `context` and predicts the last. A longer row keeps its end: prompt tokens go first from
 * the left, then, for a completion longer than the window on its own, its earliest tokens (the first
 * token kept is then not scored: nothing before it is left to predict it from).
 * @example
 * const batch = completionBatch(tokenizer, 128, [{ prompt: 'In the beginning ', completion: 'God' }]);
 */
export function completionBatch(tokenizer: Tokenizer, context: number, items: { prompt: string; completion: string }[]): CompletionBatch {
  if (items.length === 0) throw new GenloomError('BAD_ARGUMENT', 'there are no completions to score');
  const rows = items.map((item, i) => {
    if (item.prompt.length === 0) {
      throw new GenloomError('BAD_ARGUMENT', `completion ${i + 1} has an empty prompt: give at least one character of prompt (a newline will do) for its first token to be predicted from`);
    }
    const prompt = tokenizer.encode(item.prompt);
    const completion = tokenizer.encode(item.completion);
    if (completion.length === 0) throw new GenloomError('BAD_ARGUMENT', `completion ${i + 1} is empty: a preference needs some text to score`);
    const dropped = Math.max(0, prompt.length + completion.length - (context + 1));
    const ids = new Int32Array(prompt.length + completion.length);
    ids.set(prompt);
    ids.set(completion, prompt.length);
    // Target j is kept token j + 1; it is a completion token when j + 1 ≥ the completion's start.
    return { ids: ids.subarray(dropped), firstScored: Math.max(0, prompt.length - dropped - 1) };
  });
  const length = Math.max(...rows.map((row) => row.ids.length));
  const tokens = new Int32Array(rows.length * length);
  const targets = new Int32Array(rows.length * (length - 1));
  const mask = new Float32Array(rows.length * (length - 1));
  rows.forEach((row, r) => {
    tokens.set(row.ids, r * length);
    targets.set(row.ids.subarray(1), r * (length - 1));
    mask.fill(1, r * (length - 1) + row.firstScored, r * (length - 1) + row.ids.length - 1);
  });
  return {
    tokens: tf.tensor2d(tokens, [rows.length, length], 'int32'),
    targets: tf.tensor2d(targets, [rows.length, length - 1], 'int32'),
    mask: tf.tensor2d(mask, [rows.length, length - 1]),
  };
}

type CustomGradient = Parameters<typeof tf.customGrad>[0];

/**
 * log softmax(logits)[target] per row: logits [N, V], targets [N] → [N]. Backward: (onehot −
 * softmax)·dy, written out as the family's crossEntropy is, so autograd records fewer kernels.
 */
function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const vocabulary = logits.shape[1];
  const pick = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const logProbabilities = tf.logSoftmax(input);
    const onehot = tf.oneHot(targets, vocabulary);
    save([logProbabilities, onehot]);
    return {
      value: tf.sum(logProbabilities.mul(onehot), 1),
      gradFunc: (dy: tf.Tensor, [savedLogProbabilities, savedOnehot]: tf.Tensor[]) => [savedOnehot!.sub(tf.exp(savedLogProbabilities!)).mul(dy.expandDims(1))],
    };
  }) as unknown as CustomGradient);
  return (pick as (input: tf.Tensor) => tf.Tensor)(logits) as tf.Tensor1D;
}

/**
 * Sum over completion tokens of log p(token | everything before it), per row: [B]. Prompt and
 * padding tokens are excluded. Padding is on the right and attention is causal, so a row's value
 * does not depend on what it was batched with.
 * @example
 * const logProbs = completionLogProbs(model, completionBatch(tokenizer, model.config.context, items));
 */
export function completionLogProbs(model: Gpt, batch: CompletionBatch): tf.Tensor1D {
  return tf.tidy(() => {
    const [rows, length] = batch.tokens.shape;
    const inputs = tf.slice(batch.tokens, [0, 0], [rows, length - 1]);
    // Evaluated without dropout, as the reference is: DPO's log-ratios compare like with like.
    const logits = model.forward(inputs); // [B, T − 1, V]
    const perToken = tokenLogProbs(logits.reshape([rows * (length - 1), model.config.vocabularySize]), batch.targets.reshape([-1])); // [B·(T − 1)]
    return perToken.reshape([rows, length - 1]).mul(batch.mask).sum(1) as tf.Tensor1D;
  });
}

/**
 * The DPO loss, −mean log σ(β[(πc − rc) − (πr − rr)]) over the rows, with the implicit rewards'
 * accuracy (the share of rows where the chosen reward beats the rejected one) and mean margin
 * (chosen reward − rejected reward). All four inputs are [B] sequence log-probs.
 * @example
 * const { loss } = dpoLoss(policyChosen, policyRejected, referenceChosen, referenceRejected, 0.1);
 */
export function dpoLoss(
  policyChosen: tf.Tensor1D,
  policyRejected: tf.Tensor1D,
  referenceChosen: tf.Tensor1D,
  referenceRejected: tf.Tensor1D,
  beta: number,
): { loss: tf.Scalar; rewardAccuracy: tf.Scalar; rewardMargin: tf.Scalar } {
  checkBeta(beta);
  return tf.tidy(() => {
    const chosenReward = policyChosen.sub(referenceChosen).mul(beta); // r̂(x, y_w)
    const rejectedReward = policyRejected.sub(referenceRejected).mul(beta); // r̂(x, y_l)
    const margin = chosenReward.sub(rejectedReward);
    // −log σ(z) = softplus(−z): finite for any z, where log(sigmoid(z)) underflows for z ≪ 0.
    const loss = tf.softplus(tf.neg(margin)).mean() as tf.Scalar;
    const rewardAccuracy = tf.greater(margin, 0).cast('float32').mean() as tf.Scalar;
    const rewardMargin = margin.mean() as tf.Scalar;
    return { loss, rewardAccuracy, rewardMargin };
  });
}

/** What DPO is asked (the family contract's preference fine-tune request; `parentDir` is a transformer model). */
export type DpoOptions = PreferenceFinetuneRequest;

/** What every family's train() returns; `last` holds loss, rewardAccuracy and rewardMargin. */
export type DpoResult = TrainSummary;

/** What one training step sees: chosen rows then rejected rows, and the reference's log-probs. */
type DpoBatch = {
  tokens: tf.Tensor2D;
  targets: tf.Tensor2D;
  mask: tf.Tensor2D;
  referenceChosen: tf.Tensor1D;
  referenceRejected: tf.Tensor1D;
};

/** Fields of the training record DPO writes itself; `record` may not replace them. */
const ownFields = ['step', 'epoch', 'totalSteps', 'method', 'beta', 'pairs', 'dataset', 'tokenizer', 'seed', 'batchSize', 'learningRate', 'schedule', 'warmupSteps', 'weightDecay', 'backend', 'command', 'resumedWith'];

/**
 * Fine-tunes a transformer with DPO on preference pairs and writes a model directory (config.json
 * with `parent` and a training record of method "dpo", model.safetensors, tokenizer.json,
 * metrics.jsonl, loss.png, samples.txt) that `loadModel` loads like any other.
 * @example
 * await finetuneDpo({ parentDir: 'models/transformer-kjv', pairs, outDir: 'runs/kjv-dpo', beta: 0.1,
 *   steps: 200, batchSize: 8, learningRate: 1e-5, seed: 0, command, backend, quiet: false });
 */
export async function finetuneDpo(options: DpoOptions): Promise<DpoResult> {
  const { pairs, beta, parentDir, outDir } = options;
  checkOptions(options);
  const parentCheckpoint = loadCheckpoint(parentDir, { expectFamily: 'transformer' });
  const parent = parentCheckpoint.manifest;
  const config = parseTransformerConfig(parent.config);
  const tokenizer = readTokenizer(parentDir);
  if (tokenizer.vocabularySize !== config.vocabularySize) {
    throw new GenloomError('SHAPE_MISMATCH', `${parentDir}: the tokenizer has ${tokenizer.vocabularySize} tokens but the model was built for ${config.vocabularySize}`);
  }
  checkEncodable(tokenizer, pairs);
  const request: TrainRequest = {
    dataset: '',
    outDir,
    seed: options.seed,
    steps: options.steps,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    resume: options.resume ?? false,
    config: {},
    command: options.command,
    quiet: options.quiet,
    backend: options.backend,
  };
  const { previous } = previousRun(request, 'transformer');
  const parentPath = resolve(parentDir);
  if (previous && (previous.training['method'] !== 'dpo' || (previous.parent !== undefined && previous.parent !== parentPath))) {
    throw new GenloomError('BAD_ARGUMENT', `${outDir} holds a run that is not a DPO fine-tune of ${parentDir}: give another --out, or drop --resume to start afresh`);
  }

  const { steps: totalSteps, batchSize, learningRate, seed } = options;
  const warmupSteps = Math.min(50, Math.floor(totalSteps / 10));
  // The family's AdamW; weight decay as the parent was trained with (it pulls toward 0, not toward
  // the parent, but over a short fine-tune at a small rate it is slight).
  const parentSettings = (parent.training['settings'] ?? {}) as { weightDecay?: number };
  const weightDecay = parentSettings.weightDecay ?? 0.1;
  const context = config.context;
  const rowsOf = (indices: ArrayLike<number>) => {
    const chosen = Array.from(indices, (index) => ({ prompt: pairs[index]!.prompt, completion: pairs[index]!.chosen }));
    const rejected = Array.from(indices, (index) => ({ prompt: pairs[index]!.prompt, completion: pairs[index]!.rejected }));
    // Chosen and rejected rows in one batch: one forward pass of 2B rows instead of two of B.
    return completionBatch(tokenizer, context, [...chosen, ...rejected]);
  };

  // Initialised from the parent below; the seed of its discarded random init does not matter.
  const model = new Gpt(config, fromSeed(0));
  try {
    assignStored(model.params, parentCheckpoint.weights, join(parentDir, 'model.safetensors'));
    // The reference π_ref is the parent and never changes, so its log-probs for every pair are
    // computed once here, before the policy's first update (the policy still holds the parent's
    // weights; a --resume loads its own only inside train()), and kept as plain numbers: no second
    // network in memory and no reference forward pass per step.
    const reference = referenceLogProbs(model, pairs, rowsOf, batchSize, options.quiet);
    makeDirectories(outDir);
    writeTokenizer(outDir, tokenizer);

    const manifest = (step: number, epoch: number): CheckpointManifest => {
      const written = runManifest('transformer', { ...config }, request, previous, {
        step,
        epoch,
        totalSteps,
        method: 'dpo',
        beta,
        pairs: pairs.length,
        // What `genloom eval` measures by default: the parent's text, so parent and child compare.
        ...(parent.training['dataset'] !== undefined ? { dataset: parent.training['dataset'] } : {}),
        tokenizer: tokenizer.kind,
        seed,
        batchSize,
        learningRate,
        schedule: 'cosine',
        warmupSteps,
        weightDecay,
        ...(options.record ?? {}),
      });
      written.parent = parentPath;
      return written;
    };
    const samplePrompt = pairs[0]!.prompt;
    const result = await train<DpoBatch>(
      {
        params: model.params,
        loss: (batch) => {
          const count = batch.referenceChosen.shape[0];
          const logProbs = completionLogProbs(model, batch); // [2B]: chosen rows, then rejected rows
          const { loss, rewardAccuracy, rewardMargin } = dpoLoss(
            tf.slice(logProbs, [0], [count]),
            tf.slice(logProbs, [count], [count]),
            batch.referenceChosen,
            batch.referenceRejected,
            beta,
          );
          return { total: loss, parts: { rewardAccuracy, rewardMargin } };
        },
      },
      {
        outDir,
        resume: options.resume,
        shouldStop: options.shouldStop,
        // Tests stop runs themselves; a user's Ctrl-C is handled by the trainer.
        handleSignals: !options.shouldStop,
        quiet: options.quiet,
        seed,
        totalSteps,
        batchSize,
        datasetSize: pairs.length,
        makeBatch: (indices) => ({
          ...rowsOf(indices),
          referenceChosen: tf.tensor1d(Float32Array.from(indices, (index) => reference.chosen[index]!)),
          referenceRejected: tf.tensor1d(Float32Array.from(indices, (index) => reference.rejected[index]!)),
        }),
        schedule: { name: 'cosine', peak: learningRate, warmupSteps, minFactor: 0.1 },
        adam: { beta2: 0.99, weightDecay, decays: (name) => !/(bias|Norm\.weight)$/.test(name) },
        clipNorm: 1,
        checkpointEvery: Math.max(1, Math.min(totalSteps, 200)),
        logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
        manifest,
        afterCheckpoint: () => {
          const sample = generateText(model, tokenizer, samplePrompt, { ...sampleSettings, random: fromSeed('progress-sample') });
          writeFileAtomic(join(outDir, 'samples.txt'), `${samplePrompt}${sample.text}\n`);
        },
      },
    );
    return { outDir, steps: result.step, stoppedEarly: result.stoppedEarly, last: result.last };
  } finally {
    model.dispose();
  }
}

const sampleSettings = { maxTokens: 200, temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, stop: [] };

/** log π_ref(chosen | prompt) and log π_ref(rejected | prompt) of every pair, `batchSize` pairs per pass. */
function referenceLogProbs(
  model: Gpt,
  pairs: PreferencePair[],
  rowsOf: (indices: ArrayLike<number>) => CompletionBatch,
  batchSize: number,
  quiet: boolean,
): { chosen: Float32Array; rejected: Float32Array } {
  const chosen = new Float32Array(pairs.length);
  const rejected = new Float32Array(pairs.length);
  const progress = createProgress({ total: pairs.length, label: 'reference', quiet });
  try {
    for (let first = 0; first < pairs.length; first += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, pairs.length - first) }, (_, k) => first + k);
      const values = tf.tidy(() => completionLogProbs(model, rowsOf(indices)).dataSync() as Float32Array);
      chosen.set(values.subarray(0, indices.length), first);
      rejected.set(values.subarray(indices.length), first);
      progress.update(first + indices.length, {});
    }
  } finally {
    progress.stop();
  }
  return { chosen, rejected };
}

function checkBeta(beta: number): void {
  if (!(beta > 0 && Number.isFinite(beta))) throw new GenloomError('BAD_ARGUMENT', `--beta must be a number > 0 (0.1 is usual), got ${beta}`);
}

function checkOptions(options: DpoOptions): void {
  if (options.pairs.length === 0) throw new GenloomError('EMPTY_DATASET', 'there are no preference pairs to train on: DPO needs at least one (prompt, chosen, rejected)');
  options.pairs.forEach((pair, i) => {
    if (pair.chosen === pair.rejected) {
      throw new GenloomError('BAD_ARGUMENT', `preference pair ${i + 1} has the same chosen and rejected text: DPO learns from the difference between them`);
    }
  });
  checkBeta(options.beta);
  const wholeAtLeastOne = (value: number, flag: string) => {
    if (!(Number.isInteger(value) && value >= 1)) throw new GenloomError('BAD_ARGUMENT', `${flag} must be a whole number ≥ 1, got ${value}`);
  };
  wholeAtLeastOne(options.steps, '--steps');
  wholeAtLeastOne(options.batchSize, '--batch-size');
  if (!(options.learningRate > 0 && Number.isFinite(options.learningRate))) throw new GenloomError('BAD_ARGUMENT', `--lr must be a number > 0, got ${options.learningRate}`);
  const clashes = Object.keys(options.record ?? {}).filter((key) => ownFields.includes(key));
  if (clashes.length > 0) throw new GenloomError('BAD_ARGUMENT', `the extra training record may not replace DPO's own fields (${clashes.join(', ')})`);
}

/** Every pair's texts in the parent's vocabulary, named by pair, before any work is done. */
function checkEncodable(tokenizer: Tokenizer, pairs: PreferencePair[]): void {
  pairs.forEach((pair, i) => {
    for (const field of ['prompt', 'chosen', 'rejected'] as const) {
      if (pair[field].length === 0) {
        const hint = field === 'prompt' ? ' (its first token is predicted from it; a newline will do)' : '';
        throw new GenloomError('BAD_ARGUMENT', `preference pair ${i + 1} has an empty ${field}${hint}`);
      }
      try {
        tokenizer.encode(pair[field]);
      } catch (error) {
        if (error instanceof GenloomError) throw new GenloomError(error.code, `preference pair ${i + 1}, ${field}: ${error.message}`);
        throw error;
      }
    }
  });
}
