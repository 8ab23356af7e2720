/**
 * A piano-roll picture of notes: time left to right, pitch bottom to top, one row per semitone over
 * the piece's range, bar lines, C rows shaded, note brightness by velocity.
 */
import { writePng, type ImageData01 } from '../io/image.ts';
import type { Note } from './midi.ts';

export interface PianoRollImageOptions {
  beatsPerBar?: number;
  /** Pixels per quarter note and per semitone. */
  pixelsPerBeat?: number;
  pixelsPerPitch?: number;
}

/** The widest picture drawn, in pixels. */
const maxWidth = 16_384;

export function pianoRollImage(notes: readonly Note[], options: PianoRollImageOptions = {}): ImageData01 {
  const beatsPerBar = options.beatsPerBar ?? 4;
  const pixelsPerPitch = options.pixelsPerPitch ?? 4;
  // Loops, not Math.min(...list): a long piece has more notes than a call has room for arguments.
  let lowest = Infinity;
  let highest = -Infinity;
  let last = 0;
  for (const note of notes) {
    lowest = Math.min(lowest, note.pitch);
    highest = Math.max(highest, note.pitch);
    last = Math.max(last, note.start + note.duration);
  }
  const low = notes.length ? lowest - 2 : 58;
  const high = notes.length ? highest + 2 : 70;
  const beats = Math.max(beatsPerBar, Math.ceil(last / beatsPerBar) * beatsPerBar);
  // A long piece is drawn narrower per beat, so the picture stays a bounded size (≤ ~100 MB of floats).
  const pixelsPerBeat = Math.min(options.pixelsPerBeat ?? 16, maxWidth / beats);
  const width = Math.ceil(beats * pixelsPerBeat);
  const height = (high - low + 1) * pixelsPerPitch;
  const data = new Float32Array(width * height * 3);
  const paint = (x: number, y: number, rgb: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    data.set(rgb, (y * width + x) * 3);
  };
  for (let pitch = low; pitch <= high; pitch++) {
    const shade: [number, number, number] = pitch % 12 === 0 ? [0.86, 0.88, 0.92] : [0.97, 0.97, 0.97];
    const top = (high - pitch) * pixelsPerPitch;
    for (let y = top; y < top + pixelsPerPitch; y++) for (let x = 0; x < width; x++) paint(x, y, shade);
  }
  for (let beat = 0; beat <= beats; beat++) {
    const bar = beat % beatsPerBar === 0;
    if (!bar && pixelsPerBeat < 4) continue; // beat lines closer than 4 px would grey the whole picture
    const x = Math.min(width - 1, Math.floor(beat * pixelsPerBeat));
    const line: [number, number, number] = bar ? [0.55, 0.55, 0.6] : [0.85, 0.85, 0.88];
    for (let y = 0; y < height; y++) paint(x, y, line);
  }
  for (const note of notes) {
    const x0 = Math.round(note.start * pixelsPerBeat);
    const x1 = Math.max(x0 + 1, Math.round((note.start + note.duration) * pixelsPerBeat) - 1);
    const top = (high - note.pitch) * pixelsPerPitch;
    const strength = 0.35 + 0.65 * (note.velocity / 127);
    const colour: [number, number, number] = [0.9 - 0.75 * strength, 0.45 - 0.25 * strength, 0.25 + 0.45 * strength];
    for (let y = top; y < top + pixelsPerPitch - 1; y++) for (let x = x0; x < x1; x++) paint(x, y, colour);
  }
  return { width, height, channels: 3, data };
}

export function writePianoRoll(path: string, notes: readonly Note[], options: PianoRollImageOptions = {}): void {
  writePng(path, pianoRollImage(notes, options));
}
