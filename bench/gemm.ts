/**
 * Matrix-product speed, the ceiling of every model's training step: GFLOPS of C = A·B (float32,
 * single thread) at a few sizes — square ones and the dense-layer shape of the transformer bench —
 * for the tfjs backend in use, for PyTorch on the same machine where python3 has torch
 * (bench/peers/gemm.py; as installed, and with OpenBLAS told this CPU's type), and the CPU's
 * theoretical single-core peak from its clock and vector width.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '../src/core/tf.ts';
import { openblasSettings, runPytorch } from './peers.ts';
import type { BenchRow } from './run.ts';
import { medianMs } from './timing.ts';

const shapes: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [768, 128, 512],
];

export async function benchGemm({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const backend = tf.getBackend();
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    const ms = medianMs(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }, quick ? 3 : 10, 2);
    rows.push({ name: `${backend} ${m}×${k}×${n}`, value: (2 * m * k * n) / ms / 1e6, unit: 'GFLOPS', note: `${ms.toFixed(2)} ms per product` });
    tf.dispose([a, b]);
  }
  for (const { label, coreType } of openblasSettings) {
    const pytorch = runPytorch<{ gflops: Record<string, number> }>('gemm.py', ['1', ...shapes.map((shape) => shape.join(','))], coreType);
    if (typeof pytorch === 'string') {
      rows.push({ name: `PyTorch, ${label}`, value: NaN, unit: 'GFLOPS', note: pytorch });
      break;
    }
    for (const [m, k, n] of shapes) rows.push({ name: `PyTorch ${m}×${k}×${n}, ${label}`, value: pytorch.gflops[`${m}x${k}x${n}`]!, unit: 'GFLOPS', note: '1 thread' });
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
