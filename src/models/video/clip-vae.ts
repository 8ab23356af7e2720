/**
 * The video family's first design (`design: 'frame-vae'`): a per-frame conditional VAE plus a
 * recurrent prior over its latents. The layered design (layered.ts) replaced it as the default.
 *
 * Why this shape: a space-time diffusion model over 16×64×64 clips is far beyond a 2-core CPU, but a
 * frame VAE trains on frames (cheap 2-D convolutions) and the sequence model only sees 16-number
 * latents, so both fit, and frame size, clip length and widths scale by config.
 *
 *   frame CVAE   q(z_t | x_t) = N(μ, σ²) from a conv encoder; p(x_t | z_t, c) a conv decoder whose
 *                input is z_t and the digits c (one one-hot per digit slot). The digits' identity
 *                comes from c, so z_t only has to carry where they are and how they are written:
 *                the clip shows the digits it was asked for by construction.
 *   prior        a GRU reads [z_{t−1} (0 at t = 0), c] and gives N(μ_t, σ_t²) over z_t, trained by
 *                its Gaussian NLL of the encoder's posterior means (gradient stopped, so the prior
 *                follows the frame model rather than pulling it).
 *   generation   roll the GRU out, z_t = μ_t + τ·σ_t·ε, decode every z_t with c.
 *
 * Frames are modelled as Bernoulli with the grey level as the target (cross-entropy against soft
 * targets): moving-MNIST frames are nearly binary, and the loss stays in nats per frame.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { addDense, addDownConv, addUpConv, dense, denseUpConvDecoder, downConv } from '../../layers/dense-conv.ts';
import { gruCell, gruSequence } from '../../layers/recurrent.ts';
import type { FrameVaeConfig } from './config.ts';

const halfLogTwoPi = 0.5 * Math.log(2 * Math.PI);

/** frames [B, T, H, W, 1] in [0, 1]; condition [B, digitsPerClip · classes] one-hots. */
export type ClipBatch = { frames: tf.Tensor5D; condition: tf.Tensor2D; [name: string]: tf.Tensor };

export class ClipVae {
  readonly params: Params;
  private readonly bottleneck: [number, number, number];

  constructor(readonly config: FrameVaeConfig, random: Random) {
    const { frameSize, convChannels, hiddenUnits, latentDim, dynamicsUnits } = config;
    const last = convChannels[convChannels.length - 1]!;
    const side = frameSize / 2 ** convChannels.length;
    this.bottleneck = [side, side, last];
    const flat = side * side * last;
    const conditionDim = this.conditionDim;
    const builder = new ParamBuilder(random);
    convChannels.forEach((out, i) => addDownConv(builder, `encoder.conv${i}`, i === 0 ? 1 : convChannels[i - 1]!, out));
    addDense(builder, 'encoder.hidden', flat, hiddenUnits);
    addDense(builder, 'encoder.out', hiddenUnits, 2 * latentDim, 0.1);
    addDense(builder, 'decoder.hidden', latentDim + conditionDim, hiddenUnits);
    addDense(builder, 'decoder.project', hiddenUnits, flat);
    const reversed = [...convChannels].reverse();
    reversed.forEach((inChannels, i) => addUpConv(builder, `decoder.deconv${i}`, inChannels, i === reversed.length - 1 ? 1 : reversed[i + 1]!, i === reversed.length - 1 ? 1 : undefined));
    addDense(builder, 'prior.input', latentDim + conditionDim, 3 * dynamicsUnits);
    builder.weight('prior.recurrent', [dynamicsUnits, 3 * dynamicsUnits], dynamicsUnits, 1);
    builder.constant('prior.recurrentBias', [3 * dynamicsUnits]);
    addDense(builder, 'prior.out', dynamicsUnits, 2 * latentDim, 0.1);
    this.params = builder.params;
  }

  get conditionDim(): number {
    return this.config.digitsPerClip * this.config.classes;
  }

  /** The one-hot condition [B, digitsPerClip · classes] of each clip's digits (row-major, B · digitsPerClip). */
  condition(digits: ArrayLike<number>): tf.Tensor2D {
    const { digitsPerClip, classes } = this.config;
    const clips = digits.length / digitsPerClip;
    const values = new Float32Array(clips * this.conditionDim);
    for (let i = 0; i < digits.length; i++) values[Math.floor(i / digitsPerClip) * this.conditionDim + (i % digitsPerClip) * classes + digits[i]!] = 1;
    return tf.tensor2d(values, [clips, this.conditionDim]);
  }

  /** Frames [N, H, W, 1] → posterior mean and log-variance [N, latentDim]. */
  encode(frames: tf.Tensor4D): { mean: tf.Tensor2D; logVariance: tf.Tensor2D } {
    return tf.tidy(() => {
      let h = frames;
      this.config.convChannels.forEach((_, i) => {
        h = tf.relu(downConv(this.params, `encoder.conv${i}`, h));
      });
      const hidden = tf.relu(dense(this.params, 'encoder.hidden', h.reshape([h.shape[0], -1]) as tf.Tensor2D));
      const [mean, logVariance] = tf.split(dense(this.params, 'encoder.out', hidden), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      return { mean, logVariance };
    });
  }

  /** Latents [N, latentDim] and conditions [N, conditionDim] → frame logits [N, H, W, 1]. */
  decodeLogits(z: tf.Tensor2D, condition: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => denseUpConvDecoder(this.params, 'decoder', tf.concat([z, condition], 1), this.bottleneck, this.config.convChannels.length));
  }

  /**
   * The prior's N(μ_t, σ_t²) for every frame given the latents before it (teacher forcing):
   * latents [B, T, latentDim] → means and log-variances, each [B, T, latentDim].
   */
  priorOf(latents: tf.Tensor3D, condition: tf.Tensor2D): { mean: tf.Tensor3D; logVariance: tf.Tensor3D } {
    return tf.tidy(() => {
      const [batch, frames, latentDim] = latents.shape;
      const conditionDim = condition.shape[1];
      const previous = tf.concat([tf.zeros([batch, 1, latentDim]), latents.slice([0, 0, 0], [batch, frames - 1, -1])], 1);
      // Time-major [T, B, ·], every step's input projection in one product, then the fused GRU layer
      // (hand-written backpropagation through time, recurrent.ts) that the music model uses.
      const inputs = tf.concat([previous, tf.tile(condition.reshape([batch, 1, conditionDim]), [1, frames, 1])], 2).transpose([1, 0, 2]);
      const projected = dense(this.params, 'prior.input', inputs.reshape([frames * batch, -1]) as tf.Tensor2D).reshape([frames, batch, -1]) as tf.Tensor3D;
      const states = gruSequence(projected, this.params['prior.recurrent'] as tf.Tensor2D, this.params['prior.recurrentBias'] as tf.Tensor1D); // [T, B, H]
      const out = dense(this.params, 'prior.out', states.reshape([frames * batch, -1]) as tf.Tensor2D).reshape([frames, batch, -1]).transpose([1, 0, 2]);
      const [mean, logVariance] = tf.split(out, 2, 2) as [tf.Tensor3D, tf.Tensor3D];
      return { mean, logVariance };
    });
  }

  /** The step-by-step reference for priorOf (and how generation and prediction run the GRU). */
  priorOfByStep(latents: tf.Tensor3D, condition: tf.Tensor2D): { mean: tf.Tensor3D; logVariance: tf.Tensor3D } {
    return tf.tidy(() => {
      const [batch, frames] = latents.shape;
      const previous = tf.concat([tf.zeros([batch, 1, this.config.latentDim]), latents.slice([0, 0, 0], [batch, frames - 1, -1])], 1);
      let h: tf.Tensor2D = tf.zeros([batch, this.config.dynamicsUnits]);
      const outputs: tf.Tensor2D[] = [];
      for (let t = 0; t < frames; t++) {
        const input = previous.slice([0, t, 0], [batch, 1, -1]).reshape([batch, -1]) as tf.Tensor2D;
        h = this.priorStep(input, condition, h);
        outputs.push(dense(this.params, 'prior.out', h));
      }
      const stacked = tf.stack(outputs, 1) as tf.Tensor3D;
      const [mean, logVariance] = tf.split(stacked, 2, 2) as [tf.Tensor3D, tf.Tensor3D];
      return { mean, logVariance };
    });
  }

  private priorStep(previous: tf.Tensor2D, condition: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
    const projected = dense(this.params, 'prior.input', tf.concat([previous, condition], 1));
    return gruCell(projected, h, this.params['prior.recurrent']!, this.params['prior.recurrentBias']!).h;
  }

  /** The training objective: frame −ELBO (nats per frame) plus the prior's NLL of the latents (nats per frame). */
  loss(batch: ClipBatch, random: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => {
      const [clips, frames, height, width] = batch.frames.shape;
      const flat = batch.frames.reshape([clips * frames, height, width, 1]) as tf.Tensor4D;
      const { mean, logVariance } = this.encode(flat);
      const epsilon = tf.tensor(random.fork('epsilon').normalArray(mean.size), mean.shape);
      const z = mean.add(tf.exp(logVariance.mul(0.5)).mul(epsilon)) as tf.Tensor2D;
      const frameCondition = repeatPerFrame(batch.condition, frames);
      const logits = this.decodeLogits(z, frameCondition);
      const crossEntropy = tf.relu(logits).sub(logits.mul(flat)).add(tf.log1p(tf.exp(tf.abs(logits).neg())));
      const reconstruction = crossEntropy.sum([1, 2, 3]).mean() as tf.Scalar;
      const kl = mean.square().add(tf.exp(logVariance)).sub(1).sub(logVariance).sum(1).mul(0.5).mean() as tf.Scalar;

      // A copy of the values, outside the tape: the prior's loss does not reach the encoder.
      const targets = tf.tensor3d(mean.dataSync() as Float32Array, [clips, frames, this.config.latentDim]);
      const noise = tf.tensor(random.fork('input-noise').normalArray(targets.size), targets.shape).mul(this.config.inputNoise);
      const prior = this.priorOf(targets.add(noise) as tf.Tensor3D, batch.condition);
      const logScale = tf.maximum(prior.logVariance.mul(0.5), -6);
      const nll = targets.sub(prior.mean).div(tf.exp(logScale)).square().mul(0.5).add(logScale).add(halfLogTwoPi);
      const dynamics = nll.sum(2).mean() as tf.Scalar;
      const total = reconstruction.add(kl.mul(this.config.beta)).add(dynamics) as tf.Scalar;
      return { total, parts: { reconstruction, kl, dynamics } };
    });
  }

  /** Rolls the prior out from `condition` [B, conditionDim]: frames [B, T, H, W, 1] in [0, 1]. */
  generate(condition: tf.Tensor2D, frames: number, random: Random, onFrame?: (done: number) => void): tf.Tensor5D {
    return tf.tidy(() => {
      const batch = condition.shape[0];
      const { latentDim, dynamicsUnits, sampleTemperature } = this.config;
      let previous: tf.Tensor2D = tf.zeros([batch, latentDim]);
      let h: tf.Tensor2D = tf.zeros([batch, dynamicsUnits]);
      const images: tf.Tensor4D[] = [];
      for (let t = 0; t < frames; t++) {
        const next = tf.tidy(() => {
          const state = this.priorStep(previous, condition, h);
          const [mean, logVariance] = tf.split(dense(this.params, 'prior.out', state), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
          const epsilon = tf.tensor(random.fork('frame', t).normalArray(batch * latentDim), [batch, latentDim]);
          const z = mean.add(tf.exp(tf.maximum(logVariance.mul(0.5), -6)).mul(epsilon).mul(sampleTemperature)) as tf.Tensor2D;
          return { state, z, image: tf.sigmoid(this.decodeLogits(z, condition)) as tf.Tensor4D };
        });
        h.dispose();
        previous.dispose();
        h = next.state;
        previous = next.z;
        images.push(next.image);
        onFrame?.(t + 1);
      }
      return tf.stack(images, 1) as tf.Tensor5D;
    });
  }

  /** Reconstructions of clips [B, T, H, W, 1] through the posterior means. */
  reconstruct(batch: ClipBatch): tf.Tensor5D {
    return tf.tidy(() => {
      const [clips, frames, height, width] = batch.frames.shape;
      const { mean } = this.encode(batch.frames.reshape([clips * frames, height, width, 1]) as tf.Tensor4D);
      return tf.sigmoid(this.decodeLogits(mean, repeatPerFrame(batch.condition, frames))).reshape(batch.frames.shape) as tf.Tensor5D;
    });
  }

  /**
   * Prediction: encodes the first `context` frames, runs the prior through them, and rolls out the
   * rest at its means (no noise: the single best guess). Returns all T frames, the context as given.
   */
  predict(batch: ClipBatch, context: number): tf.Tensor5D {
    return tf.tidy(() => {
      const [clips, frames, height, width] = batch.frames.shape;
      const seen = batch.frames.slice([0, 0, 0, 0, 0], [clips, context, height, width, 1]);
      const { mean } = this.encode(seen.reshape([clips * context, height, width, 1]) as tf.Tensor4D);
      const latents = mean.reshape([clips, context, -1]);
      let h: tf.Tensor2D = tf.zeros([clips, this.config.dynamicsUnits]);
      let previous: tf.Tensor2D = tf.zeros([clips, this.config.latentDim]);
      const predicted: tf.Tensor4D[] = [];
      for (let t = 0; t < frames; t++) {
        h = this.priorStep(previous, batch.condition, h);
        if (t < context) {
          previous = latents.slice([0, t, 0], [clips, 1, -1]).reshape([clips, -1]) as tf.Tensor2D;
        } else {
          previous = tf.split(dense(this.params, 'prior.out', h), 2, 1)[0] as tf.Tensor2D;
          predicted.push(tf.sigmoid(this.decodeLogits(previous, batch.condition)) as tf.Tensor4D);
        }
      }
      return tf.concat([seen, tf.stack(predicted, 1)], 1) as tf.Tensor5D;
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** [B, D] → [B · T, D]: each clip's row once per frame, in frame order. */
function repeatPerFrame(condition: tf.Tensor2D, frames: number): tf.Tensor2D {
  const [clips, width] = condition.shape;
  return tf.tile(condition.reshape([clips, 1, width]), [1, frames, 1]).reshape([clips * frames, width]) as tf.Tensor2D;
}
