/**
 * Text data memory: the peak resident memory of reading and tokenizing a 100 MB corpus (as
 * `train transformer --dataset FILE` does), with the character and a BPE tokenizer, each in a fresh
 * process; the goal is well under 10× the corpus size. The corpus is made once from KJV words in a
 * seeded order and kept in the system's temp folder. The baseline row is the same process with a
 * tiny corpus: Node and tfjs themselves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromSeed } from '../src/core/random.ts';
import { loadKjv } from '../src/data/kjv.ts';
import type { BenchRow } from './run.ts';

const megabytes = 100;

async function makeCorpus(path: string, bytes: number): Promise<void> {
  if (existsSync(path) && statSync(path).size >= bytes) return;
  const words = loadKjv().train.split(/\s+/).filter(Boolean);
  const random = fromSeed('text-memory');
  const out = createWriteStream(path);
  let written = 0;
  while (written < bytes) {
    let line = '';
    for (let i = 0; i < 12; i++) line += `${words[random.integer(words.length)]} `;
    line = `${line.trimEnd()}\n`;
    written += Buffer.byteLength(line);
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

function measure(path: string, kind: string): { tokens: number; peakMb: number; seconds: number } {
  const child = fileURLToPath(new URL('./text-memory-child.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', child, path, kind], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`the ${kind} run failed: ${result.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(result.stdout.trim());
}

export async function benchTextMemory({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const size = (quick ? 10 : megabytes) * 1_000_000;
  const corpus = join(tmpdir(), `genloom-text-memory-${size}.txt`);
  await makeCorpus(corpus, size);
  const small = join(tmpdir(), 'genloom-text-memory-small.txt');
  writeFileSync(small, 'a small corpus of a few words\n'.repeat(100));
  const corpusMb = statSync(corpus).size / 1e6;
  const baseline = measure(small, 'char');
  const rows: BenchRow[] = [{ name: 'baseline (tiny corpus)', value: baseline.peakMb, unit: 'MB peak', note: 'Node, tsx, the modules' }];
  for (const kind of ['char', 'bpe']) {
    const run = measure(corpus, kind);
    rows.push({ name: `${corpusMb.toFixed(0)} MB corpus, ${kind} tokenizer`, value: run.peakMb, unit: 'MB peak', note: `${((run.peakMb - baseline.peakMb) / corpusMb).toFixed(1)}× the corpus above the baseline; ${(run.tokens / 1e6).toFixed(1)}M tokens in ${run.seconds.toFixed(1)} s` });
  }
  return rows;
}
