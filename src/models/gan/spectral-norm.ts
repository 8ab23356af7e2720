/**
 * Spectral normalisation (Miyato et al. 2018): each discriminator weight is divided by its largest
 * singular value σ, estimated by one power-iteration step per training step, which keeps the
 * discriminator 1-Lipschitz-ish and its gradients useful to the generator.
 *
 * The vectors u and v are stored beside the weight (checkpointed, so a resumed run is exact) and are
 * updated outside the gradient tape; σ = vᵀ W u is then differentiated with u and v held constant,
 * as in the paper.
 */
import * as tf from '../../core/tf.ts';
import type { ParamBuilder, Params } from '../../core/params.ts';
import { fromSeed } from '../../core/random.ts';

/** Adds `${name}.sn_u` [out] and `${name}.sn_v` [fanIn] for a weight whose last axis is `out`. */
export function addSpectralNorm(builder: ParamBuilder, name: string, fanIn: number, out: number): void {
  const random = fromSeed(`spectral-norm:${name}`);
  const u = random.normalArray(out);
  const norm = Math.hypot(...u);
  const initial = tf.tensor1d(u.map((value) => value / norm));
  builder.constant(`${name}.sn_u`, [out]).assign(initial);
  initial.dispose();
  builder.constant(`${name}.sn_v`, [fanIn]);
}

function normalize(x: tf.Tensor1D): tf.Tensor1D {
  return tf.div(x, tf.add(tf.norm(x), 1e-12));
}

/** One power-iteration step for every spectrally normalised weight in `params`. */
export function powerIterate(params: Params): void {
  tf.tidy(() => {
    for (const name of Object.keys(params)) {
      if (!name.endsWith('.sn_u')) continue;
      const base = name.slice(0, -'.sn_u'.length);
      const u = params[`${base}.sn_u`]!;
      const v = params[`${base}.sn_v`]!;
      const matrix = params[base]!.reshape([v.shape[0]!, u.shape[0]!]) as tf.Tensor2D;
      const newV = normalize(tf.matMul(matrix, u.reshape([-1, 1])).reshape([-1]) as tf.Tensor1D);
      const newU = normalize(tf.matMul(newV.reshape([1, -1]), matrix).reshape([-1]) as tf.Tensor1D);
      v.assign(newV);
      u.assign(newU);
    }
  });
}

/** W / σ(W), with σ = vᵀ W u from the stored vectors. */
export function spectrallyNormalized(params: Params, name: string): tf.Tensor {
  const weight = params[name]!;
  const u = params[`${name}.sn_u`]!;
  const v = params[`${name}.sn_v`]!;
  const matrix = weight.reshape([v.shape[0]!, u.shape[0]!]) as tf.Tensor2D;
  const sigma = tf.sum(tf.mul(v, tf.matMul(matrix, u.reshape([-1, 1])).reshape([-1])));
  return tf.div(weight, sigma);
}
