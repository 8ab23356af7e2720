// The gallery for image families (VAE, GAN, diffusion, PixelCNN): controls, results and A/B.
import { api } from '../api.ts';
import { announce, downloadButton, field, h, optionalNumber, pixelImage, seedControl, select } from '../dom.ts';
import type { GenerateRequest, ImagesResult, ModelInfo } from '../types.ts';
import { preferenceWidget, ratingWidget } from '../ui/feedback.ts';
import type { ProgressBar } from '../ui/progress.ts';
import type { Controls } from './gallery.ts';

const anyLabel = 'any';

/** A label select ("any" plus the model's label names) for a conditional model, else nothing. */
export function labelControl(info: ModelInfo): { element?: HTMLElement; read(): string | undefined } {
  if (!info.conditional || !info.labelNames?.length) return { read: () => undefined };
  const control = select([anyLabel, ...info.labelNames], anyLabel, 'label');
  return { element: field('Label', control), read: () => (control.value === anyLabel ? undefined : control.value) };
}

export function imageControls(info: ModelInfo): Controls {
  const seed = seedControl();
  const slow = info.slowGeneration;
  const n = optionalNumber('Images (n)', slow ? 4 : 16, { min: 1, max: 64, step: 1, testid: 'n' });
  const label = labelControl(info);
  const elements: HTMLElement[] = [seed.element, n.element];
  if (label.element) elements.push(label.element);
  const readers: ((request: GenerateRequest) => void)[] = [];

  if (info.prompts) {
    const prompt = h('input', { type: 'text', placeholder: 'a handwritten seven', 'data-testid': 'prompt', autocomplete: 'off' });
    elements.push(field('Prompt', prompt, 'Chooses the label from text; leave empty to use the label above.'));
    readers.push((request) => { if (prompt.value.trim()) request.prompt = prompt.value.trim(); });
  }
  if (info.samplers?.length) {
    const sampler = select(info.samplers, info.defaultSampler ?? info.samplers[0], 'sampler');
    const steps = optionalNumber('Steps', Math.min(info.defaultSteps ?? 25, 25), { min: 1, max: 1000, step: 1, testid: 'steps' });
    const guidance = optionalNumber('Guidance', info.conditional ? info.defaultGuidance : undefined, { min: 0, max: 20, step: 0.5, testid: 'guidance', hint: 'Classifier-free guidance scale (conditional models).' });
    elements.push(field('Sampler', sampler), steps.element, guidance.element);
    readers.push((request) => {
      request.sampler = sampler.value as GenerateRequest['sampler']; // one of the model's own samplers
      const stepCount = steps.read();
      const scale = guidance.read();
      if (stepCount !== undefined) request.steps = stepCount;
      if (scale !== undefined && info.conditional) request.guidance = scale;
    });
  }
  if (info.generationFields.includes('truncation')) {
    const truncation = h('input', { type: 'range', min: 0.05, max: 1, step: 0.05, value: '1', 'data-testid': 'truncation' });
    const shown = h('output', {}, '1.00 (off)');
    truncation.addEventListener('input', () => { shown.textContent = Number(truncation.value) >= 1 ? '1.00 (off)' : Number(truncation.value).toFixed(2); });
    const element = field('Truncation', truncation, 'Smaller values trade variety for cleaner samples.');
    truncation.insertAdjacentElement('afterend', shown);
    elements.push(element);
    readers.push((request) => { if (Number(truncation.value) < 1) request.truncation = Number(truncation.value); });
  }
  return {
    elements,
    read() {
      const request: GenerateRequest = { seed: Number(seed.input.value) };
      const count = n.read();
      if (count !== undefined) request.n = count;
      const chosen = label.read();
      if (chosen !== undefined) request.label = chosen;
      for (const reader of readers) reader(request);
      return request;
    },
  };
}

/** Runs a streamed generate, showing the progress and the diffusion step previews in `preview`. */
async function generateImages(info: ModelInfo, request: GenerateRequest, progress: ProgressBar, preview: HTMLElement, signal: AbortSignal): Promise<ImagesResult> {
  progress.reset('starting…');
  return api.generateStream<ImagesResult>(info.name, request, {
    progress: ({ done, total }) => progress.update(done, total),
    step: (frame) => {
      // Diffusion reports its steps (0-based) rather than progress events.
      const total = request.steps ?? info.defaultSteps;
      if (total) progress.update(Math.min(total, frame.step + 1), total);
      preview.hidden = false;
      preview.replaceChildren(
        h('figure', {}, pixelImage(frame.png, `Denoising step ${frame.step + 1}: the noisy images x_t`, 'step-preview'), h('figcaption', {}, `step ${frame.step + 1} · x_t`)),
        h('figure', {}, pixelImage(frame.x0Png, `Denoising step ${frame.step + 1}: the estimate of the final images`), h('figcaption', {}, 'x0 estimate')));
    },
  }, signal);
}

const describe = (info: ModelInfo, index: number, count: number, label?: string) =>
  `${info.family.toUpperCase()} sample ${index + 1} of ${count}${label ? `, label ${label}` : ''}`;

export async function showImages(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  const preview = h('div', { className: 'step-previews', hidden: true });
  results.replaceChildren(preview);
  const result = await generateImages(info, request, progress, preview, signal);
  const grid = h('figure', { className: 'grid-figure' },
    pixelImage(result.grid, `A grid of ${result.images.length} samples from ${info.name}, seed ${result.seed}`, 'result-grid'),
    h('figcaption', {}, `seed ${result.seed} · `, downloadButton('Download grid PNG', `${info.name}-seed${result.seed}.png`, 'image/png', () => result.grid, 'download-grid')));
  const cards = h('ul', { className: 'sample-grid', 'data-testid': 'samples' }, ...result.images.map((image, index) =>
    h('li', { className: 'sample-card', 'data-testid': 'sample' },
      pixelImage(image.png, describe(info, index, result.images.length, image.label), 'sample-image'),
      h('div', { className: 'sample-meta' }, image.label ? h('span', { className: 'badge' }, image.label) : null,
        downloadButton('PNG', `${info.name}-seed${result.seed}-${index + 1}.png`, 'image/png', () => image.png)),
      ratingWidget(image.sampleKey, `sample ${index + 1}`, info.name))));
  results.replaceChildren(grid, cards);
  announce(`Generated ${result.images.length} images with seed ${result.seed}`);
}

export async function showImagesAB(results: HTMLElement, info: ModelInfo, request: GenerateRequest, progress: ProgressBar, signal: AbortSignal): Promise<void> {
  const preview = h('div', { className: 'step-previews', hidden: true });
  results.replaceChildren(preview);
  const result = await generateImages(info, { ...request, n: 2 }, progress, preview, signal);
  const [a, b] = result.images;
  if (!a || !b) throw new Error('the server returned fewer than two images');
  results.replaceChildren(
    h('div', { className: 'ab' },
      h('figure', {}, pixelImage(a.png, 'Sample A', 'ab-a'), h('figcaption', {}, 'A')),
      h('figure', {}, pixelImage(b.png, 'Sample B', 'ab-b'), h('figcaption', {}, 'B'))),
    preferenceWidget(a.sampleKey, b.sampleKey, info.name));
  announce('Two samples ready: which is better?');
}
