/**
 * Plays a list of frames as an animation: play/pause, a range scrubber and a frame counter. The
 * caller draws frame i (one image, or x_t and x0 side by side).
 */
import { h, nextId } from '../dom.ts';

export interface FramePlayer {
  element: HTMLElement;
  /** Sets the frames (count) and shows frame `index` (default the last). */
  load(count: number, index?: number): void;
  show(index: number): void;
  stop(): void;
  readonly index: number;
}

export function framePlayer(draw: (index: number) => void, options: { label: string; fps?: number; testid?: string; describe?: (index: number) => string }): FramePlayer {
  let count = 0;
  let index = 0;
  let timer = 0;
  const play = h('button', { type: 'button', className: 'secondary', 'data-testid': `${options.testid ?? 'player'}-play`, disabled: true }, 'Play');
  const scrubber = h('input', { type: 'range', min: 0, max: 0, step: 1, value: '0', id: nextId('scrub'), disabled: true, 'data-testid': `${options.testid ?? 'player'}-scrubber` });
  const counter = h('output', { htmlFor: scrubber.id, className: 'counter', 'data-testid': `${options.testid ?? 'player'}-counter` }, '–');
  const label = h('label', { htmlFor: scrubber.id }, options.label);

  const show = (next: number) => {
    index = Math.max(0, Math.min(count - 1, next));
    scrubber.value = String(index);
    counter.textContent = options.describe ? options.describe(index) : `${index + 1} / ${count}`;
    scrubber.setAttribute('aria-valuetext', counter.textContent);
    draw(index);
  };
  const stop = () => {
    window.clearInterval(timer);
    timer = 0;
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
  };
  play.addEventListener('click', () => {
    if (timer) { stop(); return; }
    if (index >= count - 1) show(0);
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
    timer = window.setInterval(() => {
      if (!play.isConnected || index >= count - 1) { stop(); return; }
      show(index + 1);
    }, 1000 / (options.fps ?? 10));
  });
  scrubber.addEventListener('input', () => { stop(); show(Number(scrubber.value)); });

  const element = h('div', { className: 'player' }, play, h('div', { className: 'field grow' }, label, h('div', { className: 'inline' }, scrubber, counter)));
  return {
    element,
    load(total, at) {
      stop();
      count = total;
      scrubber.max = String(Math.max(0, total - 1));
      scrubber.disabled = total < 2;
      play.disabled = total < 2;
      if (total > 0) show(at ?? total - 1);
    },
    show,
    stop,
    get index() { return index; },
  };
}
