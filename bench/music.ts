/**
 * Music model speed: a training step of the default (`small`: 2 × 256 LSTM) model on 32 windows of
 * 256 events, and composing 16 pieces of 8 bars at once (event by event, as `sample` does). Composing
 * uses the shipped models/music-bach when it is there (its notes per second are those of real
 * chorales), otherwise a model with random weights of the same size.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromSeed } from '../src/core/random.ts';
import * as tf from '../src/core/tf.ts';
import { readManifest } from '../src/io/checkpoint.ts';
import { parseMusicConfig } from '../src/models/music/config.ts';
import { musicFamily } from '../src/models/music/index.ts';
import { MusicRnn, type EventBatch } from '../src/models/music/rnn.ts';
import { composeMusic } from '../src/models/music/sampler.ts';
import { defaultTokenSampling } from '../src/sampling/token-sampling.ts';
import { AdamW } from '../src/train/adam.ts';
import type { BenchRow } from './run.ts';
import { adamStep, medianMs } from './timing.ts';

const shipped = fileURLToPath(new URL('../models/music-bach', import.meta.url));

export async function benchMusic({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const cell of ['lstm', 'gru'] as const) {
    const config = parseMusicConfig({ cell, stepsPerQuarter: 4, maxShift: 32, velocityBins: 0 });
    const model = new MusicRnn(config, fromSeed(1));
    const optimizer = new AdamW(model.params);
    const [windows, length] = [32, 256];
    const random = fromSeed(2);
    const ids = () => tf.tensor2d(Int32Array.from({ length: windows * length }, () => random.integer(model.vocabularySize)), [windows, length], 'int32');
    const batch: EventBatch = { inputs: ids(), targets: ids(), mask: tf.ones([windows, length]) as tf.Tensor2D, styles: tf.zeros([windows], 'int32') as tf.Tensor1D };
    const repeats = quick ? 2 : 5;
    const stepMs = medianMs((i) => adamStep(model.params, optimizer, () => model.loss(batch, fromSeed(i)).total), repeats, 1);
    rows.push({ name: `${cell}: train step (32 × 256 events)`, value: stepMs, unit: 'ms', note: `median of ${repeats}; 2 × 256 units` });
    rows.push({ name: `${cell}: train throughput`, value: (windows * length * 1000) / stepMs, unit: 'events/s' });
    tf.dispose(batch as unknown as tf.TensorContainer);
    optimizer.dispose();
    model.dispose();
  }
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
  const source = useShipped ? 'models/music-bach' : 'random weights (models/music-bach not found)';
  rows.push({ name: 'compose: events', value: (events * 1000) / composeMs, unit: 'events/s', note: `${pieces} pieces of 8 bars at once, ${source}` });
  rows.push({ name: 'compose: notes', value: (notes * 1000) / composeMs, unit: 'notes/s', note: `${notes} notes in ${(composeMs / 1000).toFixed(1)} s` });
  loaded?.dispose();
  fallback?.dispose();
  return rows;
}
