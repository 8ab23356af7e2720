/**
 * Small DOM helpers: an element builder, labelled form fields, the page's live region and error
 * banner, and data-URL / download helpers for the base64 files the API returns.
 */
import { ApiError } from './api.ts';

type Attributes = Record<string, string | number | boolean | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

/** Builds an element: `h('button', { type: 'button', onclick: go }, 'Generate')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'className') element.className = String(value);
    else if (key in element && !key.includes('-') && key !== 'list') (element as unknown as Record<string, unknown>)[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  element.append(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
  return element;
}

let uid = 0;
/** A unique id for label/aria wiring. */
export function nextId(prefix = 'f'): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A label with its control: `<div class="field"><label for=…>Seed</label>{control}{hint}</div>`. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLDivElement {
  if (!control.id) control.id = nextId();
  const wrapper = h('div', { className: 'field' }, h('label', { htmlFor: control.id }, label), control);
  if (hint) {
    const hintElement = h('small', { id: nextId('hint'), className: 'hint' }, hint);
    control.setAttribute('aria-describedby', hintElement.id);
    wrapper.append(hintElement);
  }
  return wrapper;
}

export function numberInput(value: number, options: { min?: number; max?: number; step?: number | 'any'; testid?: string } = {}): HTMLInputElement {
  return h('input', {
    type: 'number', value: String(value), min: options.min, max: options.max, step: options.step ?? 1,
    inputMode: 'decimal', 'data-testid': options.testid,
  });
}

export function select(values: string[], selected?: string, testid?: string): HTMLSelectElement {
  const element = h('select', { 'data-testid': testid });
  for (const value of values) element.append(h('option', { value, selected: value === selected }, value));
  return element;
}

/** Reads a number input; undefined when empty, so the server's default applies. */
export function readNumber(input: HTMLInputElement): number | undefined {
  if (input.value.trim() === '') return undefined;
  const value = Number(input.value);
  return Number.isFinite(value) ? value : undefined;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);

/** A seed number input with a "Random" button beside it. */
export function seedControl(testid = 'seed'): { element: HTMLDivElement; input: HTMLInputElement } {
  const input = numberInput(randomSeed() % 10000, { min: 0, step: 1, testid });
  const button = h('button', { type: 'button', className: 'secondary', 'data-testid': `${testid}-random`, onclick: () => { input.value = String(randomSeed()); } }, 'Random');
  button.setAttribute('aria-label', 'Pick a random seed');
  const element = field('Seed', input);
  const row = h('div', { className: 'inline' }, input, button);
  element.append(row);
  return { element, input };
}

/** Says something to screen readers (and leaves it in the live region for tests). */
export function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick makes repeated identical messages announced again.
  window.setTimeout(() => { region.textContent = message; }, 30);
}

let errorTimer = 0;
/** Shows an error as the server's one-line message in the alert banner. */
export function showError(error: unknown): void {
  if ((error as Error)?.name === 'AbortError') return;
  const banner = document.getElementById('error');
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  console.error(error);
  if (!banner) return;
  banner.replaceChildren(h('span', {}, message), h('button', { type: 'button', className: 'link', 'aria-label': 'Dismiss the error', onclick: () => { banner.hidden = true; } }, '×'));
  banner.hidden = false;
  window.clearTimeout(errorTimer);
  errorTimer = window.setTimeout(() => { banner.hidden = true; }, 12_000);
}

export function clearError(): void {
  const banner = document.getElementById('error');
  if (banner) banner.hidden = true;
}

export const pngUrl = (base64: string): string => `data:image/png;base64,${base64}`;

export function base64ToBytes(base64: string): Uint8Array<ArrayBuffer> {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** Saves bytes as a file through a temporary object URL. */
export function downloadBytes(bytes: Uint8Array<ArrayBuffer> | Blob, fileName: string, type: string): void {
  const blob = bytes instanceof Blob ? bytes : new Blob([bytes], { type });
  const url = URL.createObjectURL(blob);
  const anchor = h('a', { href: url, download: fileName });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A button that downloads a base64 file. */
export function downloadButton(label: string, fileName: string, type: string, base64: () => string | Uint8Array<ArrayBuffer>, testid?: string): HTMLButtonElement {
  return h('button', {
    type: 'button', className: 'secondary small', 'data-testid': testid,
    onclick: () => {
      const data = base64();
      downloadBytes(typeof data === 'string' ? base64ToBytes(data) : data, fileName, type);
    },
  }, label);
}

/** A pixel-art image (scaled with image-rendering: pixelated). */
export function pixelImage(base64: string, alt: string, testid?: string): HTMLImageElement {
  return h('img', { src: pngUrl(base64), alt, className: 'pixelated', 'data-testid': testid, decoding: 'sync' });
}

/** Runs a button's action with the button disabled and a busy state, reporting errors. */
export async function busy<T>(button: HTMLButtonElement, action: () => Promise<T>): Promise<T | undefined> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  clearError();
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** Calls `run` at most once per `wait` ms, after the last call. */
export function debounce<A extends unknown[]>(run: (...args: A) => void, wait: number): (...args: A) => void {
  let timer = 0;
  return (...args: A) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => run(...args), wait);
  };
}

/** A checkbox with its label after it. */
export function checkbox(label: string, testid: string, checked = false): { element: HTMLDivElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', id: nextId('check'), checked, 'data-testid': testid });
  return { element: h('div', { className: 'field checkbox' }, input, h('label', { htmlFor: input.id }, label)), input };
}

/** A labelled number field whose empty value means "the server's default". */
export function optionalNumber(label: string, value: number | undefined, options: { min?: number; max?: number; step?: number | 'any'; testid: string; hint?: string }): { element: HTMLElement; read(): number | undefined } {
  const input = h('input', {
    type: 'number', value: value === undefined ? '' : String(value), min: options.min, max: options.max, step: options.step ?? 'any',
    inputMode: 'decimal', 'data-testid': options.testid, placeholder: value === undefined ? 'default' : undefined,
  });
  return { element: field(label, input, options.hint), read: () => readNumber(input) };
}
