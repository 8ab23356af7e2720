/**
 * Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019), written out so its state is
 * ours to checkpoint exactly: resuming restores m, v and the step bit for bit.
 *
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   θ ← θ − lr·( m̂ / (√v̂ + ε) + λ·θ ),   m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
 */
import * as tf from '../core/tf.ts';
import { GenloomError } from '../core/errors.ts';
import type { Params } from '../core/params.ts';
import type { StoredTensor } from '../io/safetensors.ts';
import { toStored } from '../core/params.ts';
import { nativeHost, type NativeHost } from '../core/native/host.ts';

export interface AdamOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Which parameters weight decay applies to (default all); GPTs exempt biases and norm gains. */
  decays?: (name: string) => boolean;
}

export const defaultAdamOptions: AdamOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/** Backends whose tensors are Float32Arrays in this process (see applyInHostMemory; native has applyNative). */
const hostMemoryBackends = new Set(['cpu']);

/** The L2 norm of all the values together. */
function globalNorm(arrays: Iterable<Float32Array>): number {
  let squares = 0;
  for (const values of arrays) for (let i = 0; i < values.length; i++) squares += values[i]! * values[i]!;
  return Math.sqrt(squares);
}

export class AdamW {
  step = 0;
  private readonly firstMoment = new Map<string, tf.Variable>();
  private readonly secondMoment = new Map<string, tf.Variable>();
  readonly options: AdamOptions;

  constructor(private readonly params: Params, options: Partial<AdamOptions> = {}) {
    this.options = { ...defaultAdamOptions, ...options };
    for (const [name, param] of Object.entries(params)) {
      this.firstMoment.set(name, tf.tidy(() => tf.variable(tf.zerosLike(param), false)));
      this.secondMoment.set(name, tf.tidy(() => tf.variable(tf.zerosLike(param), false)));
    }
  }

  /**
   * Applies one update with learning rate `learningRate`; disposes nothing it was given. With
   * `clipNorm` > 0 the gradients are first scaled to at most that global L2 norm; the norm before
   * clipping is returned (NaN when not clipping, which does not compute it).
   */
  apply(grads: tf.NamedTensorMap, learningRate: number, clipNorm = 0): number {
    this.step += 1;
    const native = nativeHost();
    if (native) return this.applyNative(native, grads, learningRate, clipNorm);
    if (hostMemoryBackends.has(tf.getBackend())) return this.applyInHostMemory(grads, learningRate, clipNorm);
    let norm = Number.NaN;
    if (clipNorm > 0) {
      norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((grad) => grad.square().sum()))).dataSync()[0]!);
      if (norm > clipNorm) grads = Object.fromEntries(Object.entries(grads).map(([name, grad]) => [name, tf.keep(grad.mul(clipNorm / norm))]));
    }
    this.applyComposed(grads, learningRate);
    if (clipNorm > 0 && norm > clipNorm) tf.dispose(grads as tf.TensorContainer);
    return norm;
  }

  /**
   * The update as one pass over each parameter's values, for backends whose tensors live in this
   * process's memory as Float32Arrays (the cpu backend; native runs the same pass in C++, applyNative): about 15 tfjs
   * kernels per parameter (each a pass over memory and 5–10 µs of bookkeeping) become one loop, and
   * the clipping norm one more read. New arrays are written and assigned, never the variables'
   * own buffers in place: a cpu kernel may have handed out views of them.
   */
  private applyInHostMemory(grads: tf.NamedTensorMap, learningRate: number, clipNorm: number): number {
    const { beta1, beta2, epsilon, weightDecay, decays } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const present = Object.entries(this.params).filter(([name]) => grads[name] !== undefined);
    const gradValues = new Map(present.map(([name]) => [name, grads[name]!.dataSync() as Float32Array]));
    const norm = clipNorm > 0 ? globalNorm(gradValues.values()) : Number.NaN;
    const scale = norm > clipNorm ? clipNorm / norm : 1;
    for (const [name, param] of present) {
      const grad = gradValues.get(name)!;
      const m = this.firstMoment.get(name)!;
      const v = this.secondMoment.get(name)!;
      const theta = param.dataSync() as Float32Array;
      const oldM = m.dataSync() as Float32Array;
      const oldV = v.dataSync() as Float32Array;
      const newTheta = new Float32Array(theta.length);
      const newM = new Float32Array(theta.length);
      const newV = new Float32Array(theta.length);
      const decay = weightDecay > 0 && (decays?.(name) ?? true) ? weightDecay : 0;
      for (let i = 0; i < theta.length; i++) {
        const g = grad[i]! * scale;
        const mi = beta1 * oldM[i]! + (1 - beta1) * g;
        const vi = beta2 * oldV[i]! + (1 - beta2) * g * g;
        newM[i] = mi;
        newV[i] = vi;
        newTheta[i] = theta[i]! - learningRate * (mi / correction1 / (Math.sqrt(vi / correction2) + epsilon) + decay * theta[i]!);
      }
      tf.tidy(() => {
        m.assign(tf.tensor(newM, m.shape));
        v.assign(tf.tensor(newV, v.shape));
        param.assign(tf.tensor(newTheta, param.shape));
      });
    }
    return norm;
  }

  /**
   * The same pass as applyInHostMemory, in C++ over the thread pool, into arrays the backend
   * reuses (no fresh 3 × parameters of garbage per step). Same arithmetic in double, so the same
   * bytes as the JavaScript loop, except the clipping norm, whose sum runs in fixed chunks.
   */
  private applyNative(native: NativeHost, grads: tf.NamedTensorMap, learningRate: number, clipNorm: number): number {
    const { beta1, beta2, epsilon, weightDecay, decays } = this.options;
    const present = Object.entries(this.params).filter(([name]) => grads[name] !== undefined);
    const gradValues = new Map(present.map(([name]) => [name, native.values(grads[name]!)]));
    let norm = Number.NaN;
    if (clipNorm > 0) {
      let squares = 0;
      for (const values of gradValues.values()) squares += native.addon.sumOfSquares(values);
      norm = Math.sqrt(squares);
    }
    const step = Float64Array.of(learningRate, beta1, beta2, epsilon, 0, 1 - beta1 ** this.step, 1 - beta2 ** this.step, norm > clipNorm ? clipNorm / norm : 1);
    for (const [name, param] of present) {
      const m = this.firstMoment.get(name)!;
      const v = this.secondMoment.get(name)!;
      const length = param.size;
      const newTheta = native.alloc(length), newM = native.alloc(length), newV = native.alloc(length);
      step[4] = weightDecay > 0 && (decays?.(name) ?? true) ? weightDecay : 0;
      native.addon.adamw(native.values(param), gradValues.get(name)!, native.values(m), native.values(v), newTheta, newM, newV, step);
      tf.tidy(() => {
        m.assign(tf.tensor(newM, m.shape));
        v.assign(tf.tensor(newV, v.shape));
        param.assign(tf.tensor(newTheta, param.shape));
      });
    }
    return norm;
  }

  private applyComposed(grads: tf.NamedTensorMap, learningRate: number): void {
    const { beta1, beta2, epsilon, weightDecay, decays } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [name, param] of Object.entries(this.params)) {
        const grad = grads[name];
        if (!grad) continue; // a frozen or unused parameter
        const m = this.firstMoment.get(name)!;
        const v = this.secondMoment.get(name)!;
        const newM = m.mul(beta1).add(grad.mul(1 - beta1));
        const newV = v.mul(beta2).add(grad.square().mul(1 - beta2));
        m.assign(newM);
        v.assign(newV);
        let update = newM.div(correction1).div(newV.div(correction2).sqrt().add(epsilon));
        if (weightDecay > 0 && (decays?.(name) ?? true)) update = update.add(param.mul(weightDecay));
        param.assign(param.sub(update.mul(learningRate)));
      }
    });
  }

  state(): Record<string, StoredTensor> {
    const out: Record<string, StoredTensor> = { step: { dtype: 'I32', shape: [], data: Int32Array.of(this.step) } };
    for (const [name, m] of this.firstMoment) out[`m.${name}`] = toStored(m);
    for (const [name, v] of this.secondMoment) out[`v.${name}`] = toStored(v);
    return out;
  }

  loadState(stored: Map<string, StoredTensor>, source: string): void {
    const step = stored.get('step');
    if (!step) throw new GenloomError('CORRUPT_FILE', `${source} has no optimizer step`);
    for (const [prefix, moments] of [['m', this.firstMoment], ['v', this.secondMoment]] as const) {
      for (const [name, variable] of moments) {
        const tensor = stored.get(`${prefix}.${name}`);
        if (!tensor || tensor.data.length !== variable.size) {
          throw new GenloomError('SHAPE_MISMATCH', `${source} has no matching optimizer state for "${name}"`);
        }
        tf.tidy(() => variable.assign(tf.tensor(tensor.data, variable.shape)));
      }
    }
    this.step = step.data[0]!;
  }

  dispose(): void {
    for (const variable of [...this.firstMoment.values(), ...this.secondMoment.values()]) variable.dispose();
  }
}
