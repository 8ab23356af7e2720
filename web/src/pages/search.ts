/**
 * "Find in the corpus" (clip models): a text in, the dataset images nearest it in the model's
 * shared space out, best first, each with its caption and cosine similarity.
 */
import { api } from '../api.ts';
import { announce, busy, field, h } from '../dom.ts';
import type { ModelInfo } from '../types.ts';

export function renderSearch(panel: HTMLElement, info: ModelInfo): void {
  const text = h('input', { type: 'text', value: 'a red heart', 'data-testid': 'search-text', autocomplete: 'off', maxLength: 500 });
  const count = h('input', { type: 'number', value: '16', min: '1', max: '64', 'data-testid': 'search-n' });
  const go = h('button', { type: 'submit', className: 'primary', 'data-testid': 'search-go' }, 'Find');
  const status = h('p', { className: 'muted', role: 'status', 'data-testid': 'search-status' }, 'Describe what to look for and press Find.');
  const results = h('div', { className: 'hits', 'data-testid': 'search-results' });
  const form = h('form', { className: 'controls', 'aria-label': 'Find in the corpus' }, field('Text', text, 'Words the captions use: names, hair, skin tones, "twitter style"…'), field('How many', count), h('div', { className: 'actions' }, go));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(go, async () => {
      const { hits } = await api.search(info.name, text.value, Math.max(1, Math.min(64, Number(count.value) || 16)));
      results.replaceChildren(...hits.map((hit) =>
        h('figure', { className: 'hit', 'data-testid': 'search-hit' },
          h('img', { src: `data:image/png;base64,${hit.png}`, alt: hit.caption ?? `image ${hit.index}`, className: 'pixelated', width: 96, height: 96 }),
          h('figcaption', {}, `${hit.score.toFixed(3)} · ${hit.caption ?? hit.label ?? `#${hit.index}`}`))));
      status.textContent = `${hits.length} nearest images to “${text.value}”, best first.`;
      announce(status.textContent);
    });
  });
  panel.append(form, status, results);
}
