/**
 * The studio server under load: `concurrency` clients on loopback send generate requests (a mix of
 * VAE, GAN and transformer) back to back for a bounded time. Every request must be answered — 200,
 * or 429 when the queue is full — and never fail or hang; the generation worker's live tensors and
 * the server's heap are read before and after to show nothing leaks.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveServerOptions, startServer } from '../src/server/app.ts';
import { tempDir } from '../test/fixtures.ts';
import type { BenchRow } from './run.ts';

const shipped = fileURLToPath(new URL('../models/', import.meta.url));

const mix = [
  { model: 'vae-mnist', body: { n: 4 } },
  { model: 'gan-mnist', body: { n: 4, label: '3' } },
  { model: 'transformer-kjv', body: { prompt: 'And', maxTokens: 16 } },
];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchServe({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const seconds = quick ? 8 : 30;
  const concurrency = 32;
  const modelsDir = tempDir('genloom-bench-models-');
  const runsDir = tempDir('genloom-bench-runs-');
  for (const { model } of mix) cpSync(join(shipped, model), join(modelsDir, model), { recursive: true });
  const server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0 }));
  const health = async () => (await (await fetch(`${server.url}/api/health`)).json()) as { generation: { worker?: { numTensors: number; heapUsed: number } } };
  try {
    // Warm up: load every model once so the measurement is of serving, not of loading.
    for (const { model, body } of mix) await fetch(`${server.url}/api/models/${model}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, seed: 0 }) });
    global.gc?.();
    const before = await health();
    const heapBefore = process.memoryUsage().heapUsed;
    const latencies: number[] = [];
    let ok = 0;
    let rejected = 0;
    let errors = 0;
    let seed = 1;
    const deadline = performance.now() + seconds * 1000;
    const client = async (index: number) => {
      let turn = index;
      while (performance.now() < deadline) {
        const { model, body } = mix[turn++ % mix.length]!;
        const started = performance.now();
        try {
          const response = await fetch(`${server.url}/api/models/${model}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, seed: seed++ }), signal: AbortSignal.timeout(60_000) });
          await response.arrayBuffer();
          if (response.status === 200) {
            ok += 1;
            latencies.push(performance.now() - started);
          } else if (response.status === 429) {
            rejected += 1;
            // A refused client backs off a little, as a polite one would.
            await new Promise((resolve) => setTimeout(resolve, 50));
          } else errors += 1;
        } catch {
          errors += 1;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
    const elapsed = (performance.now() - started) / 1000;
    global.gc?.();
    const after = await health();
    latencies.sort((a, b) => a - b);
    const tensorsBefore = before.generation.worker?.numTensors ?? Number.NaN;
    const tensorsAfter = after.generation.worker?.numTensors ?? Number.NaN;
    return [
      { name: 'answered (200)', value: ok / elapsed, unit: 'requests/s', note: `${ok} in ${elapsed.toFixed(1)} s, ${concurrency} clients, VAE/GAN/transformer mix` },
      { name: 'latency p50', value: percentile(latencies, 50), unit: 'ms' },
      { name: 'latency p99', value: percentile(latencies, 99), unit: 'ms' },
      { name: 'rejected (429, queue full)', value: rejected, unit: 'requests' },
      { name: 'errors (neither 200 nor 429)', value: errors, unit: 'requests' },
      { name: 'worker live tensors, after − before', value: tensorsAfter - tensorsBefore, unit: 'tensors', note: `${tensorsBefore} → ${tensorsAfter}` },
      { name: 'server heap, after − before', value: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20, unit: 'MiB' },
    ];
  } finally {
    await server.close();
    rmSync(modelsDir, { recursive: true, force: true });
    rmSync(runsDir, { recursive: true, force: true });
  }
}
