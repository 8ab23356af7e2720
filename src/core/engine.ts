/**
 * Engine setup: the one place that chooses and initialises the tfjs backend.
 *
 * Order for `auto`: `native` (the project's own multi-core backend, when its package is built and
 * importable), then `wasm` (XNNPACK, SIMD, one thread in Node), then the pure-JS `cpu` backend as
 * the slow last resort. `--backend` / GENLOOM_BACKEND force one.
 */
import * as tf from './tf.ts';
import { GenloomError } from './errors.ts';

export type BackendName = 'native' | 'wasm' | 'cpu';
export const backendNames: readonly BackendName[] = ['native', 'wasm', 'cpu'];

let initialised: BackendName | null = null;
const notices: string[] = [];

async function tryNative(): Promise<boolean> {
  const { registerNativeBackend } = await import('./native/backend.ts');
  return registerNativeBackend() && (await tf.setBackend('native'));
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmKernels } = await import('./kernels/wasm-kernels.ts');
    registerWasmKernels();
    return await tf.setBackend('wasm');
  } catch (error) {
    notices.push(`wasm backend unavailable (${(error as Error).message})`);
    return false;
  }
}

function requestedBackend(explicit?: string): BackendName | 'auto' {
  const requested = (explicit || process.env['GENLOOM_BACKEND'] || 'auto').toLowerCase();
  if (requested === 'auto' || (backendNames as readonly string[]).includes(requested)) {
    return requested as BackendName | 'auto';
  }
  throw new GenloomError(
    'BAD_ARGUMENT',
    `unknown backend "${requested}": choose one of auto, ${backendNames.join(', ')}`,
  );
}

/**
 * Initialises tfjs once per process and returns the backend in use. Later calls return the same
 * backend unless a different one is forced explicitly.
 * @example
 * const backend = await initEngine({ backend: process.env.GENLOOM_BACKEND });
 */
export async function initEngine(options: { backend?: string } = {}): Promise<BackendName> {
  const requested = requestedBackend(options.backend);
  if (initialised && (requested === 'auto' || requested === initialised)) return initialised;
  const attempts: Record<BackendName, () => Promise<boolean>> = {
    native: tryNative,
    wasm: tryWasm,
    cpu: async () => tf.setBackend('cpu'),
  };
  const order: BackendName[] = requested === 'auto' ? ['native', 'wasm', 'cpu'] : [requested];
  for (const name of order) {
    if (await attempts[name]()) {
      await tf.ready();
      initialised = name;
      if (requested === 'auto' && name === 'cpu') {
        process.emitWarning(`genloom: falling back to the slow cpu backend (${notices.join('; ')})`);
      }
      return name;
    }
  }
  throw new GenloomError(
    'BACKEND',
    `backend "${requested}" could not be initialised${notices.length ? `: ${notices.join('; ')}` : ''}` +
      (requested === 'native' ? ' (the native backend is not built on this machine)' : ''),
  );
}

/**
 * The tfjs backend in use.
 *
 * @example
 * await initEngine();
 * currentBackend(); // 'native', 'wasm' or 'cpu'
 */
export function currentBackend(): string {
  return tf.getBackend();
}
