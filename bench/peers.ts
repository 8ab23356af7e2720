/**
 * Running a PyTorch twin of a benchmark (bench/peers/*.py) on the same machine,
 * and reading the JSON line it prints.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Debian's OpenBLAS 0.3.21 takes this machine's Xeon for an old SSE3 core ("Prescott") unless told
 * its type, so the benches show PyTorch both as installed and with its AVX-512 kernels.
 */
export const openblasSettings = [
  { label: 'as installed', coreType: undefined },
  { label: 'OPENBLAS_CORETYPE=SkylakeX', coreType: 'SkylakeX' },
] as const;

/**
 * The parsed last stdout line of bench/peers/<script> run with `args`, or why it could not run.
 * `args[0]` is the script's thread count, which its BLAS is told too.
 */
export function runPytorch<T>(script: string, args: string[], openblasCoreType?: string): T | string {
  const threads = args[0] ?? '1';
  const path = fileURLToPath(new URL(`./peers/${script}`, import.meta.url));
  // BLAS gets the script's thread count: a pool of its own on top would oversubscribe.
  const env = { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, ...(openblasCoreType ? { OPENBLAS_CORETYPE: openblasCoreType } : {}) };
  let result = spawnSync('python3', [path, ...args], { encoding: 'utf8', env });
  // Debian's torch is built for Debian's python3, which a user's PATH may shadow (pyenv, venvs).
  if ((result.error || result.status !== 0) && existsSync('/usr/bin/python3')) result = spawnSync('/usr/bin/python3', [path, ...args], { encoding: 'utf8', env });
  if (result.error || result.status !== 0) {
    const reason = result.error ? 'python3 not found' : /No module named .torch/.test(result.stderr) ? 'torch is not installed (apt-get install python3-torch)' : result.stderr.trim().split('\n').at(-1);
    return `not measured: ${reason}`;
  }
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as T;
}

/** "native runs at 0.84× its speed; wasm runs at 0.47× its speed": each backend's speed relative to the peer's. */
export function speedRatios(stepsMs: readonly [string, number][], peerMs: number): string {
  return stepsMs.map(([backend, ms]) => `${backend} runs at ${(peerMs / ms).toFixed(2)}× its speed`).join('; ');
}

/** The thread counts a peer is measured on: one, and every core where there are more. */
export function peerThreadCounts(): number[] {
  const cores = availableParallelism();
  return cores > 1 ? [1, cores] : [1];
}
