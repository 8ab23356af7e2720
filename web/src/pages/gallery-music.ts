// The gallery for the music model: style, bars and temperature; a piano roll, Play/Stop, MIDI and WAV.
import { api } from '../api.ts';
import { announce, downloadButton, field, h, optionalNumber, pixelImage, seedControl, select } from '../dom.ts';
import type { GenerateRequest, ModelInfo, MusicResult } from '../types.ts';
import { preferenceWidget, ratingWidget } from '../ui/feedback.ts';
import { musicPlayer } from '../ui/music-player.ts';
import type { ProgressBar } from '../ui/progress.ts';
import type { Controls } from './gallery.ts';

export function musicControls(info: ModelInfo): Controls {
  const seed = seedControl();
  const style = info.styles?.length ? select(info.styles, info.styles[0], 'style') : undefined;
  const bars = optionalNumber('Bars', 4, { min: 1, max: 64, step: 1, testid: 'bars' });
  const temperature = optionalNumber('Temperature', 1, { min: 0, max: 5, step: 0.05, testid: 'temperature' });
  return {
    elements: [seed.element, ...(style ? [field('Style', style)] : []), bars.element, temperature.element],
    read() {
      const request: GenerateRequest = { seed: Number(seed.input.value) };
      if (style) request.style = style.value;
      const barCount = bars.read();
      const heat = temperature.read();
      if (barCount !== undefined) request.bars = barCount;
      if (heat !== undefined) request.temperature = heat;
      return request;
    },
  };
}

function generate(info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<MusicResult> {
  progress.reset('composing…');
  return api.generateStream<MusicResult>(info.name, request, { progress: ({ done, total }) => progress.update(done, total) }, signal);
}

function piece(info: ModelInfo, result: MusicResult, name: string): HTMLElement {
  const file = `${info.name}-seed${result.seed}`;
  const seconds = result.notes.reduce((end, note) => Math.max(end, note.start + note.duration), 0);
  return h('div', { className: 'music-result', 'data-testid': 'music-result' },
    h('figure', { className: 'piano-roll' },
      pixelImage(result.pianoRoll, `Piano roll of ${name}: ${result.notes.length} notes over ${seconds.toFixed(1)} seconds`, 'piano-roll'),
      h('figcaption', {}, `${name} · seed ${result.seed} · ${result.style} · ${result.bpm} bpm · ${result.notes.length} notes`)),
    musicPlayer(result.wav, result.notes),
    h('div', { className: 'inline' },
      downloadButton('Download MIDI', `${file}.mid`, 'audio/midi', () => result.midi, 'download-midi'),
      downloadButton('Download WAV', `${file}.wav`, 'audio/wav', () => result.wav, 'download-wav')));
}

export async function showMusic(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  results.replaceChildren();
  const result = await generate(info, request, progress, signal);
  const element = piece(info, result, 'the piece');
  element.append(ratingWidget(result.sampleKey, 'this piece', info.name));
  results.replaceChildren(element);
  announce(`Composed ${result.notes.length} notes`);
}

export async function showMusicAB(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  results.replaceChildren();
  const seed = request.seed ?? 0;
  const a = await generate(info, { ...request, seed }, progress, signal);
  const b = await generate(info, { ...request, seed: seed + 1 }, progress, signal);
  results.replaceChildren(h('div', { className: 'ab' }, piece(info, a, 'piece A'), piece(info, b, 'piece B')), preferenceWidget(a.sampleKey, b.sampleKey, info.name));
  announce('Two pieces ready: which is better?');
}
