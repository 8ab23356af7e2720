/**
 * Diffusion-DPO (Wallace et al. 2023): fine-tune a diffusion model from pairs of images made for
 * one prompt, one preferred over the other — the diffusion counterpart of the transformer's DPO
 * (src/feedback/dpo.ts). A diffusion model has no tractable likelihood; the paper replaces the
 * log-likelihood ratio with the denoising errors, at a shared random step t and noise ε:
 *
 *   L = −log σ(−½β · [(‖ε − ε_θ(x^w_t)‖² − ‖ε − ε_ref(x^w_t)‖²) − (‖ε − ε_θ(x^l_t)‖² − ‖ε − ε_ref(x^l_t)‖²)])
 *
 * | ours                    | paper                                                      |
 * |-------------------------|------------------------------------------------------------|
 * | chosen, rejected        | x^w_0, x^l_0 (latents, for a latent model)                  |
 * | policy / reference      | ε_θ (trained, from the parent) / ε_ref (the parent, frozen) |
 * | errors                  | per-sample mean squared error of the prediction             |
 * | beta                    | β·T·ω(λ_t) folded into one constant, as the reference code does |
 *
 * (The official code uses the same t and ε for both images of a pair and a ½ in front; so do we.)
 * The policy trains through the shared trainer and its average (EMA) is what samples, as for any
 * diffusion run; the result is an ordinary diffusion model directory that records its parent.
 */
import { join, resolve } from 'node:path';
import * as tf from '../../core/tf.ts';
import { GenloomError } from '../../core/errors.ts';
import { fromSeed, type Random } from '../../core/random.ts';
import { makeDirectories } from '../../io/atomic.ts';
import { loadCheckpoint, type CheckpointManifest } from '../../io/checkpoint.ts';
import { readImagesForModel, writeImageGrid } from '../../io/tensor-image.ts';
import { readTokenizer, writeTokenizer } from '../../text/tokenizer.ts';
import { train } from '../../train/trainer.ts';
import { previousRun, runManifest } from '../../train/run-setup.ts';
import type { PreferenceFinetuneRequest, TrainRequest, TrainSummary } from '../family.ts';
import { alphaBarAt } from '../../schedulers/noise-schedule.ts';
import { buildDiffusion } from './build.ts';
import type { Diffusion } from './diffusion.ts';

/**
 * The Diffusion-DPO loss from the four per-sample errors [B], with the implicit reward margin
 * and the share of pairs where the policy already prefers the chosen image more than the reference does.
 * @example
 * const { loss } = diffusionDpoLoss(policyWin, policyLose, referenceWin, referenceLose, 500);
 */
export function diffusionDpoLoss(
  policyWin: tf.Tensor1D,
  policyLose: tf.Tensor1D,
  referenceWin: tf.Tensor1D,
  referenceLose: tf.Tensor1D,
  beta: number,
): { loss: tf.Scalar; rewardAccuracy: tf.Scalar; rewardMargin: tf.Scalar } {
  if (!(beta > 0 && Number.isFinite(beta))) throw new GenloomError('BAD_ARGUMENT', `--beta must be a number > 0 (Diffusion-DPO uses hundreds to thousands; 500 is the default), got ${beta}`);
  return tf.tidy(() => {
    const improvement = tf.sub(tf.sub(policyWin, referenceWin), tf.sub(policyLose, referenceLose)); // < 0 when the policy denoises the chosen better
    const margin = tf.mul(improvement, -0.5 * beta);
    // −log σ(z) = softplus(−z), finite for any z.
    return {
      loss: tf.mean(tf.softplus(tf.neg(margin))) as tf.Scalar,
      rewardAccuracy: tf.mean(tf.greater(margin, 0).toFloat()) as tf.Scalar,
      rewardMargin: tf.mean(margin) as tf.Scalar,
    };
  });
}

type DiffusionDpoBatch = { win: tf.Tensor4D; lose: tf.Tensor4D; textStates?: tf.Tensor3D; textMask?: tf.Tensor2D; textPooled?: tf.Tensor2D };

/** Per-sample mean squared error of each network's prediction on the noised pair (chosen rows, then rejected). */
function pairErrors(policy: Diffusion, reference: Diffusion, batch: DiffusionDpoBatch, random: Random) {
  const count = batch.win.shape[0];
  const steps = Array.from({ length: count }, () => 1 + random.integer(policy.config.timesteps));
  const alphaBars = steps.map((t) => alphaBarAt(policy.schedule, t));
  const noise = tf.tensor4d(random.fork('noise').normalArray(batch.win.size), batch.win.shape);
  const a = tf.tensor4d(alphaBars.map(Math.sqrt), [count, 1, 1, 1]);
  const b = tf.tensor4d(alphaBars.map((value) => Math.sqrt(1 - value)), [count, 1, 1, 1]);
  const both = tf.concat([batch.win, batch.lose], 0) as tf.Tensor4D;
  const noises = tf.concat([noise, noise], 0) as tf.Tensor4D;
  const [a2, b2] = [tf.concat([a, a], 0), tf.concat([b, b], 0)];
  const noisy = tf.add(tf.mul(both, a2), tf.mul(noises, b2)) as tf.Tensor4D;
  const target = policy.config.prediction === 'v' ? tf.sub(tf.mul(noises, a2), tf.mul(both, b2)) : noises;
  const text = batch.textStates
    ? { states: tf.concat([batch.textStates, batch.textStates], 0) as tf.Tensor3D, mask: tf.concat([batch.textMask!, batch.textMask!], 0) as tf.Tensor2D, pooled: tf.concat([batch.textPooled!, batch.textPooled!], 0) as tf.Tensor2D }
    : undefined;
  const twice = [...steps, ...steps];
  const errors = (prediction: tf.Tensor4D) => tf.mean(tf.square(tf.sub(prediction, target)), [1, 2, 3]) as tf.Tensor1D;
  const policyErrors = errors(policy.unet.apply(noisy, twice, null, text));
  const referenceErrors = tf.tidy(() => errors(reference.averaged.apply(noisy, twice, null, text)));
  const half = (t: tf.Tensor1D, first: boolean) => tf.slice(t, [first ? 0 : count], [count]) as tf.Tensor1D;
  return { policyWin: half(policyErrors, true), policyLose: half(policyErrors, false), referenceWin: half(referenceErrors, true), referenceLose: half(referenceErrors, false) };
}

/**
 * Fine-tunes a diffusion model with Diffusion-DPO on the image preferences of `request.imagePairs`
 * (the feedback store's A/B choices: each pair's prompt and the two images' files).
 */
export async function finetuneDiffusionDpo(request: PreferenceFinetuneRequest): Promise<TrainSummary> {
  const pairs = request.imagePairs ?? [];
  if (pairs.length === 0) throw new GenloomError('EMPTY_DATASET', `there are no image preferences of ${request.parentDir} to train on: record A/B choices in the studio or with genloom rate --pairs`);
  const { parentDir, outDir, beta, seed, batchSize, learningRate } = request;
  const totalSteps = request.steps;
  if (!(beta > 0 && Number.isFinite(beta))) throw new GenloomError('BAD_ARGUMENT', `--beta must be a number > 0 (Diffusion-DPO uses hundreds to thousands; 500 is the default), got ${beta}`);
  const parentCheckpoint = loadCheckpoint(parentDir, { expectFamily: 'diffusion' });
  const parent = parentCheckpoint.manifest;
  const textual = parent.config['textEncoder'] !== undefined;
  const tokenizer = textual ? readTokenizer(parentDir) : undefined;
  const source = join(parentDir, 'model.safetensors');
  const policy = buildDiffusion(parent, parentCheckpoint.weights, source, {}, tokenizer).network;
  const reference = buildDiffusion(parent, parentCheckpoint.weights, source, {}, tokenizer).network;
  const trainRequest: TrainRequest = { dataset: '', outDir, seed, steps: totalSteps, batchSize, learningRate, resume: request.resume ?? false, config: {}, command: request.command, quiet: request.quiet, backend: request.backend };
  const { previous } = previousRun(trainRequest, 'diffusion');
  const parentPath = resolve(parentDir);
  if (previous && (previous.training['method'] !== 'diffusion-dpo' || (previous.parent !== undefined && previous.parent !== parentPath))) {
    throw new GenloomError('BAD_ARGUMENT', `${outDir} holds a run that is not a Diffusion-DPO fine-tune of ${parentDir}: give another --out, or drop --resume to start afresh`);
  }
  try {
    // Both images of every pair, encoded once (the policy's autoencoder is frozen, so this never changes).
    const shape: [number, number, number] = [policy.config.imageHeight, policy.config.imageWidth, policy.config.channels];
    const encode = (files: string[]) => tf.tidy(() => policy.toDenoised(readImagesForModel(files, shape)));
    const chosen = encode(pairs.map((pair) => pair.chosen));
    const rejected = encode(pairs.map((pair) => pair.rejected));
    const prompts = pairs.map((pair) => pair.prompt);
    makeDirectories(outDir);
    if (tokenizer) writeTokenizer(outDir, tokenizer);
    const manifest = (step: number, epoch: number): CheckpointManifest => {
      const written = runManifest('diffusion', { ...parent.config }, trainRequest, previous, {
        step,
        epoch,
        totalSteps,
        method: 'diffusion-dpo',
        beta,
        pairs: pairs.length,
        ...(parent.training['dataset'] !== undefined ? { dataset: parent.training['dataset'] } : {}),
        seed,
        batchSize,
        learningRate,
        schedule: 'cosine',
        ...(request.record ?? {}),
      });
      written.parent = parentPath;
      return written;
    };
    const gridPrompts = Array.from({ length: 8 }, (_, i) => prompts[i % prompts.length]!);
    const result = await train<DiffusionDpoBatch>(
      {
        params: policy.params,
        phases: [
          {
            name: 'denoiser',
            params: policy.unet.params,
            loss: (batch, random) => {
              const errors = pairErrors(policy, reference, batch, random);
              const { loss, rewardAccuracy, rewardMargin } = diffusionDpoLoss(errors.policyWin, errors.policyLose, errors.referenceWin, errors.referenceLose, beta);
              return { total: loss, parts: { rewardAccuracy, rewardMargin } };
            },
          },
        ],
        afterStep: (step) => policy.afterStep(step),
      },
      {
        outDir,
        resume: request.resume,
        shouldStop: request.shouldStop,
        handleSignals: !request.shouldStop,
        quiet: request.quiet,
        seed,
        totalSteps,
        batchSize,
        datasetSize: pairs.length,
        makeBatch: (indices) => {
          const rows = tf.tensor1d(indices, 'int32');
          const batch: DiffusionDpoBatch = { win: tf.gather(chosen, rows) as tf.Tensor4D, lose: tf.gather(rejected, rows) as tf.Tensor4D };
          rows.dispose();
          if (textual) {
            const text = policy.textContext(Array.from(indices, (index) => prompts[index]!));
            Object.assign(batch, { textStates: text.states, textMask: text.mask, textPooled: text.pooled });
          }
          return batch;
        },
        schedule: { name: 'cosine', peak: learningRate, warmupSteps: Math.min(50, Math.floor(totalSteps / 10)), minFactor: 0.1 },
        clipNorm: 1,
        checkpointEvery: Math.max(1, Math.min(totalSteps, 100)),
        logEvery: Math.max(1, Math.min(50, Math.floor(totalSteps / 20))),
        manifest,
        afterCheckpoint: () => {
          const grid = policy.sample(gridPrompts.length, fromSeed('progress-grid'), { ...(textual ? { prompts: gridPrompts } : {}), sampler: 'dpm-solver', steps: 20 });
          writeImageGrid(join(outDir, 'samples.png'), grid, 4);
          grid.dispose();
        },
      },
    );
    tf.dispose([chosen, rejected]);
    return { outDir, steps: result.step, stoppedEarly: result.stoppedEarly, last: result.last };
  } finally {
    policy.dispose();
    reference.dispose();
  }
}
