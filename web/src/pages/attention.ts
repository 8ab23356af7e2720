/**
 * The attention view (transformer): a prompt's tokens as spans; hovering or focusing one shows, for
 * the chosen layer and head, the weight it gives each earlier token as background intensity. Below,
 * one small heatmap per head of the layer (row = query token, column = key token).
 */
import { api } from '../api.ts';
import { announce, busy, field, h, select } from '../dom.ts';
import type { Attention, ModelInfo } from '../types.ts';

const visible = (token: string) => token.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '∅';

export function renderAttention(panel: HTMLElement, info: ModelInfo): void {
  const prompt = h('input', { type: 'text', value: 'And God said, Let there be light', 'data-testid': 'attention-prompt', autocomplete: 'off' });
  const go = h('button', { type: 'submit', className: 'primary', 'data-testid': 'attention-go' }, 'Show attention');
  const layerSelect = select([], undefined, 'attention-layer');
  const headSelect = select([], undefined, 'attention-head');
  const tokensBox = h('div', { className: 'tokens', 'data-testid': 'attention-tokens', role: 'group', 'aria-label': 'Tokens: focus one to see where it attends' });
  const status = h('p', { className: 'muted', role: 'status', 'data-testid': 'attention-status' }, 'Enter a prompt and press Show attention.');
  const heatmaps = h('div', { className: 'heatmaps', 'data-testid': 'attention-heatmaps' });
  const view = h('div', { hidden: true }, h('div', { className: 'controls row' }, field('Layer', layerSelect), field('Head', headSelect)), tokensBox, status, heatmaps);
  let data: Attention | undefined;
  let query = -1;

  /** The T×T matrix of the chosen layer and head (or the mean over heads). */
  const matrix = (): number[] => {
    const layer = data!.layers[Number(layerSelect.value)]!;
    if (headSelect.value !== 'mean') return layer[Number(headSelect.value)]!;
    return layer[0]!.map((_, index) => layer.reduce((sum, head) => sum + head[index]!, 0) / layer.length);
  };

  const paint = () => {
    if (!data) return;
    const count = data.tokens.length;
    const weights = matrix();
    const row = query >= 0 ? weights.slice(query * count, query * count + count) : undefined;
    const peak = row ? Math.max(...row.slice(0, query + 1), 1e-9) : 1;
    tokensBox.querySelectorAll<HTMLElement>('.token').forEach((span, index) => {
      const weight = row && index <= query ? row[index]! : 0;
      span.style.backgroundColor = row ? `rgba(37, 99, 235, ${(weight / peak) * 0.85})` : '';
      span.style.color = row && weight / peak > 0.55 ? '#fff' : '';
      span.dataset['weight'] = row ? weight.toFixed(4) : '';
      span.title = row ? `attention ${weight.toFixed(3)}` : '';
      span.classList.toggle('query', index === query);
    });
    if (row) {
      const top = row.slice(0, query + 1).map((weight, index) => ({ weight, index })).sort((a, b) => b.weight - a.weight).slice(0, 3);
      status.textContent = `“${visible(data.tokens[query]!)}” (token ${query + 1}) attends most to ${top.map(({ index, weight }) => `“${visible(data!.tokens[index]!)}” ${weight.toFixed(2)}`).join(', ')}`;
    }
    drawHeatmaps();
  };

  const drawHeatmaps = () => {
    if (!data) return;
    const count = data.tokens.length;
    const layer = data.layers[Number(layerSelect.value)]!;
    heatmaps.replaceChildren(...layer.map((head, headIndex) => {
      const canvas = h('canvas', { width: count, height: count, className: 'pixelated heatmap', role: 'img', 'aria-label': `Attention of head ${headIndex + 1} in layer ${Number(layerSelect.value) + 1}` });
      const context = canvas.getContext('2d')!;
      const image = context.createImageData(count, count);
      for (let index = 0; index < count * count; index += 1) {
        const value = Math.round(255 * (1 - Math.min(1, Math.sqrt(head[index]!))));
        const highlighted = Math.floor(index / count) === query;
        image.data.set(highlighted ? [value, value, 255, 255] : [value, value, value, 255], index * 4);
      }
      context.putImageData(image, 0, 0);
      const button = h('button', { type: 'button', className: `heatmap-button${headSelect.value === String(headIndex) ? ' selected' : ''}`, 'aria-label': `Show head ${headIndex + 1}`, 'aria-pressed': String(headSelect.value === String(headIndex)) },
        canvas, h('span', {}, `head ${headIndex + 1}`));
      button.addEventListener('click', () => { headSelect.value = String(headIndex); paint(); });
      return button;
    }));
  };

  const form = h('form', { className: 'controls', 'aria-label': 'Attention prompt' }, field('Prompt', prompt, 'Short prompts are easiest to read.'), h('div', { className: 'actions' }, go));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(go, async () => {
      data = await api.attention(info.name, prompt.value);
      const heads = data.layers[0]?.length ?? 0;
      layerSelect.replaceChildren(...data.layers.map((_, index) => h('option', { value: String(index) }, `layer ${index + 1}`)));
      layerSelect.value = String(data.layers.length - 1);
      headSelect.replaceChildren(h('option', { value: 'mean' }, 'mean of heads'), ...Array.from({ length: heads }, (_, index) => h('option', { value: String(index) }, `head ${index + 1}`)));
      headSelect.value = '0';
      query = -1;
      tokensBox.replaceChildren(...data.tokens.map((token, index) => {
        const span = h('span', { className: 'token', tabIndex: 0, 'data-testid': 'attention-token', 'aria-label': `token ${index + 1}: ${visible(token)}` }, visible(token));
        const activate = () => { query = index; paint(); };
        span.addEventListener('mouseenter', activate);
        span.addEventListener('focus', activate);
        return span;
      }));
      view.hidden = false;
      status.textContent = `${data.tokens.length} tokens, ${data.layers.length} layers × ${heads} heads: hover or focus a token.`;
      drawHeatmaps();
      announce(`${data.tokens.length} tokens: hover or focus one to see its attention`);
    });
  });
  layerSelect.addEventListener('change', paint);
  headSelect.addEventListener('change', paint);
  panel.append(form, view);
}
