import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import { fromSeed } from '../../core/random.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { writeMidi, type Note } from '../../music/midi.ts';
import { musicFamily } from './index.ts';

const backend = await initEngine();
const dir = mkdtempSync(join(tmpdir(), 'genloom-music-model-'));
const scale: Note[] = [60, 62, 64, 65, 67, 69, 71, 72].map((pitch, i) => ({ pitch, start: i, duration: 1, velocity: 80 }));
const scaleFile = join(dir, 'scale.mid');
writeMidi(scaleFile, { notes: scale, bpm: 120, beatsPerBar: 4 });
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

test('a tiny music model memorizes a scale written as MIDI, composes it greedily, and continues a primer', async () => {
  const out = join(dir, 'run');
  await musicFamily.train({
    dataset: scaleFile,
    outDir: out,
    seed: 1,
    steps: 150,
    batchSize: 1,
    learningRate: 1e-2,
    resume: false,
    preset: 'tiny',
    config: { dropout: 0, velocityBins: 0 },
    command: 'test',
    quiet: true,
    backend,
  });
  const model = musicFamily.load(out, readManifest(out));
  const music = model.music!;
  assert.deepEqual(music.styles, ['scale']);
  assert.equal(music.stepsPerQuarter, 4);
  const [piece] = music.compose({ ...greedy, styles: [0], steps: 32, random: fromSeed(1) });
  assert.deepEqual(piece!.notes.map((note) => [note.pitch, note.start, note.duration]), scale.map((note) => [note.pitch, note.start, note.duration]));
  // Primed with the first three notes, it plays the rest of the scale after them.
  const [continued] = music.compose({ ...greedy, styles: [0], primer: scale.slice(0, 3), steps: 32, random: fromSeed(2) });
  assert.deepEqual(continued!.notes.map((note) => note.pitch), scale.map((note) => note.pitch));
  // Sampling is seeded: the same seed gives the same piece, another seed another one.
  const draw = (seed: number) => music.compose({ temperature: 3, topK: 0, topP: 1, repetitionPenalty: 1, styles: [0, 0], steps: 32, random: fromSeed(seed) }).map((p) => p.events.join(','));
  assert.deepEqual(draw(5), draw(5));
  assert.notDeepEqual(draw(5), draw(6));
  model.dispose();
});
