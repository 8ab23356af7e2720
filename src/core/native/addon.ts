/**
 * Loads genloom's compiled C++ kernels (the `genloom-native` package in native/, built by
 * `npm install` when a C++ compiler is present). Returns null when the addon was not built, or
 * GENLOOM_NATIVE=0 says to ignore it, so the engine falls back to wasm.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

export type NativeAddon = typeof import('genloom-native');

let loaded: NativeAddon | null | undefined;

export function loadNativeAddon(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  if (process.env['GENLOOM_NATIVE'] === '0') return (loaded = null); // as if it had not been built
  try {
    loaded = createRequire(import.meta.url)('genloom-native') as NativeAddon;
    loaded.setThreads(threadCount());
  } catch {
    loaded = null;
  }
  return loaded;
}

/** GENLOOM_THREADS, else every core Node may use; tfjs does no threading of its own to share them with. */
function threadCount(): number {
  const requested = Number(process.env['GENLOOM_THREADS']);
  return Number.isInteger(requested) && requested >= 1 ? Math.min(requested, 256) : availableParallelism();
}
