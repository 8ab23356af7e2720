/**
 * Hearing a piece without a synthesizer: notes rendered to 16-bit PCM WAV by a small additive
 * synthesizer (a few harmonics per note with an attack–decay–release envelope, a soft piano-like
 * timbre), then normalized. Written by hand: the format is a 44-byte header and samples.
 */
import { writeFileAtomic } from '../io/atomic.ts';
import type { Note } from './midi.ts';

export interface RenderOptions {
  /** Quarter notes per minute. */
  bpm: number;
  sampleRate?: number;
}

/** Relative amplitudes of the harmonics: bright attack, mellow body. */
const harmonics = [1, 0.5, 0.25, 0.12, 0.06];
const attackSeconds = 0.01;
const releaseSeconds = 0.25;

/** Mono samples in [−1, 1]: the piece plus its last note's release. */
export function renderNotes(notes: readonly Note[], options: RenderOptions): Float32Array {
  const sampleRate = options.sampleRate ?? 22_050;
  const secondsPerBeat = 60 / options.bpm;
  // A loop, not Math.max(...list): a long piece has more notes than a call has room for arguments.
  let last = 0;
  for (const note of notes) last = Math.max(last, (note.start + note.duration) * secondsPerBeat);
  const end = last + releaseSeconds;
  const samples = new Float32Array(Math.ceil(end * sampleRate));
  for (const note of notes) {
    const frequency = 440 * 2 ** ((note.pitch - 69) / 12);
    const start = Math.round(note.start * secondsPerBeat * sampleRate);
    const held = note.duration * secondsPerBeat;
    const length = Math.ceil((held + releaseSeconds) * sampleRate);
    const loudness = (note.velocity / 127) ** 1.5 * 0.3;
    for (let i = 0; i < length && start + i < samples.length; i++) {
      const t = i / sampleRate;
      // Attack, then an exponential decay while held, then a linear release.
      let envelope = Math.min(1, t / attackSeconds) * Math.exp(-1.5 * Math.min(t, held));
      if (t > held) envelope *= Math.max(0, 1 - (t - held) / releaseSeconds);
      let value = 0;
      for (let h = 0; h < harmonics.length; h++) {
        const partial = frequency * (h + 1);
        if (partial >= sampleRate / 2) break; // above Nyquist it would alias
        // Higher partials die away faster, as on a struck string.
        value += harmonics[h]! * Math.sin(2 * Math.PI * partial * t) * Math.exp(-h * 1.2 * t);
      }
      samples[start + i]! += loudness * envelope * value;
    }
  }
  let peak = 0;
  for (const value of samples) peak = Math.max(peak, Math.abs(value));
  if (peak > 0.9) for (let i = 0; i < samples.length; i++) samples[i]! *= 0.9 / peak;
  return samples;
}

/** A canonical 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array, sampleRate: number, channels = 1): Buffer {
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28); // bytes per second
  out.writeUInt16LE(channels * 2, 32); // bytes per frame
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) {
    const value = Math.max(-1, Math.min(1, samples[i]!));
    out.writeInt16LE(value < 0 ? Math.round(value * 32768) : Math.round(value * 32767), 44 + 2 * i);
  }
  return out;
}

export function writeWav(path: string, notes: readonly Note[], options: RenderOptions): void {
  const sampleRate = options.sampleRate ?? 22_050;
  writeFileAtomic(path, encodeWav(renderNotes(notes, { ...options, sampleRate }), sampleRate));
}
