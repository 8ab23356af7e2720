/**
 * Named trainable parameters, and their conversion to and from checkpoint tensors. A model's
 * parameters are a flat, name-sorted record of tf.Variables ("encoder.conv1.kernel", …): the names
 * are the safetensors keys, so a checkpoint reads the same in PyTorch.
 */
import * as tf from './tf.ts';
import { GenloomError } from './errors.ts';
import type { Random } from './random.ts';
import type { StoredTensor } from '../io/safetensors-format.ts';

export type Params = Record<string, tf.Variable>;

export function toStored(tensor: tf.Tensor): StoredTensor {
  const data = tensor.dataSync();
  if (tensor.dtype === 'int32') return { dtype: 'I32', shape: tensor.shape.slice(), data: Int32Array.from(data) };
  return { dtype: 'F32', shape: tensor.shape.slice(), data: Float32Array.from(data) };
}

export function paramsToStored(params: Params): Record<string, StoredTensor> {
  const out: Record<string, StoredTensor> = {};
  for (const name of Object.keys(params).sort()) out[name] = toStored(params[name]!);
  return out;
}

/**
 * Copies stored tensors into existing variables, refusing missing, extra or mis-shaped tensors with
 * a message naming `source` (the file) and the tensor.
 */
export function assignStored(params: Params, stored: Map<string, StoredTensor>, source: string): void {
  for (const [name, variable] of Object.entries(params)) {
    const tensor = stored.get(name);
    if (!tensor) throw new GenloomError('SHAPE_MISMATCH', `${source} has no tensor "${name}" that this model needs`);
    if (tensor.shape.length !== variable.shape.length || tensor.shape.some((size, i) => size !== variable.shape[i])) {
      throw new GenloomError(
        'SHAPE_MISMATCH',
        `${source}: tensor "${name}" has shape [${tensor.shape.join(', ')}] but the model's config needs [${variable.shape.join(', ')}]`,
      );
    }
  }
  for (const name of stored.keys()) {
    if (!Object.hasOwn(params, name)) throw new GenloomError('SHAPE_MISMATCH', `${source} has a tensor "${name}" this model does not have`);
  }
  for (const [name, variable] of Object.entries(params)) {
    const tensor = stored.get(name)!;
    tf.tidy(() => variable.assign(tf.tensor(tensor.data, tensor.shape, variable.dtype)));
  }
}

/**
 * Value and gradients of `loss` with respect to every parameter, keyed by parameter name (tfjs keys
 * gradients by its own variable names, which are not ours).
 */
export function gradientsOf(params: Params, loss: () => tf.Scalar): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const entries = Object.entries(params);
  const { value, grads } = tf.variableGrads(loss, entries.map(([, variable]) => variable));
  const byParam: tf.NamedTensorMap = {};
  for (const [name, variable] of entries) {
    const grad = grads[variable.name];
    if (grad) byParam[name] = grad;
  }
  return { value, grads: byParam };
}

export function countParams(params: Params): number {
  return Object.values(params).reduce((sum, variable) => sum + variable.size, 0);
}

export function disposeParams(params: Params): void {
  for (const variable of Object.values(params)) variable.dispose();
}

/**
 * A bound on the parameter values built while a model is loaded from a checkpoint. A network is
 * built from config.json BEFORE its weights are assigned, so a config that names absurd sizes (each
 * within its schema's bounds, together billions of values) would allocate, and spend minutes
 * initialising, what no weights file holds; under a limit it is refused at the first parameter over.
 */
export interface ParameterLimit {
  /** The most values all the parameters built may hold together. */
  maxValues: number;
  /** How many values the weights hold (for the message). */
  storedValues: number;
  /** The files, for the message: "models/x/config.json and models/x/model.safetensors". */
  source: string;
}

/**
 * The limit for building a model whose weights hold `storedValues` values. A family may build more
 * than it stores (networks used only in training, copies), so the bound is generous: four times
 * the weights plus 16.8M values (64 MB); an absurd config is thousands of times over it.
 */
export function parameterLimit(storedValues: number, source: string): ParameterLimit {
  return { maxValues: 4 * storedValues + 2 ** 24, storedValues, source };
}

let activeLimit: (ParameterLimit & { built: number; variables: tf.Variable[] }) | undefined;

/**
 * Runs `build` (synchronous: a family's load) with every ParamBuilder under `limit`. When `build`
 * throws, the parameters it made are freed: a network refused half-built has no owner to free them.
 *
 * @example
 * const model = withParameterLimit({ maxValues: 4e6, storedValues: 1e6, source: 'config.json and model.safetensors' }, () => family.load(dir, manifest));
 */
export function withParameterLimit<T>(limit: ParameterLimit, build: () => T): T {
  const previous = activeLimit;
  const scope = { ...limit, built: 0, variables: [] as tf.Variable[] };
  activeLimit = scope;
  try {
    return build();
  } catch (error) {
    for (const variable of scope.variables) if (!variable.isDisposed) variable.dispose();
    throw error;
  } finally {
    activeLimit = previous;
  }
}

let threadLimit: { maxValues: number; built: number; refusal: (built: number, name: string, shape: number[]) => string } | undefined;

/**
 * Bounds every parameter this thread builds from now on (a training worker, which runs one job):
 * past `maxValues` values in all, the next ParamBuilder call throws BAD_ARGUMENT with `refusal`'s
 * message before allocating anything, so a config of absurd sizes fails at once, not after
 * exhausting memory.
 *
 * @example
 * limitParametersBuilt(1e8, (built) => `the model would have more than ${built} parameters`);
 */
export function limitParametersBuilt(maxValues: number, refusal: (built: number, name: string, shape: number[]) => string): void {
  threadLimit = { maxValues, built: 0, refusal };
}

/** Counts a parameter of `size` values against the active limits, before anything is allocated for it. */
function reserveValues(name: string, shape: number[]): number {
  const size = shape.reduce((a, b) => a * b, 1);
  if (threadLimit) {
    threadLimit.built += size;
    if (threadLimit.built > threadLimit.maxValues) throw new GenloomError('BAD_ARGUMENT', threadLimit.refusal(threadLimit.built, name, shape));
  }
  if (!activeLimit) return size;
  activeLimit.built += size;
  if (activeLimit.built > activeLimit.maxValues) {
    throw new GenloomError(
      'CORRUPT_FILE',
      `${activeLimit.source} do not belong together: the config describes a model of more than ${activeLimit.built.toLocaleString('en-US')} parameter values (at "${name}", shape [${shape.join(', ')}]) but the weights hold ${activeLimit.storedValues.toLocaleString('en-US')}`,
    );
  }
  return size;
}

/**
 * Builds parameters: `init(name, shape)` says how each is initialised. Random values come from
 * `random.fork(name)`, so adding a parameter never changes the others' initial values.
 */
export class ParamBuilder {
  readonly params: Params = {};
  constructor(private readonly random: Random) {}

  /** He/Kaiming-uniform-style init scaled by fan-in: suits ReLU-family activations. */
  weight(name: string, shape: number[], fanIn: number, gain = Math.SQRT2): tf.Variable {
    const bound = gain * Math.sqrt(3 / fanIn);
    const size = reserveValues(name, shape);
    const random = this.random.fork(name);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = (random.uniform() * 2 - 1) * bound;
    return this.add(name, tf.tensor(values, shape));
  }

  /** Normal with standard deviation `std` (GPT-2's init: 0.02). */
  normal(name: string, shape: number[], std: number): tf.Variable {
    const size = reserveValues(name, shape);
    return this.add(name, tf.tensor(this.random.fork(name).normalArray(size, std), shape));
  }

  constant(name: string, shape: number[], value = 0): tf.Variable {
    reserveValues(name, shape);
    return this.add(name, tf.fill(shape, value));
  }

  private add(name: string, initial: tf.Tensor): tf.Variable {
    if (Object.hasOwn(this.params, name)) throw new Error(`duplicate parameter name ${name}`);
    // Unnamed: tfjs variable names are process-global, and two models may share parameter names.
    const variable = tf.variable(initial, true);
    initial.dispose();
    activeLimit?.variables.push(variable);
    this.params[name] = variable;
    return variable;
  }
}
