/**
 * In-browser mode (issue 8): a starter model runs in this page on TensorFlow.js (WebGPU, else
 * WebGL, else the cpu backend), with its weights fetched once from the server, so generating needs
 * nothing from the server. The page says which backend it runs on and why, shows the bytes fetched,
 * and offers the controls of the model's family (controls.ts).
 *
 * The model runs in a worker (worker.ts), so the page stays live while it computes. One model is
 * kept loaded across visits to the tab (its bytes too, so switching backend rebuilds it without
 * fetching again); opening another model frees the previous one's tensors.
 */
import './local.css';
import { field, h, select, showError } from '../dom.ts';
import { imageControls, textControls } from './controls.ts';
import { filesFor, modelBytesOf, runsInBrowser } from './families.ts';
import type { BackendChoice, BackendName } from './backend.ts';
import { ModelWorker } from './client.ts';
import type { ModelBytes } from './models.ts';
import type { LoadResult } from './protocol.ts';

export interface LocalPageOptions {
  container: HTMLElement;
  /** The model's GET /api/models/:name JSON: its capabilities, files and generation fields are read here. */
  info: { name: string; family: string; capabilities?: readonly string[]; files?: readonly string[]; generationFields?: readonly string[] } & Record<string, unknown>;
  /**
   * Fetches one of the model's files (config.json, model.safetensors, tokenizer.json) with the
   * page's token; `onProgress`, when the fetcher supports it, reports bytes as they arrive.
   */
  fetchFile(file: string, onProgress?: (loaded: number, total?: number) => void): Promise<ArrayBuffer>;
}

interface Loaded {
  name: string;
  /** The backend asked for when it was built ('auto' or a name); the result says which it got. */
  preferred: BackendName | 'auto';
  result: LoadResult;
}

let worker: ModelWorker | null = null;
let cachedBytes: { name: string; bytes: ModelBytes } | null = null;
let loaded: Loaded | null = null;
let preferredBackend: BackendName | 'auto' = 'auto';

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/**
 * Draws the in-browser page of `info`'s model into `container`.
 *
 * @example
 * renderLocalPage({ container: panel, info, fetchFile: (file) => api.modelFile(info.name, file) });
 */
export function renderLocalPage(options: LocalPageOptions): void {
  const { container, info } = options;
  const headingId = `local-heading-${info.name}`;
  const section = h('section', { className: 'local', 'aria-labelledby': headingId, 'data-testid': 'local-root', 'data-model': info.name },
    h('h2', { id: headingId }, `Run ${info.name} in this browser`));
  container.replaceChildren(section);
  if (!runsInBrowser(info)) {
    section.append(h('p', { 'data-testid': 'local-unsupported', role: 'status' },
      `${info.name} is a ${info.family} model, which does not run in the browser; generate with this model on the server instead (the Gallery tab).`));
    return;
  }
  const backendLine = h('p', { className: 'local-backend', 'data-testid': 'local-backend', role: 'status' }, 'Loading TensorFlow.js…');
  const reasons = h('ul', { 'data-testid': 'local-backend-reasons' });
  const backendSelect = select(['auto', 'webgpu', 'webgl', 'cpu'], preferredBackend, 'local-backend-select');
  const progress = h('p', { className: 'muted', 'data-testid': 'local-progress', role: 'status' }, '');
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Model download', 'data-testid': 'local-progress-bar' });
  const body = h('div', { 'data-testid': 'local-body' });
  const backendField = field('Backend', backendSelect, 'auto tries WebGPU, then WebGL, then the cpu backend');
  backendField.classList.add('local-backend-field');
  section.append(
    h('p', { className: 'muted' }, 'The weights are fetched from the server once; generating then runs here with TensorFlow.js, so the server stays idle.'),
    backendLine,
    h('details', {}, h('summary', {}, 'Why this backend'), reasons),
    backendField,
    h('div', { className: 'inline' }, bar, progress),
    body,
  );

  const showBackend = (choice: BackendChoice) => {
    backendLine.textContent = `Running in this browser on ${choice.name.toUpperCase()}`;
    backendLine.dataset['backend'] = choice.name;
    reasons.replaceChildren(...choice.attempts.map((attempt) =>
      h('li', { 'data-backend': attempt.name }, `${attempt.name}: ${attempt.ok ? 'in use' : 'not used'} — ${attempt.detail}`)));
  };

  const fetchAll = async (): Promise<ModelBytes> => {
    if (cachedBytes?.name === info.name) {
      const total = Object.values(cachedBytes.bytes).reduce((sum, part) => sum + (part?.byteLength ?? 0), 0);
      progress.textContent = `Weights already in this page (${formatBytes(total)}).`;
      bar.value = 1;
      return cachedBytes.bytes;
    }
    const files = filesFor(info.files ?? []);
    const got: Record<string, ArrayBuffer> = {};
    const started = performance.now();
    let done = 0;
    for (const file of files) {
      progress.textContent = `Fetching ${file}… (${formatBytes(done)} so far)`;
      const buffer = await options.fetchFile(file, (loadedBytes, total) => {
        progress.textContent = `Fetching ${file}… ${formatBytes(loadedBytes)}${total ? ` of ${formatBytes(total)}` : ''}`;
        if (total) bar.value = loadedBytes / total;
      });
      got[file] = buffer;
      done += buffer.byteLength;
      bar.value = (files.indexOf(file) + 1) / files.length;
    }
    const seconds = (performance.now() - started) / 1000;
    progress.textContent = `Fetched ${files.map((file) => `${file} (${formatBytes(got[file]!.byteLength)})`).join(', ')}: ${formatBytes(done)} in ${seconds.toFixed(2)} s.`;
    progress.dataset['bytes'] = String(done);
    const bytes = modelBytesOf(got);
    cachedBytes = { name: info.name, bytes };
    return bytes;
  };

  const load = async () => {
    body.replaceChildren();
    backendSelect.disabled = true;
    try {
      worker ??= new ModelWorker();
      if (!loaded || loaded.name !== info.name || loaded.preferred !== preferredBackend) {
        loaded = null;
        backendLine.textContent = 'Fetching the weights…';
        const bytes = await fetchAll();
        backendLine.textContent = 'Starting TensorFlow.js and choosing a backend…';
        const preferred = preferredBackend;
        const result = await worker.load(info.name, bytes, preferred);
        loaded = { name: info.name, preferred, result };
        progress.textContent += ` Built on ${result.backend.name} in ${result.buildSeconds.toFixed(2)} s.`;
      } else {
        await fetchAll();
      }
      const current = loaded;
      showBackend(current.result.backend);
      const context = { worker, backend: () => current.result.backend.name, attached: () => section.isConnected, fields: info.generationFields ?? [] };
      const description = current.result.model;
      const controls = description.kind === 'images' ? imageControls(description, context) : textControls(description, context);
      body.replaceChildren(controls.element);
    } catch (error) {
      backendLine.textContent = `In-browser mode could not start: ${(error as Error).message}`;
      showError(error);
    } finally {
      backendSelect.disabled = false;
    }
  };

  backendSelect.addEventListener('change', () => {
    preferredBackend = backendSelect.value as BackendName | 'auto';
    void load();
  });
  void load();
}
