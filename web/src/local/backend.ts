/**
 * Choosing the page's tfjs backend: WebGPU where the browser has a usable adapter, else WebGL
 * (float32 textures needed for results that match the server), else the plain-JS cpu backend.
 * Each backend that was tried and passed over is reported with the reason, so the page can say
 * why it runs where it runs.
 */
import * as tf from '../../../src/core/tf.ts';
// Registers 'webgpu' (only when navigator.gpu exists); webgl and cpu come with the tfjs union that
// src/core/tf.ts imports.
import '@tensorflow/tfjs-backend-webgpu';

export const backendOrder = ['webgpu', 'webgl', 'cpu'] as const;
export type BackendName = (typeof backendOrder)[number];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was not used (or, for the one in use, a detail such as the WebGL version). */
  detail: string;
}

export interface BackendChoice {
  name: BackendName;
  attempts: BackendAttempt[];
}

interface GpuLike {
  requestAdapter(): Promise<unknown>;
}

/** Why WebGPU cannot run here, or undefined when an adapter is available. */
async function webgpuProblem(): Promise<string | undefined> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) return 'this browser has no navigator.gpu (WebGPU is off or unsupported)';
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return 'navigator.gpu.requestAdapter() found no GPU adapter';
  } catch (error) {
    return `requesting a WebGPU adapter failed: ${(error as Error).message}`;
  }
  return undefined;
}

async function tryBackend(name: BackendName): Promise<BackendAttempt> {
  if (name === 'webgpu') {
    const problem = await webgpuProblem();
    if (problem) return { name, ok: false, detail: problem };
  }
  if (!tf.findBackendFactory(name)) return { name, ok: false, detail: 'not registered in this build' };
  if (name === 'webgl') {
    // Shapes as uniforms: one compiled shader per op rather than per op and shape. The transformer's
    // KV cache grows by a token at every step, which otherwise compiles new shaders for every token.
    tf.env().set('WEBGL_USE_SHAPES_UNIFORMS', true);
  }
  let ok: boolean;
  try {
    // setBackend resolves false (after logging the cause) when the backend fails to initialise.
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    return { name, ok: false, detail: `initialising it failed: ${(error as Error).message}` };
  }
  if (!ok) return { name, ok: false, detail: 'initialising it failed (see the console)' };
  if (name === 'webgl') {
    const version = tf.env().getNumber('WEBGL_VERSION');
    if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE')) {
      return { name, ok: false, detail: `WebGL ${version} here cannot render float32 textures, so results would drift from the server's` };
    }
    return { name, ok: true, detail: `WebGL ${version}, float32 textures` };
  }
  if (name === 'cpu') return { name, ok: true, detail: 'plain JavaScript on the main thread (slow)' };
  return { name, ok: true, detail: 'GPU adapter found' };
}

/**
 * Switches tfjs to the first backend that works, in `backendOrder` from `preferred` on ('auto' = the
 * whole order), and says which one it is and why the ones before it were passed over.
 *
 * @example
 * const { name, attempts } = await chooseBackend();
 * status.textContent = `Running in this browser on ${name.toUpperCase()}`;
 */
export async function chooseBackend(preferred: BackendName | 'auto' = 'auto'): Promise<BackendChoice> {
  const order = preferred === 'auto' ? backendOrder : backendOrder.slice(backendOrder.indexOf(preferred));
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    const attempt = await tryBackend(name);
    attempts.push(attempt);
    if (attempt.ok) return { name, attempts };
  }
  throw new Error(`no tfjs backend works in this browser: ${attempts.map((attempt) => `${attempt.name}: ${attempt.detail}`).join('; ')}`);
}

/** The current backend's name as tfjs reports it. */
export function activeBackend(): string {
  return tf.getBackend();
}
