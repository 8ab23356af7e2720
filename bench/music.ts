/**
 * Music model speed, on each backend compared: a training step of the default (`small`: 2 × 256
 * LSTM, and the same with GRU cells) model on 32 windows of 256 events, its twin in PyTorch where
 * python3 has torch (bench/peers/music_rnn.py, in each setting of peerSettings), and composing 16
 * pieces of 8 bars at once (event by event, as `sample` does). Composing uses the shipped
 * models/music-bach when it is there (its notes per second are those of real chorales), otherwise
 * a model with random weights of the same size.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { readManifest } from '../src/io/checkpoint.ts';
import { parseMusicConfig } from '../src/models/music/config.ts';
import { musicFamily } from '../src/models/music/index.ts';
import { MusicRnn, pitchCount, type EventBatch } from '../src/models/music/rnn.ts';
import { composeMusic } from '../src/models/music/sampler.ts';
import { defaultTokenSampling } from '../src/sampling/token-sampling.ts';
import { AdamW } from '../src/train/adam.ts';
import { initEngine } from '../src/core/engine.ts';
import { pytorchStepRows } from './peers.ts';
import type { BenchOptions, BenchRow } from './run.ts';
import { adamStep, medianMs, stepTiming } from './timing.ts';

const shipped = fileURLToPath(new URL('../models/music-bach', import.meta.url));
const [windows, length] = [32, 256];

/** The training step of one cell type on the backend the engine is on now. */
function stepMs(cell: 'lstm' | 'gru', repeats: number): { ms: number; kernels: number } {
  const config = parseMusicConfig({ cell, stepsPerQuarter: 4, maxShift: 32, velocityBins: 0 });
  const model = new MusicRnn(config, fromSeed(1));
  const optimizer = new AdamW(model.params);
  const random = fromSeed(2);
  const ids = () => tf.tensor2d(Int32Array.from({ length: windows * length }, () => random.integer(model.vocabularySize)), [windows, length], 'int32');
  // About four notes sounding at each event, as in a chorale.
  const sounding = tf.tensor3d(Float32Array.from({ length: windows * length * pitchCount }, () => (random.uniform() < 4 / pitchCount ? 1 : 0)), [windows, length, pitchCount]);
  const batch: EventBatch = { inputs: ids(), targets: ids(), mask: tf.ones([windows, length]) as tf.Tensor2D, styles: tf.zeros([windows], 'int32') as tf.Tensor1D, sounding };
  const timing = stepTiming((i) => adamStep(model.params, optimizer, () => model.loss(batch, fromSeed(i)).total), repeats, 1);
  tf.dispose(batch as unknown as tf.TensorContainer);
  optimizer.dispose();
  model.dispose();
  return timing;
}

/** Composing 16 pieces of 8 bars at once on the backend the engine is on now: events and notes per second. */
function compose(quick: boolean): { eventsPerSecond: number; notesPerSecond: number; notes: number; composeMs: number; source: string } {
  const useShipped = existsSync(shipped);
  const loaded = useShipped ? musicFamily.load(shipped, readManifest(shipped)) : null;
  const music = loaded?.music;
  const stepsPerQuarter = music?.stepsPerQuarter ?? 4;
  const pieces = 16;
  const steps = 8 * 4 * stepsPerQuarter;
  let events = 0;
  let notes = 0;
  const fallback = useShipped ? null : new MusicRnn(parseMusicConfig({ stepsPerQuarter, maxShift: 32, velocityBins: 0 }), fromSeed(3));
  const composeMs = medianMs((i) => {
    const options = { ...defaultTokenSampling, styles: new Array<number>(pieces).fill(0), steps, random: fromSeed(i) };
    const result = music ? music.compose(options) : composeMusic(fallback!, options.random, options);
    events = result.reduce((sum, piece) => sum + piece.events.length, 0);
    notes = result.reduce((sum, piece) => sum + piece.notes.length, 0);
  }, quick ? 1 : 3, 0);
  loaded?.dispose();
  fallback?.dispose();
  const source = useShipped ? 'models/music-bach' : 'random weights (models/music-bach not found)';
  return { eventsPerSecond: (events * 1000) / composeMs, notesPerSecond: (notes * 1000) / composeMs, notes, composeMs, source };
}

export async function benchMusic({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const repeats = quick ? 2 : 5;
  const rows: BenchRow[] = [];
  const cells = ['lstm', 'gru'] as const;
  const steps = new Map<string, [string, number][]>(cells.map((cell) => [cell, []]));
  const subjectOf = (cell: string) => `music ${cell.toUpperCase()} train step (32 × 256 events)`;
  for (const backend of backends) {
    await initEngine({ backend });
    for (const cell of cells) {
      const { ms, kernels } = stepMs(cell, repeats);
      steps.get(cell)!.push([backend, ms]);
      rows.push({ name: `${backend}: ${cell}: train step (32 × 256 events)`, value: ms, unit: 'ms', note: `median of ${repeats}; 2 × 256 units; ${kernels} kernels per step`, kind: 'step', subject: subjectOf(cell), runner: backend, stepMs: ms, kernels });
      rows.push({ name: `${backend}: ${cell}: train throughput`, value: (windows * length * 1000) / ms, unit: 'events/s' });
    }
    const composed = compose(quick);
    rows.push({ name: `${backend}: compose: events`, value: composed.eventsPerSecond, unit: 'events/s', note: `16 pieces of 8 bars at once, ${composed.source}`, kind: 'generation', subject: 'music composing, 16 pieces at once', runner: backend });
    rows.push({ name: `${backend}: compose: notes`, value: composed.notesPerSecond, unit: 'notes/s', note: `${composed.notes} notes in ${(composed.composeMs / 1000).toFixed(1)} s` });
  }
  for (const cell of cells) {
    rows.push(...pytorchStepRows('music_rnn.py', (threads) => [String(threads), String(repeats), cell], subjectOf(cell), steps.get(cell)!));
  }
  return rows;
}
