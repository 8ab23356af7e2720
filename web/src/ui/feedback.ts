/**
 * Feedback on one sample: thumbs up/down and 1–5 stars (POST /api/feedback/ratings), with a
 * confirmation and the store's counts; and the A/B question (POST /api/feedback/preferences).
 */
import { api, ApiError } from '../api.ts';
import { announce, h, showError } from '../dom.ts';
import type { FeedbackStats } from '../types.ts';

/** Everything on the page that shows the store's counts, refreshed after each rating. */
const statsListeners = new Set<(stats: FeedbackStats) => void>();

export async function refreshStats(model?: string): Promise<FeedbackStats | undefined> {
  try {
    const stats = await api.feedbackStats(model);
    for (const listener of statsListeners) listener(stats);
    return stats;
  } catch {
    return undefined;
  }
}

export const describeStats = (stats: FeedbackStats): string =>
  `${stats.samples} samples, ${stats.ratings} ratings, ${stats.preferences} preferences`;

/** A line "Feedback store: …" kept current while it is in the page. */
export function statsLine(model: string): HTMLElement {
  const line = h('p', { className: 'stats', 'data-testid': 'feedback-stats' }, 'Feedback store: …');
  const listener = (stats: FeedbackStats) => {
    if (!line.isConnected) { statsListeners.delete(listener); return; }
    line.textContent = `Feedback store (${model}): ${describeStats(stats)}`;
  };
  statsListeners.add(listener);
  void refreshStats(model);
  return line;
}

function message(error: unknown): string {
  if (error instanceof ApiError && error.status === 410) return 'This sample has expired on the server: generate again to rate it.';
  return error instanceof Error ? error.message : String(error);
}

const svgNamespace = 'http://www.w3.org/2000/svg';
/** A thumb icon (the Material Icons thumb_up path, Apache-2.0), turned over for thumbs down. */
function thumbIcon(down: boolean): SVGSVGElement {
  const svg = document.createElementNS(svgNamespace, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  if (down) svg.style.transform = 'rotate(180deg)';
  const path = document.createElementNS(svgNamespace, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z');
  svg.append(path);
  return svg;
}

/** Thumbs and stars for the sample `sampleKey`; `what` names it for screen readers ("image 3"). */
export function ratingWidget(sampleKey: string, what: string, model: string): HTMLElement {
  const status = h('span', { className: 'rating-status', 'data-testid': 'rating-status', role: 'status' });
  const buttons: HTMLButtonElement[] = [];
  const send = async (button: HTMLButtonElement, kind: 'thumbs' | 'stars', score: number, said: string) => {
    for (const other of buttons) if (other.dataset['kind'] === kind) other.setAttribute('aria-pressed', 'false');
    button.disabled = true;
    try {
      await api.rate(sampleKey, kind, score);
      button.setAttribute('aria-pressed', 'true');
      if (kind === 'stars') for (const other of buttons) other.classList.toggle('lit', other.dataset['kind'] === 'stars' && Number(other.dataset['score']) <= score);
      const stats = await refreshStats(model);
      status.textContent = `Saved ${said}${stats ? ` · ${stats.ratings} ratings in the store` : ''}`;
      announce(`Saved ${said} for ${what}`);
    } catch (error) {
      status.textContent = message(error);
      showError(new Error(message(error)));
    } finally {
      button.disabled = false;
    }
  };
  const make = (content: Node | string, label: string, kind: 'thumbs' | 'stars', score: number, testid: string) => {
    const button = h('button', { type: 'button', className: `rate rate-${kind}`, 'aria-pressed': 'false', 'aria-label': `${label} for ${what}`, 'data-testid': testid, title: label }, content);
    button.dataset['kind'] = kind;
    button.dataset['score'] = String(score);
    button.addEventListener('click', () => void send(button, kind, score, label.toLowerCase()));
    buttons.push(button);
    return button;
  };
  const thumbs = h('div', { className: 'rate-group', role: 'group', 'aria-label': `Thumbs for ${what}` },
    make(thumbIcon(false), 'Thumbs up', 'thumbs', 1, 'thumbs-up'), make(thumbIcon(true), 'Thumbs down', 'thumbs', -1, 'thumbs-down'));
  const stars = h('div', { className: 'rate-group stars', role: 'group', 'aria-label': `Stars for ${what}` },
    ...[1, 2, 3, 4, 5].map((count) => make('★', `${count} star${count > 1 ? 's' : ''}`, 'stars', count, `stars-${count}`)));
  return h('div', { className: 'rating', 'data-testid': 'rating' }, thumbs, stars, status);
}

/** "Which is better?" for two samples A and B. */
export function preferenceWidget(keyA: string, keyB: string, model: string): HTMLElement {
  const status = h('span', { className: 'rating-status', role: 'status', 'data-testid': 'preference-status' });
  const choose = async (chosen: string, rejected: string, said: string, buttons: HTMLButtonElement[]) => {
    buttons.forEach((button) => { button.disabled = true; });
    try {
      await api.prefer(chosen, rejected);
      const stats = await refreshStats(model);
      status.textContent = `Saved: ${said} is better${stats ? ` · ${stats.preferences} preferences in the store` : ''}`;
      announce(`Saved your preference for ${said}`);
    } catch (error) {
      status.textContent = message(error);
      buttons.forEach((button) => { button.disabled = false; });
    }
  };
  const a = h('button', { type: 'button', 'data-testid': 'prefer-a' }, 'A is better');
  const b = h('button', { type: 'button', 'data-testid': 'prefer-b' }, 'B is better');
  a.addEventListener('click', () => void choose(keyA, keyB, 'A', [a, b]));
  b.addEventListener('click', () => void choose(keyB, keyA, 'B', [a, b]));
  return h('div', { className: 'preference', role: 'group', 'aria-label': 'Which sample is better?' }, h('span', {}, 'Which is better?'), a, b, status);
}
