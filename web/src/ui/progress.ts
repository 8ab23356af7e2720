// A labelled progress bar for slow samplers (diffusion steps, PixelCNN rows, music steps).
import { h } from '../dom.ts';

export interface ProgressBar { element: HTMLElement; update(done: number, total: number): void; hide(): void; reset(label: string): void }

export function progressBar(testid = 'progress'): ProgressBar {
  const text = h('span', { className: 'progress-text' });
  const bar = h('progress', { max: 1, value: 0, 'data-testid': testid });
  bar.setAttribute('aria-label', 'Progress');
  const element = h('div', { className: 'progress', hidden: true }, bar, text);
  return {
    element,
    update(done, total) {
      element.hidden = false;
      bar.max = Math.max(1, total);
      bar.value = done;
      text.textContent = `${done} / ${total}`;
    },
    hide() { element.hidden = true; },
    reset(label) {
      element.hidden = false;
      bar.removeAttribute('value');
      text.textContent = label;
    },
  };
}
