// The gallery for the transformer: a prompt and sampling settings, text streamed token by token.
import { api } from '../api.ts';
import { announce, field, h, optionalNumber, seedControl } from '../dom.ts';
import type { GenerateRequest, ModelInfo, TextResult } from '../types.ts';
import { preferenceWidget, ratingWidget } from '../ui/feedback.ts';
import type { Controls } from './gallery.ts';

export function textControls(_info: ModelInfo): Controls {
  const prompt = h('textarea', { rows: 3, 'data-testid': 'prompt', spellcheck: false }, 'In the beginning');
  const seed = seedControl();
  const maxTokens = optionalNumber('Max tokens', 200, { min: 1, max: 2000, step: 1, testid: 'max-tokens' });
  const temperature = optionalNumber('Temperature', 0.8, { min: 0, max: 5, step: 0.05, testid: 'temperature' });
  const topK = optionalNumber('Top-k', undefined, { min: 0, step: 1, testid: 'top-k', hint: 'Keep only the k likeliest tokens (empty: all).' });
  const topP = optionalNumber('Top-p', undefined, { min: 0, max: 1, step: 0.05, testid: 'top-p', hint: 'Nucleus sampling mass (empty: off).' });
  return {
    elements: [field('Prompt', prompt), seed.element, maxTokens.element, temperature.element, topK.element, topP.element],
    read() {
      const request: GenerateRequest = { seed: Number(seed.input.value), prompt: prompt.value };
      const values = { maxTokens: maxTokens.read(), temperature: temperature.read(), topK: topK.read(), topP: topP.read() };
      for (const [key, value] of Object.entries(values)) if (value !== undefined) (request as Record<string, unknown>)[key] = value;
      return request;
    },
  };
}

/** One streamed completion into a fresh output box; resolves with the result. */
async function streamInto(box: HTMLElement, info: ModelInfo, request: GenerateRequest, signal: AbortSignal): Promise<TextResult> {
  const completion = h('span', { className: 'completion', 'data-testid': 'completion' });
  const output = h('p', { className: 'text-output', 'data-testid': 'text-output', 'data-updates': '0' },
    h('strong', { className: 'prompt-text' }, request.prompt ?? ''), completion, h('span', { className: 'cursor', 'aria-hidden': 'true' }, '▍'));
  const meta = h('p', { className: 'muted', 'data-testid': 'text-meta' }, 'streaming…');
  box.replaceChildren(output, meta);
  let updates = 0;
  const result = await api.generateStream<TextResult>(info.name, request, {
    token: ({ text }) => {
      completion.append(text);
      updates += 1;
      output.dataset['updates'] = String(updates);
    },
  }, signal);
  // The result's text is the whole completion: it replaces what streamed (they should agree).
  completion.textContent = result.text;
  output.querySelector('.cursor')?.remove();
  output.dataset['done'] = 'true';
  meta.textContent = `seed ${result.seed} · ${result.tokens} tokens · ${result.tokensPerSecond.toFixed(1)} tokens/s`;
  return result;
}

export async function streamText(results: HTMLElement, info: ModelInfo, request: GenerateRequest, signal: AbortSignal): Promise<void> {
  const box = h('div', { className: 'text-box' });
  results.replaceChildren(box);
  const result = await streamInto(box, info, request, signal);
  box.append(ratingWidget(result.sampleKey, 'this text', info.name));
  announce(`Generated ${result.tokens} tokens`);
}

export async function showTextAB(results: HTMLElement, info: ModelInfo, request: GenerateRequest, signal: AbortSignal): Promise<void> {
  const boxA = h('div', { className: 'text-box' });
  const boxB = h('div', { className: 'text-box' });
  results.replaceChildren(h('div', { className: 'ab' },
    h('section', { 'aria-label': 'Sample A' }, h('h3', {}, 'A'), boxA),
    h('section', { 'aria-label': 'Sample B' }, h('h3', {}, 'B'), boxB)));
  const seed = request.seed ?? 0;
  const a = await streamInto(boxA, info, { ...request, seed }, signal);
  const b = await streamInto(boxB, info, { ...request, seed: seed + 1 }, signal);
  results.append(preferenceWidget(a.sampleKey, b.sampleKey, info.name));
  announce('Two completions ready: which is better?');
}
