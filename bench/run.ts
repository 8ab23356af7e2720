/**
 * `npm run bench -- NAME [--json] [--backend B] [--quick]`: speed measurements for people (a table) and
 * scripts (one JSON object). Benchmarks are scripts, never timed tests.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine, type BackendName } from '../src/core/engine.ts';
import { nativeBackendInfo } from '../src/core/native/backend.ts';
import { GenloomError } from '../src/core/errors.ts';
import { benchAll, compareRunners, formatComparison } from './all.ts';
import { benchClip } from './clip.ts';
import { benchDiffusion } from './diffusion.ts';
import { benchGan } from './gan.ts';
import { benchGemm } from './gemm.ts';
import { benchInBrowser } from './in-browser.ts';
import { benchMusic } from './music.ts';
import { benchPixelCnn } from './pixelcnn.ts';
import { benchServe } from './serve.ts';
import { benchSoak } from './soak.ts';
import { benchTextMemory } from './text-memory.ts';
import { benchTransformer } from './transformer.ts';
import { benchTxt2img } from './txt2img.ts';
import { benchVae } from './vae.ts';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
  /**
   * Rows that `bench all` compares across runners: a training step ('step', whose time is
   * `stepMs` whatever `unit` shows), a matrix product ('gemm') or a generation speed ('generation').
   */
  kind?: 'step' | 'gemm' | 'generation';
  /** What was measured, in the same words for every runner: the comparison table's row. */
  subject?: string;
  /** Who ran it: a backend ('native', 'wasm', …) or 'pytorch'. */
  runner?: string;
  /** PyTorch's setting (threads, OpenBLAS's threads and core type). */
  setting?: string;
  /** A step row's time in milliseconds. */
  stepMs?: number;
  /** A step row's tfjs kernels per step. */
  kernels?: number;
}

export interface BenchOptions {
  quick: boolean;
  /** Backends to compare, in order; the engine is on the first when the bench starts. */
  backends: BackendName[];
}

const benches: Record<string, (options: BenchOptions) => Promise<BenchRow[]>> = { all: benchAll, vae: benchVae, gan: benchGan, clip: benchClip, diffusion: benchDiffusion, txt2img: benchTxt2img, transformer: benchTransformer, 'text-memory': benchTextMemory, gemm: benchGemm, music: benchMusic, pixelcnn: benchPixelCnn, serve: benchServe, soak: benchSoak, 'in-browser': benchInBrowser };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'boolean' }, backend: { type: 'string' }, quick: { type: 'boolean' } },
});
try {
  const name = positionals[0];
  if (!name || !benches[name]) throw new GenloomError('BAD_ARGUMENT', `name a benchmark: ${Object.keys(benches).join(', ')} (e.g. npm run bench -- vae)`);
  // Without --backend, compare native (where built) with wasm in one run.
  const backend = await initEngine({ backend: values.backend });
  const backends: BackendName[] = values.backend ? [backend] : backend === 'native' ? ['native', 'wasm'] : [backend];
  const rows = await benches[name]!({ quick: Boolean(values.quick), backends });
  await initEngine({ backend });
  const native = nativeBackendInfo();
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, ...(native ? { nativeIsa: native.isa, nativeThreads: native.threads } : {}) };
  const date = new Date().toISOString();
  if (values.json) {
    const comparison = name === 'all' ? { table: compareRunners(rows) } : {};
    process.stdout.write(`${JSON.stringify({ bench: name, backends, date, machine, ...comparison, results: rows })}\n`);
  } else {
    const nativeNote = native ? ` (native: ${native.isa} GEMM, ${native.threads} threads)` : '';
    process.stdout.write(`genloom bench ${name} — backends ${backends.join(', ')}${nativeNote}, ${machine.cores}× ${machine.cpu}, Node ${machine.node}, ${date.slice(0, 10)}\n\n`);
    if (name === 'all') {
      process.stdout.write(formatComparison(compareRunners(rows)));
    } else {
      const width = Math.max(...rows.map((row) => row.name.length));
      for (const row of rows) {
        const value = Number.isFinite(row.value) ? row.value.toFixed(row.value < 10 ? 2 : 1) : '—';
        process.stdout.write(`${row.name.padEnd(width)}  ${value.padStart(10)} ${row.unit}${row.note ? `   (${row.note})` : ''}\n`);
      }
    }
  }
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = error instanceof GenloomError ? 2 : 1;
}
