/**
 * Image completion (PixelCNN): draw the start of a digit on a small pad, or choose an image file,
 * pick how many rows from the top to keep (a red line on the pad shows the cut), and the model
 * draws the rest, pixel by pixel, `n` times. The completions come back as image cards that can be
 * downloaded and rated like the gallery's.
 *
 * The pad is drawn with pointer events (mouse, touch, pen); it cannot be drawn with a keyboard, so
 * the file input is the keyboard path, and the pad's hint says so.
 */
import { api } from '../api.ts';
import { announce, busy, downloadButton, field, h, nextId, numberInput, pixelImage, seedControl } from '../dom.ts';
import type { CompleteRequest, CompletionResult, ModelInfo } from '../types.ts';
import { ratingWidget, statsLine } from '../ui/feedback.ts';
import { progressBar } from '../ui/progress.ts';
import { onCancellableSubmit } from '../ui/cancellable.ts';
import { labelControl } from './gallery-images.ts';

/** The pen width in pad pixels: about an MNIST stroke. */
const penWidth = 3;

interface DrawingPad {
  element: HTMLElement;
  canvas: HTMLCanvasElement;
  /** Moves the red line to show `rows` kept rows. */
  showCut(rows: number): void;
  /** Shows an image file on the pad; until the pad is drawn on, the file itself is what is sent. */
  load(file: File): Promise<void>;
  clear(): void;
  /** The base64 PNG/JPEG to send. */
  read(): string;
}

function drawingPad(height: number, width: number, hintId: string): DrawingPad {
  const canvas = h('canvas', { width, height, className: 'pad pixelated', 'data-testid': 'pad', role: 'img', 'aria-label': `Drawing pad, ${width} by ${height} pixels: draw in white on black`, 'aria-describedby': hintId });
  const cut = h('div', { className: 'pad-cut', 'aria-hidden': 'true', 'data-testid': 'pad-cut' });
  const element = h('div', { className: 'pad-wrap' }, canvas, cut);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  // A chosen file, sent as it is (the server fits it to the model) unless the pad is drawn on.
  let file: string | undefined;

  const clear = () => {
    context.fillStyle = '#000';
    context.fillRect(0, 0, width, height);
    file = undefined;
  };
  clear();

  const at = (event: PointerEvent): [number, number] => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width) * width, ((event.clientY - box.top) / box.height) * height];
  };
  let last: [number, number] | undefined;
  const stroke = (to: [number, number]) => {
    const from = last ?? to;
    context.strokeStyle = '#fff';
    context.lineWidth = penWidth;
    context.lineCap = 'round';
    context.lineJoin = 'round';
    context.beginPath();
    context.moveTo(from[0], from[1]);
    context.lineTo(to[0] + (from === to ? 0.01 : 0), to[1]);
    context.stroke();
    last = to;
  };
  canvas.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    file = undefined;
    last = undefined;
    stroke(at(event));
  });
  canvas.addEventListener('pointermove', (event) => {
    if (last === undefined || !canvas.hasPointerCapture(event.pointerId)) return;
    for (const point of event.getCoalescedEvents?.() ?? [event]) stroke(at(point));
  });
  const end = (event: PointerEvent) => {
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    last = undefined;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  return {
    element,
    canvas,
    showCut(rows) {
      cut.style.top = `${(rows / height) * 100}%`;
    },
    async load(chosen) {
      const bytes = new Uint8Array(await chosen.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const bitmap = await createImageBitmap(chosen);
      clear();
      context.drawImage(bitmap, 0, 0, width, height);
      bitmap.close();
      file = btoa(binary);
    },
    clear,
    read: () => file ?? canvas.toDataURL('image/png').split(',')[1]!,
  };
}

export function renderComplete(panel: HTMLElement, info: ModelInfo): void {
  const [height, width] = info.imageShape ?? [28, 28, 1];
  const padHint = h('small', { id: nextId('hint'), className: 'hint' }, 'Draw with a mouse, finger or pen. The pad cannot be drawn with a keyboard: choose an image file below instead.');
  const pad = drawingPad(height, width, padHint.id);
  const clear = h('button', { type: 'button', className: 'secondary', 'data-testid': 'pad-clear', onclick: () => { pad.clear(); fileInput.value = ''; announce('Pad cleared'); } }, 'Clear');
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg', 'data-testid': 'complete-file' });
  fileInput.addEventListener('change', () => {
    const chosen = fileInput.files?.[0];
    if (!chosen) return;
    void busy(complete, async () => {
      await pad.load(chosen);
      announce(`${chosen.name} is on the pad`);
    });
  });

  const rows = h('input', { type: 'range', min: 1, max: height - 1, step: 1, value: String(Math.floor(height / 2)), 'data-testid': 'rows' });
  const rowsShown = h('output', { 'data-testid': 'rows-value' }, rows.value);
  const showRows = () => {
    rowsShown.textContent = rows.value;
    rows.setAttribute('aria-valuetext', `${rows.value} of ${height} rows`);
    pad.showCut(Number(rows.value));
  };
  rows.addEventListener('input', showRows);
  showRows();
  const rowsField = field('Rows to keep', rows, 'Rows kept from the top (the red line); the model draws the rest.');
  rows.insertAdjacentElement('afterend', rowsShown);
  rowsShown.htmlFor.add(rows.id);

  const n = numberInput(2, { min: 1, max: 16, step: 1, testid: 'n' });
  const seed = seedControl();
  const label = labelControl(info);
  const complete = h('button', { type: 'submit', className: 'primary', 'data-testid': 'complete' }, 'Complete');
  const cancel = h('button', { type: 'button', className: 'secondary', hidden: true, 'data-testid': 'cancel' }, 'Cancel');
  const progress = progressBar();
  const results = h('div', { className: 'results', 'data-testid': 'results', 'aria-busy': 'false' });

  const inputHeading = h('span', { id: nextId('label'), className: 'field-label' }, 'Input');
  const form = h('form', { className: 'controls', 'aria-label': `Completion settings for ${info.name}` },
    h('div', { className: 'field', role: 'group', 'aria-labelledby': inputHeading.id }, inputHeading, pad.element, padHint, h('div', { className: 'inline' }, clear)),
    field('Or an image file', fileInput, 'PNG or JPEG, any size: fitted to the model\u2019s size.'),
    rowsField,
    field('Completions (n)', n, '1 to 16; PixelCNN draws pixel by pixel, so a few seconds each.'),
    seed.element,
    ...(label.element ? [label.element] : []),
    h('div', { className: 'actions' }, complete, cancel));

  onCancellableSubmit({ form, submit: complete, cancel, results, progress }, async (signal) => {
    const request: CompleteRequest = { png: pad.read(), rows: Number(rows.value), n: Math.min(16, Math.max(1, Math.round(Number(n.value) || 1))), seed: Number(seed.input.value) };
    const chosen = label.read();
    if (chosen !== undefined) request.label = chosen;
    progress.reset('starting…');
    const result = await api.completeStream(info.name, request, { progress: ({ done, total }) => progress.update(done, total) }, signal);
    showResult(results, info, result);
  });
  panel.append(h('div', { className: 'page-grid' }, form, h('div', { className: 'output' }, progress.element, results)), statsLine(info.name));
}

function showResult(results: HTMLElement, info: ModelInfo, result: CompletionResult): void {
  const count = result.images.length;
  const input = h('figure', { className: 'completion-input' },
    pixelImage(result.input, `The kept input: its top ${result.rows} rows, the rest grey`, 'completion-input'),
    h('figcaption', {}, `kept ${result.rows} rows · seed ${result.seed} · `,
      downloadButton('Download grid PNG', `${info.name}-complete-seed${result.seed}.png`, 'image/png', () => result.grid, 'download-grid')));
  const cards = h('ul', { className: 'sample-grid', 'data-testid': 'samples' }, ...result.images.map((image, index) =>
    h('li', { className: 'sample-card', 'data-testid': 'sample' },
      pixelImage(image.png, `Completion ${index + 1} of ${count}, from the top ${result.rows} rows`, 'completion-image'),
      h('div', { className: 'sample-meta' }, image.label ? h('span', { className: 'badge' }, image.label) : null,
        downloadButton('PNG', `${info.name}-complete-seed${result.seed}-${index + 1}.png`, 'image/png', () => image.png)),
      ratingWidget(image.sampleKey, `completion ${index + 1}`, info.name))));
  results.replaceChildren(input, cards);
  announce(`Completed ${count} image${count === 1 ? '' : 's'} from the top ${result.rows} rows, seed ${result.seed}`);
}
