/**
 * Matrix-product speed, the ceiling of every model's training step: GFLOPS of C = A·B (float32)
 * at a few sizes — square ones and the dense-layer shape of the transformer bench — for each
 * backend compared (native on one thread and on all cores, wasm), for PyTorch on the same machine
 * where python3 has torch (bench/peers/gemm.py on one thread and all cores; as installed, and with
 * OpenBLAS told this CPU's type), native's share of OpenBLAS at 1024³, and the CPU's theoretical
 * single-core peak from its clock and vector width.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { initEngine } from '../src/core/engine.ts';
import { loadNativeAddon } from '../src/core/native/addon.ts';
import * as tf from '../src/core/tf.ts';
import { openblasSettings, peerThreadCounts, runPytorch } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { medianMs } from './timing.ts';

const shapes: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [768, 128, 512],
];

function gflopsOf(quick: boolean): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    const ms = medianMs(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }, quick ? 3 : 10, 2);
    result[`${m}x${k}x${n}`] = (2 * m * k * n) / ms / 1e6;
    tf.dispose([a, b]);
  }
  return result;
}

export async function benchGemm({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cores = availableParallelism();
  const measured: Record<string, Record<string, number>> = {};
  // For `bench all`: the runners compared at 1024³ and at the transformer's shape, per thread count.
  const compared = new Set(['1024x1024x1024', '768x128x512']);
  const add = (label: string, gflops: Record<string, number>, note: string, runner: string, threads: number, setting?: string) => {
    measured[label] = gflops;
    for (const [m, k, n] of shapes) {
      const key = `${m}x${k}x${n}`;
      const comparison = compared.has(key) ? { kind: 'gemm' as const, subject: `SGEMM ${m}×${k}×${n}, ${threads} thread${threads > 1 ? 's' : ''}`, runner, ...(setting ? { setting } : {}) } : {};
      rows.push({ name: `${label} ${m}×${k}×${n}`, value: gflops[key]!, unit: 'GFLOPS', note, ...comparison });
    }
  };
  for (const backend of backends) {
    await initEngine({ backend });
    if (backend === 'native') {
      const addon = loadNativeAddon()!;
      const threads = addon.threads();
      addon.setThreads(1);
      add('native, 1 thread,', gflopsOf(quick), `${addon.isa()} micro-kernel`, backend, 1);
      addon.setThreads(threads);
      if (threads > 1) add(`native, ${threads} threads,`, gflopsOf(quick), `${addon.isa()} micro-kernel`, backend, threads);
    } else {
      add(`${backend}`, gflopsOf(quick), backend === 'wasm' ? 'XNNPACK, 1 thread (no threads in Node)' : 'pure JavaScript', backend, 1);
    }
  }
  for (const { label, coreType } of openblasSettings) {
    for (const threads of peerThreadCounts()) {
      const pytorch = runPytorch<{ gflops: Record<string, number> }>('gemm.py', [String(threads), ...shapes.map((shape) => shape.join(','))], coreType);
      if (typeof pytorch === 'string') {
        rows.push({ name: `PyTorch, ${label}`, value: NaN, unit: 'GFLOPS', note: pytorch });
        break;
      }
      add(`PyTorch ${threads} thread${threads > 1 ? 's' : ''}, ${label},`, pytorch.gflops, 'OpenBLAS via torch.mm', 'pytorch', threads, `${threads} thread${threads > 1 ? 's' : ''}, ${label}`);
    }
    if (!measured[`PyTorch 1 thread, ${label},`]) break;
  }
  // The targets: genloom's best against OpenBLAS on the same number of threads, at 1024³.
  const key = '1024x1024x1024';
  const native = measured[`native, ${cores} threads,`] ?? measured['native, 1 thread,'];
  const threads = measured[`native, ${cores} threads,`] ? cores : 1;
  for (const { label } of openblasSettings) {
    const blas = measured[`PyTorch ${threads} thread${threads > 1 ? 's' : ''}, ${label},`];
    if (native && blas) rows.push({ name: `native / OpenBLAS at 1024³, ${threads} thread${threads > 1 ? 's' : ''}, ${label}`, value: (100 * native[key]!) / blas[key]!, unit: '%', note: 'target ≥ 80%' });
  }
  const peak = singleCorePeak();
  rows.push({ name: 'theoretical peak, one core', value: peak.gflops, unit: 'GFLOPS', note: peak.how });
  return rows;
}

/**
 * Clock × float32 FLOPs per cycle. The vector width comes from /proc/cpuinfo's flags; the number of
 * FMA units cannot be read there, so two are assumed (true of recent server cores; state it).
 */
function singleCorePeak(): { gflops: number; how: string } {
  if (!existsSync('/proc/cpuinfo')) return { gflops: NaN, how: 'no /proc/cpuinfo to read the clock and vector width from' };
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const megahertz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? NaN);
  const flags = /flags\s*:\s*(.*)/.exec(info)?.[1]?.split(' ') ?? [];
  const lanes = flags.includes('avx512f') ? 16 : flags.includes('avx2') ? 8 : 4;
  const fma = flags.includes('fma') || flags.includes('avx512f') ? 2 : 1;
  const perCycle = lanes * fma * 2; // two FMA units, each `lanes` multiply-adds per cycle
  const isa = lanes === 16 ? 'AVX-512' : lanes === 8 ? 'AVX2' : 'SSE';
  return { gflops: (megahertz / 1000) * perCycle, how: `${(megahertz / 1000).toFixed(2)} GHz (the reported clock; turbo runs higher) × ${perCycle} FLOPs per cycle (${isa}${fma === 2 ? ' FMA' : ''}, two units assumed)` };
}
