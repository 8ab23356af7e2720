import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import * as tf from '../../core/tf.ts';
import { fromSeed } from '../../core/random.ts';
import { noteOffOffset, timeShiftOffset } from '../../music/events.ts';
import { windowsBatch } from './sequences.ts';

await initEngine();

test('the sounding-notes input: what sounds after each input event, carried into a window from before it and moved by its transposition', () => {
  const on = (pitch: number) => pitch;
  const off = (pitch: number) => noteOffOffset + pitch;
  const shift = timeShiftOffset; // one step
  // C and E on, a step, E off, G on, a step, C off, a step, G off.
  const ids = Int32Array.from([on(60), on(64), shift, off(64), on(67), shift, off(60), shift, off(67)]);
  const sequences = [{ ids, style: 0 }];
  const sounding = (batch: ReturnType<typeof windowsBatch>, row: number) =>
    (batch.sounding!.arraySync() as number[][][])[row]!.map((pitches) => pitches.flatMap((value, pitch) => (value ? [pitch] : [])));
  const whole = windowsBatch(sequences, [{ sequence: 0, start: 0, end: ids.length - 1 }], { sounding: true });
  assert.deepEqual(sounding(whole, 0), [[60], [60, 64], [60, 64], [60], [60, 67], [60, 67], [67], [67]]);
  // A window from event 3 (E off) knows C and E were left on before it.
  const late = windowsBatch(sequences, [{ sequence: 0, start: 3, end: ids.length - 1 }], { sounding: true });
  assert.deepEqual(sounding(late, 0), [[60], [60, 67], [60, 67], [67], [67]]);
  // Transposed windows move the carried notes with their events: find a draw that moved it.
  const moved = windowsBatch(sequences, [{ sequence: 0, start: 3, end: ids.length - 1 }], { sounding: true, transpose: 3, random: fromSeed(1) });
  const by = (moved.inputs.arraySync() as number[][])[0]![1]! - 67;
  assert.deepEqual(sounding(moved, 0), [[60 + by], [60 + by, 67 + by], [60 + by, 67 + by], [67 + by], [67 + by]]);
  assert.equal(windowsBatch(sequences, [{ sequence: 0, start: 0, end: 4 }]).sounding, undefined, 'only models that read it get it');
  tf.dispose([whole, late, moved] as unknown as tf.TensorContainer);
});
