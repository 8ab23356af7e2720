/**
 * Running a PyTorch twin of a benchmark (bench/peers/*.py) on the same machine,
 * and reading the JSON line it prints.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './run.ts';

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
 * `args[0]` is the script's thread count, which its BLAS is told too unless `blasThreads` says
 * otherwise.
 */
export function runPytorch<T>(script: string, args: string[], openblasCoreType?: string, blasThreads?: number): T | string {
  const threads = args[0] ?? '1';
  const path = fileURLToPath(new URL(`./peers/${script}`, import.meta.url));
  const env = { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: String(blasThreads ?? threads), ...(openblasCoreType ? { OPENBLAS_CORETYPE: openblasCoreType } : {}) };
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

/** One way of running a PyTorch twin: torch's threads, OpenBLAS's own threads, and its core type. */
export interface PeerSetting {
  threads: number;
  blasThreads: number;
  coreType: string | undefined;
  /** "2 threads, OpenBLAS on 1, OPENBLAS_CORETYPE=SkylakeX" */
  label: string;
}

/**
 * The settings a twin of a training step runs in, so that its best one is known: one thread and
 * every core, as installed and with OpenBLAS told the CPU type; on several cores also with OpenBLAS
 * on one thread. Debian's OpenBLAS keeps a thread pool of its own, and torch calls it from inside
 * its own parallel loops (convolution backward passes, batched products), so n torch threads each
 * waking n OpenBLAS threads oversubscribe the cores: on the 2-core VM the baby GPT step took 127 ms
 * that way and 61 ms with OpenBLAS on one thread (1 thread: 68 ms).
 */
export function peerSettings(): PeerSetting[] {
  const settings: PeerSetting[] = [];
  for (const { label, coreType } of openblasSettings) {
    for (const threads of peerThreadCounts()) {
      const blasCounts = threads > 1 ? [threads, 1] : [1];
      for (const blasThreads of blasCounts) {
        const blas = blasThreads !== threads ? `, OpenBLAS on ${blasThreads}` : '';
        settings.push({ threads, blasThreads, coreType, label: `${threads} thread${threads > 1 ? 's' : ''}${blas}, ${label}` });
      }
    }
  }
  return settings;
}

/**
 * A training step's PyTorch twin (bench/peers/<script>, called with `argsFor(threads)`) in every
 * setting of peerSettings: one row each, with the backends' speed relative to it, marked for
 * `bench all` (kind 'step', runner 'pytorch', the same `subject` as the backends' step rows). The
 * value is the step's milliseconds, or `throughput.perStep` items per second in `throughput.unit`.
 * Where torch cannot run, one row says why.
 */
export function pytorchStepRows(script: string, argsFor: (threads: number) => string[], subject: string, steps: readonly [string, number][], throughput?: { perStep: number; unit: string }): BenchRow[] {
  const rows: BenchRow[] = [];
  const unit = throughput?.unit ?? 'ms';
  for (const setting of peerSettings()) {
    const pytorch = runPytorch<{ ms_per_step: number; blas?: string }>(script, argsFor(setting.threads), setting.coreType, setting.blasThreads);
    if (typeof pytorch === 'string') {
      rows.push({ name: 'same step in PyTorch', value: NaN, unit, note: pytorch });
      break;
    }
    const ms = pytorch.ms_per_step;
    // The twin reads which BLAS it loaded: Debian's torch on the reference BLAS (what installing
    // python3-torch alone brings) runs several times slower than PyTorch does; say so in the row.
    const warning = pytorch.blas === 'reference' ? `; not PyTorch's speed: it ran on the reference BLAS (apt-get install libopenblas0-pthread)` : '';
    rows.push({
      name: `same step in PyTorch, ${setting.label}`,
      value: throughput ? (throughput.perStep * 1000) / ms : ms,
      unit,
      note: `bench/peers/${script}; ${speedRatios(steps, ms)}${warning}`,
      kind: 'step',
      subject,
      runner: 'pytorch',
      setting: `${setting.label}${pytorch.blas === 'reference' ? ', on the reference BLAS' : ''}`,
      stepMs: ms,
    });
  }
  return rows;
}
