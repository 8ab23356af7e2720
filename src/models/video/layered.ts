/**
 * The layered video model: what each digit looks like, and where it goes.
 *
 * Why this shape: a moving-MNIST clip is two digits that keep their look and glide. A model that
 * draws whole frames (the frame-VAE design, clip-vae.ts) spends its capacity re-drawing the same
 * digit at 16 positions and, on a 2-core CPU, came out as grey blobs. Splitting the clip into
 * layers, as object-centric video models do (DDPAE, Hsieh et al. 2018: content and pose per
 * object), leaves two small problems that train in minutes:
 *
 *   glyph model   a class-conditional VAE over 28 × 28 digits: q(s | x, c) from a conv encoder,
 *                 p(x | s, c) a conv decoder of the style s and the label c. Which digit comes from
 *                 c, so a clip shows the digits asked for; s carries the handwriting. One glyph per
 *                 digit per clip: a digit keeps its look in every frame.
 *   path model    a GRU with a mixture-density head (Graves 2013) over each digit's path: at frame 0
 *                 it gives the start corner (scaled to [−1, 1]), after that the move to the next
 *                 frame (pixels / 4). A mixture, because the first move is a ring of directions at
 *                 2–4 px a frame, which one Gaussian would put at a standstill; the GRU sees the
 *                 position and last move, so it learns to keep speed and bounce off the walls.
 *   compositing   glyphs stamped at their rounded corners, overlaps combined with max: how
 *                 moving-MNIST renders (compositeClip), not learned.
 *
 * Both parts learn from the layers moving MNIST is made of (each digit's image and path, which the
 * renderer gives): this design needs layered data, so it trains on moving MNIST only.
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { compositeClip, DIGIT_SIDE } from '../../data/moving-mnist.ts';
import { addDense, addDownConv, addUpConv, dense, denseUpConvDecoder, downConv } from '../../layers/dense-conv.ts';
import { gruCell, gruSequence } from '../../layers/recurrent.ts';
import type { LayeredConfig } from './config.ts';

const halfLogTwoPi = 0.5 * Math.log(2 * Math.PI);
/** Moves are modelled in units of 4 px (moving-MNIST speeds are 2–4 px a frame). */
const moveScale = 4;
/** Path model inputs per frame: position (x, y scaled to [0, 1]), last move (x, y), and 1 at frame 0. */
const pathInputs = 5;

/** One layered training batch: glyphs [N, 28, 28, 1], tracks [N, T, 2] (px) and labels one-hot [N, classes], N = clips × digits. */
export type LayerBatch = { glyphs: tf.Tensor4D; tracks: tf.Tensor3D; labels: tf.Tensor2D; [name: string]: tf.Tensor };

/** What generation makes: frames plus the layers they were composited from. */
export interface LayeredClips {
  /** [clips, T, H, W] in [0, 1]. */
  pixels: Float32Array;
  /** [clips · digits, 28, 28]. */
  glyphs: Float32Array;
  /** [clips · digits, T, 2]: each digit's corner per frame, in pixels. */
  tracks: Float32Array;
}

export class LayeredClipModel {
  readonly params: Params;
  private readonly bottleneck: [number, number, number];

  constructor(readonly config: LayeredConfig, random: Random) {
    const { glyphChannels, glyphHiddenUnits, styleDim, classes, motionUnits, mixtures } = config;
    const last = glyphChannels[glyphChannels.length - 1]!;
    const side = DIGIT_SIDE / 2 ** glyphChannels.length;
    this.bottleneck = [side, side, last];
    const flat = side * side * last;
    const builder = new ParamBuilder(random);
    glyphChannels.forEach((out, i) => addDownConv(builder, `glyph.encoder.conv${i}`, i === 0 ? 1 : glyphChannels[i - 1]!, out));
    addDense(builder, 'glyph.encoder.hidden', flat + classes, glyphHiddenUnits);
    addDense(builder, 'glyph.encoder.out', glyphHiddenUnits, 2 * styleDim, 0.1);
    addDense(builder, 'glyph.decoder.hidden', styleDim + classes, glyphHiddenUnits);
    addDense(builder, 'glyph.decoder.project', glyphHiddenUnits, flat);
    const reversed = [...glyphChannels].reverse();
    reversed.forEach((inChannels, i) => addUpConv(builder, `glyph.decoder.deconv${i}`, inChannels, i === reversed.length - 1 ? 1 : reversed[i + 1]!, i === reversed.length - 1 ? 1 : undefined));
    addDense(builder, 'path.input', pathInputs, 3 * motionUnits);
    builder.weight('path.recurrent', [motionUnits, 3 * motionUnits], motionUnits, 1);
    builder.constant('path.recurrentBias', [3 * motionUnits]);
    // Per component: a mixture logit, a mean (x, y) and a log-scale (x, y).
    addDense(builder, 'path.out', motionUnits, 5 * mixtures, 0.1);
    this.params = builder.params;
  }

  /** The free range of a digit's corner along each axis, in pixels. */
  get range(): number {
    return this.config.frameSize - DIGIT_SIDE;
  }

  /** One-hot labels [N, classes]. */
  labels(digits: ArrayLike<number>): tf.Tensor2D {
    return tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(digits), 'int32'), this.config.classes).cast('float32') as tf.Tensor2D);
  }

  // ---- glyph model ------------------------------------------------------------------------

  /** q(s | x, c): glyphs [N, 28, 28, 1] and labels → style mean and log-variance [N, styleDim]. */
  encodeGlyphs(glyphs: tf.Tensor4D, labels: tf.Tensor2D): { mean: tf.Tensor2D; logVariance: tf.Tensor2D } {
    return tf.tidy(() => {
      let h = glyphs;
      this.config.glyphChannels.forEach((_, i) => {
        h = tf.relu(downConv(this.params, `glyph.encoder.conv${i}`, h));
      });
      const hidden = tf.relu(dense(this.params, 'glyph.encoder.hidden', tf.concat([h.reshape([h.shape[0], -1]) as tf.Tensor2D, labels], 1)));
      const [mean, logVariance] = tf.split(dense(this.params, 'glyph.encoder.out', hidden), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      return { mean, logVariance };
    });
  }

  /** p(x | s, c): styles [N, styleDim] and labels → glyph logits [N, 28, 28, 1]. */
  glyphLogits(style: tf.Tensor2D, labels: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => denseUpConvDecoder(this.params, 'glyph.decoder', tf.concat([style, labels], 1), this.bottleneck, this.config.glyphChannels.length));
  }

  // ---- path model -------------------------------------------------------------------------

  /**
   * The path model's inputs for tracks [N, T, 2] (px), time-major [T, N, 5]: frame t sees the
   * position and move of frame t − 1 (zeros and a start flag at frame 0).
   */
  private pathInputsOf(tracks: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [count, frames] = tracks.shape;
      const position = tracks.div(this.range);
      const moves = tracks.slice([0, 1, 0], [count, frames - 1, 2]).sub(tracks.slice([0, 0, 0], [count, frames - 1, 2])).div(moveScale);
      const lastMove = tf.concat([tf.zeros([count, 1, 2]), moves], 1);
      const features = tf.concat([position, lastMove], 2).slice([0, 0, 0], [count, frames - 1, 4]);
      const previous = tf.concat([tf.zeros([count, 1, 4]), features], 1);
      const start = tf.concat([tf.ones([count, 1, 1]), tf.zeros([count, frames - 1, 1])], 1);
      return tf.concat([previous, start], 2).transpose([1, 0, 2]) as tf.Tensor3D;
    });
  }

  /** What the path model predicts at each frame, [N, T, 2]: the start corner in [−1, 1], then moves / 4. */
  private pathTargetsOf(tracks: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [count, frames] = tracks.shape;
      const start = tracks.slice([0, 0, 0], [count, 1, 2]).div(this.range).mul(2).sub(1);
      const moves = tracks.slice([0, 1, 0], [count, frames - 1, 2]).sub(tracks.slice([0, 0, 0], [count, frames - 1, 2])).div(moveScale);
      return tf.concat([start, moves], 1) as tf.Tensor3D;
    });
  }

  /** The mixture's parameters from GRU states [M, H]: log-weights [M, K], means and log-scales [M, K, 2]. */
  private mixtureOf(states: tf.Tensor2D): { logWeights: tf.Tensor2D; means: tf.Tensor3D; logScales: tf.Tensor3D } {
    return tf.tidy(() => {
      const { mixtures } = this.config;
      const out = dense(this.params, 'path.out', states);
      const count = states.shape[0];
      const logWeights = tf.logSoftmax(out.slice([0, 0], [count, mixtures])) as tf.Tensor2D;
      const means = out.slice([0, mixtures], [count, 2 * mixtures]).reshape([count, mixtures, 2]) as tf.Tensor3D;
      const logScales = tf.maximum(out.slice([0, 3 * mixtures], [count, 2 * mixtures]).reshape([count, mixtures, 2]), -7) as tf.Tensor3D;
      return { logWeights, means, logScales };
    });
  }

  /** −log p of each frame's target under the path model, [N, T] nats, teacher-forced on `tracks`. */
  pathNll(tracks: tf.Tensor3D, random?: Random): tf.Tensor2D {
    return tf.tidy(() => {
      const [count, frames] = tracks.shape;
      let inputs = this.pathInputsOf(tracks);
      if (random && this.config.inputNoise > 0) inputs = inputs.add(tf.tensor(random.normalArray(inputs.size), inputs.shape).mul(this.config.inputNoise)) as tf.Tensor3D;
      const projected = dense(this.params, 'path.input', inputs.reshape([frames * count, pathInputs]) as tf.Tensor2D).reshape([frames, count, -1]) as tf.Tensor3D;
      const states = gruSequence(projected, this.params['path.recurrent'] as tf.Tensor2D, this.params['path.recurrentBias'] as tf.Tensor1D); // [T, N, H]
      const { logWeights, means, logScales } = this.mixtureOf(states.reshape([frames * count, -1]) as tf.Tensor2D);
      const targets = this.pathTargetsOf(tracks).transpose([1, 0, 2]).reshape([frames * count, 1, 2]);
      const logDensity = targets.sub(means).div(tf.exp(logScales)).square().mul(-0.5).sub(logScales).sub(halfLogTwoPi).sum(2); // [T·N, K]
      return tf.logSumExp(logWeights.add(logDensity), 1).neg().reshape([frames, count]).transpose() as tf.Tensor2D;
    });
  }

  // ---- training ---------------------------------------------------------------------------

  /** Glyph −ELBO (nats per glyph) plus the path model's NLL (nats per digit per frame). */
  loss(batch: LayerBatch, random: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => {
      const { mean, logVariance } = this.encodeGlyphs(batch.glyphs, batch.labels);
      const epsilon = tf.tensor(random.fork('epsilon').normalArray(mean.size), mean.shape);
      const style = mean.add(tf.exp(logVariance.mul(0.5)).mul(epsilon)) as tf.Tensor2D;
      const logits = this.glyphLogits(style, batch.labels);
      // Bernoulli cross-entropy against the grey levels: digits are nearly binary, the loss stays in nats.
      const crossEntropy = tf.relu(logits).sub(logits.mul(batch.glyphs)).add(tf.log1p(tf.exp(tf.abs(logits).neg())));
      const reconstruction = crossEntropy.sum([1, 2, 3]).mean() as tf.Scalar;
      const kl = mean.square().add(tf.exp(logVariance)).sub(1).sub(logVariance).sum(1).mul(0.5).mean() as tf.Scalar;
      const path = this.pathNll(batch.tracks, random.fork('input-noise')).mean() as tf.Scalar;
      return { total: reconstruction.add(kl.mul(this.config.beta)).add(path) as tf.Scalar, parts: { reconstruction, kl, path } };
    });
  }

  // ---- generation -------------------------------------------------------------------------

  /** Glyphs [N, 28, 28] for labels, styles drawn from N(0, τ²) (τ = styleTemperature). */
  sampleGlyphs(digits: ArrayLike<number>, random: Random): Float32Array {
    return tf.tidy(() => {
      const labels = this.labels(digits);
      const style = tf.tensor2d(random.normalArray(digits.length * this.config.styleDim), [digits.length, this.config.styleDim]).mul(this.config.styleTemperature) as tf.Tensor2D;
      return tf.sigmoid(this.glyphLogits(style, labels)).dataSync() as Float32Array;
    });
  }

  /** The glyphs' decoded posterior means [N, 28, 28]: a digit redrawn the way the model writes it. */
  redrawGlyphs(glyphs: tf.Tensor4D, digits: ArrayLike<number>): Float32Array {
    return tf.tidy(() => {
      const labels = this.labels(digits);
      return tf.sigmoid(this.glyphLogits(this.encodeGlyphs(glyphs, labels).mean, labels)).dataSync() as Float32Array;
    });
  }

  /**
   * Rolls the path model out for `count` digits over `frames` frames: corners [count, frames, 2] in
   * pixels, kept inside the frame. `given` ([count, g, 2], optional) fixes the first g frames (the
   * model reads them, as in prediction); `random` undefined takes each step's most likely
   * component's mean (no noise: the single best guess).
   */
  rollOutPaths(count: number, frames: number, random?: Random, given?: { tracks: Float32Array; frames: number }, onFrame?: (done: number) => void): Float32Array {
    const { motionUnits, mixtures, motionTemperature } = this.config;
    const range = this.range;
    const tracks = new Float32Array(count * frames * 2);
    const input = new Float32Array(count * pathInputs);
    for (let i = 0; i < count; i++) input[i * pathInputs + 4] = 1;
    let h: tf.Tensor2D = tf.zeros([count, motionUnits]);
    for (let t = 0; t < frames; t++) {
      const [next, weights, means, scales] = tf.tidy(() => {
        const projected = dense(this.params, 'path.input', tf.tensor2d(input, [count, pathInputs]));
        const state = gruCell(projected, h, this.params['path.recurrent']!, this.params['path.recurrentBias']!).h;
        const mixture = this.mixtureOf(state);
        return [state, tf.exp(mixture.logWeights), mixture.means, tf.exp(mixture.logScales)];
      });
      h.dispose();
      h = next;
      const w = weights.dataSync();
      const mu = means.dataSync();
      const sigma = scales.dataSync();
      tf.dispose([weights, means, scales]);
      const draw = random?.fork('frame', t);
      for (let i = 0; i < count; i++) {
        const at = (i * frames + t) * 2;
        let x: number;
        let y: number;
        if (given && t < given.frames) {
          x = given.tracks[(i * given.frames + t) * 2]!;
          y = given.tracks[(i * given.frames + t) * 2 + 1]!;
        } else {
          const k = draw ? pickComponent(w, i * mixtures, mixtures, draw.uniform()) : argMax(w, i * mixtures, mixtures);
          const m = (i * mixtures + k) * 2;
          const noise = draw ? [draw.normal() * motionTemperature, draw.normal() * motionTemperature] : [0, 0];
          const dx = mu[m]! + sigma[m]! * noise[0]!;
          const dy = mu[m + 1]! + sigma[m + 1]! * noise[1]!;
          x = t === 0 ? ((dx + 1) / 2) * range : tracks[at - 2]! + dx * moveScale;
          y = t === 0 ? ((dy + 1) / 2) * range : tracks[at - 1]! + dy * moveScale;
          x = Math.min(range, Math.max(0, x));
          y = Math.min(range, Math.max(0, y));
        }
        tracks[at] = x;
        tracks[at + 1] = y;
        const row = i * pathInputs;
        input[row] = x / range;
        input[row + 1] = y / range;
        input[row + 2] = t === 0 ? 0 : (x - tracks[at - 2]!) / moveScale;
        input[row + 3] = t === 0 ? 0 : (y - tracks[at - 1]!) / moveScale;
        input[row + 4] = 0;
      }
      onFrame?.(t + 1);
    }
    h.dispose();
    return tracks;
  }

  /** Clips of the digits asked for (`digits`: clips × digitsPerClip labels, row-major). */
  generate(digits: ArrayLike<number>, frames: number, random: Random, onFrame?: (done: number) => void): LayeredClips {
    const glyphs = this.sampleGlyphs(digits, random.fork('glyphs'));
    const tracks = this.rollOutPaths(digits.length, frames, random.fork('paths'), undefined, onFrame);
    return { glyphs, tracks, pixels: this.composite(glyphs, tracks, frames) };
  }

  /** Frames of clips from their layers: glyphs [clips · D, 28, 28], tracks [clips · D, T, 2]. */
  composite(glyphs: Float32Array, tracks: Float32Array, frames: number): Float32Array {
    const { digitsPerClip, frameSize } = this.config;
    const clips = glyphs.length / (digitsPerClip * DIGIT_SIDE * DIGIT_SIDE);
    const clipSize = frames * frameSize * frameSize;
    const pixels = new Float32Array(clips * clipSize);
    const glyphsPerClip = digitsPerClip * DIGIT_SIDE * DIGIT_SIDE;
    const trackPerClip = digitsPerClip * frames * 2;
    for (let c = 0; c < clips; c++) {
      pixels.set(compositeClip(glyphs.subarray(c * glyphsPerClip, (c + 1) * glyphsPerClip), tracks.subarray(c * trackPerClip, (c + 1) * trackPerClip), frames, frameSize), c * clipSize);
    }
    return pixels;
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/** The component whose cumulative weight passes `u` (weights[offset .. offset + k) sum to 1). */
function pickComponent(weights: ArrayLike<number>, offset: number, k: number, u: number): number {
  let total = 0;
  for (let j = 0; j < k; j++) {
    total += weights[offset + j]!;
    if (u < total) return j;
  }
  return k - 1;
}

function argMax(values: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}
