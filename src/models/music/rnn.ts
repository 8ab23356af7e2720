/**
 * The music model's network: event embedding plus a style embedding, a stack of LSTM (Hochreiter &
 * Schmidhuber 1997) or GRU (Cho et al. 2014) layers, and a linear layer to next-event logits.
 *
 *   LSTM: i, f, g, o = split(x·W + h·U + b);  c' = σ(f)·c + σ(i)·tanh(g);  h' = σ(o)·tanh(c')
 *   GRU:  r, z = σ(x·W_rz + h·U_rz + b_rz);  n = tanh(x·W_n + b_n + r·(h·U_n + c_n));  h' = (1 − z)·n + z·h
 *
 * The input projections of all time steps are one matrix product before the loop; only h·U runs per
 * step. The forget-gate bias starts at 1 so memories are kept early in training (Jozefowicz et al. 2015).
 */
import * as tf from '../../core/tf.ts';
import { ParamBuilder, disposeParams, type Params } from '../../core/params.ts';
import type { Random } from '../../core/random.ts';
import { vocabularySize } from '../../music/events.ts';
import { encodingOf, type MusicConfig } from './config.ts';
import { gruCell, gruSequence, lstmCell, lstmSequence } from '../../layers/recurrent.ts';

/** Per layer: h, and c for an LSTM; each [B, hidden]. */
export type RecurrentState = { h: tf.Tensor2D; c?: tf.Tensor2D }[];

/**
 * inputs: event ids [B, T] (int32); targets: the next event at each position [B, T] (int32, anything
 * where mask is 0); mask: 1 where a target counts, 0 on padding [B, T]; styles: each sequence's [B];
 * sounding (models with `soundingInput`): which pitches sound after each input event [B, T, 128].
 */
export type EventBatch = { inputs: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D; styles: tf.Tensor1D; sounding?: tf.Tensor3D };

/** MIDI pitches: the width of the sounding-notes input. */
export const pitchCount = 128;

export class MusicRnn {
  readonly family = 'music';
  readonly params: Params;
  readonly vocabularySize: number;

  constructor(readonly config: MusicConfig, random: Random) {
    const { layers, hidden, embedding, styles, cell } = config;
    this.vocabularySize = vocabularySize(encodingOf(config));
    const gates = cell === 'lstm' ? 4 : 3;
    const builder = new ParamBuilder(random);
    builder.weight('embedding.weight', [this.vocabularySize, embedding], 1, 1);
    builder.weight('style.weight', [styles, embedding], 1, 0.1);
    // A chorale has about four notes sounding: their rows sum to about the spread of one event's.
    if (config.soundingInput) builder.weight('sounding.weight', [pitchCount, embedding], 4, 1);
    for (let layer = 0; layer < layers; layer++) {
      const inputs = layer === 0 ? embedding : hidden;
      builder.weight(`rnn.${layer}.input.weight`, [inputs, gates * hidden], inputs, 1);
      builder.weight(`rnn.${layer}.recurrent.weight`, [hidden, gates * hidden], hidden, 1);
      const bias = builder.constant(`rnn.${layer}.bias`, [gates * hidden]);
      if (cell === 'lstm') tf.tidy(() => bias.assign(tf.concat([tf.zeros([hidden]), tf.ones([hidden]), tf.zeros([2 * hidden])])));
      if (cell === 'gru') builder.constant(`rnn.${layer}.recurrent.bias`, [gates * hidden]);
    }
    builder.weight('out.weight', [hidden, this.vocabularySize], hidden, 1);
    builder.constant('out.bias', [this.vocabularySize]);
    this.params = builder.params;
  }

  initialState(batch: number): RecurrentState {
    return Array.from({ length: this.config.layers }, () => ({
      h: tf.zeros([batch, this.config.hidden]) as tf.Tensor2D,
      ...(this.config.cell === 'lstm' ? { c: tf.zeros([batch, this.config.hidden]) as tf.Tensor2D } : {}),
    }));
  }

  /**
   * Logits [B, T, V] for each position's next event, from a fresh state, through the fused sequence
   * layers (recurrent.ts): what training and scoring use. `dropout` (training only) draws the masks.
   */
  sequenceLogits(inputs: tf.Tensor2D, styles: tf.Tensor1D, dropout?: Random, sounding?: tf.Tensor3D): tf.Tensor3D {
    const [batch, steps] = inputs.shape;
    const { layers, cell } = this.config;
    // Time-major inside: each step's slice is contiguous.
    let sequence = this.embed(inputs, styles, sounding).transpose([1, 0, 2]) as tf.Tensor3D;
    for (let layer = 0; layer < layers; layer++) {
      sequence = this.dropout(sequence, dropout?.fork('layer', layer));
      const projected = this.inputProjection(sequence, layer);
      const recurrent = this.params[`rnn.${layer}.recurrent.weight`] as tf.Tensor2D;
      sequence = cell === 'lstm' ? lstmSequence(projected, recurrent) : gruSequence(projected, recurrent, this.params[`rnn.${layer}.recurrent.bias`] as tf.Tensor1D);
    }
    sequence = this.dropout(sequence, dropout?.fork('output'));
    return this.outputLogits(sequence).reshape([steps, batch, this.vocabularySize]).transpose([1, 0, 2]) as tf.Tensor3D;
  }

  /**
   * Logits [B, T, V] and the state after the last position, continuing from `state` (default: a fresh
   * one), one cell step at a time: how composing feeds the model event by event.
   */
  forward(inputs: tf.Tensor2D, styles: tf.Tensor1D, state?: RecurrentState, sounding?: tf.Tensor3D): { logits: tf.Tensor3D; state: RecurrentState } {
    const [batch, steps] = inputs.shape;
    const { layers, cell } = this.config;
    const initial = state ?? this.initialState(batch);
    const next: RecurrentState = [];
    let sequence = this.embed(inputs, styles, sounding);
    for (let layer = 0; layer < layers; layer++) {
      const name = `rnn.${layer}`;
      const perStep = tf.unstack(this.inputProjection(sequence, layer), 1) as tf.Tensor2D[];
      const recurrent = this.params[`${name}.recurrent.weight`] as tf.Tensor2D;
      let { h, c } = initial[layer]!;
      const outputs: tf.Tensor2D[] = [];
      for (const x of perStep) {
        if (cell === 'lstm') ({ h, c } = lstmCell(x, h, c!, recurrent));
        else h = gruCell(x, h, recurrent, this.params[`${name}.recurrent.bias`]!).h;
        outputs.push(h);
      }
      next.push({ h, ...(c ? { c } : {}) });
      sequence = tf.stack(outputs, 1) as tf.Tensor3D;
    }
    return { logits: this.outputLogits(sequence).reshape([batch, steps, this.vocabularySize]) as tf.Tensor3D, state: next };
  }

  /** Event embedding plus style embedding (plus the sounding notes' embedding): [B, T] → [B, T, E]. */
  private embed(inputs: tf.Tensor2D, styles: tf.Tensor1D, sounding?: tf.Tensor3D): tf.Tensor3D {
    const [batch, steps] = inputs.shape;
    const { embedding } = this.config;
    const events = tf.gather(this.params['embedding.weight']!, inputs.flatten()).reshape([batch, steps, embedding]);
    const styled = events.add(tf.gather(this.params['style.weight']!, styles).reshape([batch, 1, embedding])) as tf.Tensor3D;
    if (!this.config.soundingInput) return styled;
    if (!sounding) throw new Error('this music model reads the sounding notes at every step: pass them');
    const notes = tf.matMul(sounding.reshape([batch * steps, pitchCount]) as tf.Tensor2D, this.params['sounding.weight'] as tf.Tensor2D);
    return styled.add(notes.reshape([batch, steps, embedding])) as tf.Tensor3D;
  }

  /** x·W + b for every position at once: [A, B, in] → [A, B, G·H]. */
  private inputProjection(sequence: tf.Tensor3D, layer: number): tf.Tensor3D {
    const [a, b] = sequence.shape;
    const name = `rnn.${layer}`;
    return tf
      .matMul(sequence.reshape([a * b, -1]) as tf.Tensor2D, this.params[`${name}.input.weight`] as tf.Tensor2D)
      .add(this.params[`${name}.bias`]!)
      .reshape([a, b, -1]) as tf.Tensor3D;
  }

  /** Hidden states [A, B, H] → logits [A·B, V]. */
  private outputLogits(sequence: tf.Tensor3D): tf.Tensor2D {
    const [a, b] = sequence.shape;
    return tf.matMul(sequence.reshape([a * b, this.config.hidden]) as tf.Tensor2D, this.params['out.weight'] as tf.Tensor2D).add(this.params['out.bias']!) as tf.Tensor2D;
  }

  /** −log p(target) per position [B, T] (0 where masked), in nats. */
  negativeLogLikelihoods(batch: EventBatch, dropout?: Random): tf.Tensor2D {
    return tf.tidy(() => {
      const logits = this.sequenceLogits(batch.inputs, batch.styles, dropout, batch.sounding);
      const [size, steps, vocabulary] = logits.shape;
      const logProbabilities = tf.logSoftmax(logits.reshape([size * steps, vocabulary]));
      const picked = logProbabilities.mul(tf.oneHot(batch.targets.flatten(), vocabulary)).sum(1);
      return picked.neg().reshape([size, steps]).mul(batch.mask) as tf.Tensor2D;
    });
  }

  /** Mean NLL per event over the unmasked positions. */
  loss(batch: EventBatch, random?: Random): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return tf.tidy(() => {
      const total = this.negativeLogLikelihoods(batch, this.config.dropout > 0 ? random : undefined).sum().div(batch.mask.sum()) as tf.Scalar;
      return { total, parts: {} };
    });
  }

  /** Inverted dropout with masks from `random` (none when it is undefined). */
  private dropout(x: tf.Tensor3D, random: Random | undefined): tf.Tensor3D {
    if (!random || this.config.dropout === 0) return x;
    const keep = 1 - this.config.dropout;
    const mask = tf.tensor(random.uniformArray(x.size), x.shape).less(keep).toFloat().div(keep);
    return x.mul(mask);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
