/**
 * Plays a generated piece with Web Audio: the server's WAV decoded into one buffer, or, where the
 * browser cannot decode it, the returned notes synthesised with oscillators (a soft triangle wave
 * with a short attack and release per note). Play/Stop plus a position bar; the element's
 * data-state is "playing" or "stopped" (and the AudioContext's state is in data-audio).
 */
import { announce, base64ToBytes, h, showError } from '../dom.ts';
import type { Note } from '../types.ts';

let sharedContext: AudioContext | undefined;
/** One AudioContext for the page, created on the first Play (a user gesture, as browsers require). */
function audioContext(): AudioContext {
  sharedContext ??= new AudioContext();
  return sharedContext;
}

const frequency = (pitch: number) => 440 * 2 ** ((pitch - 69) / 12);

export function musicPlayer(wav: string, notes: Note[]): HTMLElement {
  const play = h('button', { type: 'button', 'data-testid': 'music-play' }, '▶ Play');
  const stop = h('button', { type: 'button', className: 'secondary', 'data-testid': 'music-stop', disabled: true }, '■ Stop');
  const position = h('progress', { max: 1, value: 0, 'data-testid': 'music-position' });
  position.setAttribute('aria-label', 'Playback position');
  const element = h('div', { className: 'music-player inline', 'data-testid': 'music-player', 'data-state': 'stopped' }, play, stop, position);
  let nodes: AudioScheduledSourceNode[] = [];
  let frame = 0;
  let buffer: AudioBuffer | undefined;

  const finish = () => {
    for (const node of nodes) { try { node.stop(); } catch { /* already stopped */ } }
    nodes = [];
    window.cancelAnimationFrame(frame);
    element.dataset['state'] = 'stopped';
    play.disabled = false;
    stop.disabled = true;
    position.value = 0;
  };

  const synthesise = (context: AudioContext, start: number): number => {
    const master = context.createGain();
    master.gain.value = 0.18;
    master.connect(context.destination);
    let end = 0;
    for (const note of notes) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = 'triangle';
      oscillator.frequency.value = frequency(note.pitch);
      const at = start + note.start;
      const release = Math.min(0.08, note.duration / 3);
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.25 + 0.75 * note.velocity, at + 0.01);
      gain.gain.setValueAtTime(0.25 + 0.75 * note.velocity, at + note.duration - release);
      gain.gain.linearRampToValueAtTime(0, at + note.duration);
      oscillator.connect(gain).connect(master);
      oscillator.start(at);
      oscillator.stop(at + note.duration + 0.02);
      nodes.push(oscillator);
      end = Math.max(end, note.start + note.duration);
    }
    return end;
  };

  play.addEventListener('click', async () => {
    try {
      const context = audioContext();
      if (context.state === 'suspended') await context.resume();
      if (!buffer && wav) {
        try {
          buffer = await context.decodeAudioData(base64ToBytes(wav).buffer);
        } catch {
          buffer = undefined; // fall back to the notes
        }
      }
      const start = context.currentTime + 0.05;
      let duration: number;
      if (buffer) {
        const source = context.createBufferSource();
        source.buffer = buffer;
        source.connect(context.destination);
        source.start(start);
        nodes.push(source);
        duration = buffer.duration;
      } else {
        duration = synthesise(context, start);
      }
      element.dataset['state'] = 'playing';
      element.dataset['audio'] = context.state;
      play.disabled = true;
      stop.disabled = false;
      stop.focus();
      announce('Playing');
      const tick = () => {
        const elapsed = context.currentTime - start;
        position.value = Math.max(0, Math.min(1, elapsed / duration));
        if (elapsed >= duration || !element.isConnected) finish();
        else frame = window.requestAnimationFrame(tick);
      };
      frame = window.requestAnimationFrame(tick);
    } catch (error) {
      showError(error);
      finish();
    }
  });
  stop.addEventListener('click', () => { finish(); play.focus(); announce('Stopped'); });
  return element;
}
