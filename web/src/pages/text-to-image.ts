/**
 * Text to image (models with the 'text-to-image' capability: a diffusion model that carries a
 * frozen autoencoder and text encoder, Stable Diffusion's design). A prompt in words, a negative
 * prompt that guidance steers away from, and the sampler's settings; the page shows the images
 * forming step by step, then each image with its rating, or two (A/B) to choose between, and the
 * denoising player over every step of the last generation.
 *
 * Runs stack newest first (a few are kept), so a refused or failed request leaves the earlier
 * images, their ratings and the player as they were. Everything a sample is drawn from (prompt,
 * negative prompt, seed, batch size, sampler, steps, guidance) goes with it to the server, which
 * stores it beside each rating and preference: a Diffusion-DPO fine-tune draws both images again.
 */
import { api } from '../api.ts';
import { announce, checkbox, downloadButton, field, h, optionalNumber, pixelImage, seedControl, select } from '../dom.ts';
import type { GenerateRequest, ImagesResult, ModelInfo } from '../types.ts';
import { onCancellableSubmit } from '../ui/cancellable.ts';
import { preferenceWidget, ratingWidget, statsLine } from '../ui/feedback.ts';
import { progressBar } from '../ui/progress.ts';
import { trajectoryViewer } from './diffusion-player.ts';

/** Captions in the emoji corpus's form (CLDR name, what the variant adds, the vendor's style). */
export const examplePrompts = [
  'red heart, twitter style',
  'smiling face with heart-eyes, google style',
  'thumbs up: dark skin tone, twitter style',
  'cat face, google style',
];

/** Runs kept on the page: enough to compare a few prompts, few enough that the page stays light. */
const keptRuns = 6;

export function renderTextToImage(panel: HTMLElement, info: ModelInfo): void {
  const context = info.textConditioning?.contextTokens;
  const prompt = h('textarea', { rows: 2, maxLength: 2000, 'data-testid': 'prompt', placeholder: examplePrompts[0], 'aria-describedby': 'prompt-hint' });
  const hint = h('span', { className: 'hint', id: 'prompt-hint' },
    `In the captions' words${context ? `; the first ${context} tokens are read` : ''}. Empty: unconditional.`);
  const examples = h('div', { className: 'examples', role: 'group', 'aria-label': 'Example prompts' },
    h('span', { className: 'muted' }, 'Try:'),
    ...examplePrompts.map((example) => h('button', {
      type: 'button', className: 'chip', 'data-testid': 'example-prompt',
      onclick: () => { prompt.value = example; prompt.focus(); },
    }, example)));
  const promptField = field('Prompt', prompt);
  promptField.append(hint, examples);
  const negative = h('input', { type: 'text', maxLength: 2000, 'data-testid': 'negative-prompt', autocomplete: 'off', placeholder: 'e.g. google style' });
  const sampler = select(info.samplers ?? ['ddim'], info.defaultSampler, 'sampler');
  const steps = optionalNumber('Steps', Math.min(info.defaultSteps ?? 25, 25), { min: 1, max: 1000, step: 1, testid: 'steps' });
  const guidance = optionalNumber('Guidance', info.defaultGuidance ?? 4, { min: 0, max: 20, step: 0.5, testid: 'guidance' });
  const seed = seedControl();
  const n = optionalNumber('Images (n)', 4, { min: 1, max: 16, step: 1, testid: 'n' });
  const ab = checkbox('A/B: two images to choose between', 'ab-mode');
  const generate = h('button', { type: 'submit', className: 'primary', 'data-testid': 'generate' }, 'Generate');
  const cancel = h('button', { type: 'button', className: 'secondary', hidden: true, 'data-testid': 'cancel' }, 'Cancel');
  const form = h('form', { className: 'controls', 'aria-label': `Text-to-image settings for ${info.name}` },
    promptField,
    field('Negative prompt', negative, 'What the images should not look like.'),
    // The sampler's settings two abreast, so the whole form fits a laptop screen beside the images.
    h('div', { className: 'settings-grid' }, guidance.element, steps.element,
      h('span', { className: 'hint wide' }, 'Guidance: how strongly to follow the prompt and shun the negative one (1: unguided).'),
      field('Sampler', sampler), n.element, h('div', { className: 'wide' }, seed.element)),
    ab.element,
    h('div', { className: 'actions' }, generate, cancel));

  const progress = progressBar();
  const preview = h('div', { className: 'step-previews', hidden: true, 'data-testid': 'step-preview' });
  const failure = h('p', { className: 'failure', role: 'alert', hidden: true, 'data-testid': 'generation-error' });
  // The newest run, the player over its denoising, then the earlier runs.
  const latest = h('div', { className: 'runs' });
  const earlier = h('div', { className: 'runs' });
  const earlierSection = h('section', { className: 'earlier', hidden: true, 'aria-labelledby': 'earlier-heading' }, h('h3', { id: 'earlier-heading' }, 'Earlier'), earlier);
  const viewer = trajectoryViewer(info.name);
  const player = h('section', { className: 'player-section', hidden: true, 'aria-labelledby': 'denoising-heading' },
    h('h3', { id: 'denoising-heading' }, 'Denoising, step by step'), viewer.element);
  const runs = h('div', { 'data-testid': 'results', 'aria-busy': 'false' }, latest, player, earlierSection);

  const read = (): GenerateRequest => {
    const request: GenerateRequest = { seed: Number(seed.input.value), sampler: sampler.value as GenerateRequest['sampler'], trajectory: true };
    const text = prompt.value.trim();
    const avoid = negative.value.trim();
    if (text) request.prompt = text;
    if (avoid) request.negativePrompt = avoid;
    const values = { steps: steps.read(), guidance: guidance.read(), n: ab.input.checked ? 2 : n.read() };
    for (const [key, value] of Object.entries(values)) if (value !== undefined) (request as Record<string, unknown>)[key] = value;
    return request;
  };

  onCancellableSubmit({ form, submit: generate, cancel, results: runs, progress }, async (signal) => {
    const request = read();
    const comparing = ab.input.checked;
    failure.hidden = true;
    progress.reset('starting…');
    // Below a long form (a phone), or scrolled past (a laptop): bring the progress into view.
    progress.element.scrollIntoView({ block: 'nearest' });
    // The new trajectory streams into the live preview; the player keeps the last finished one until this one is whole.
    const frames: Parameters<typeof viewer.finish>[0] = [];
    let result: ImagesResult;
    try {
      result = await api.generateStream<ImagesResult>(info.name, request, {
        progress: ({ done, total }) => progress.update(done, total),
        step: (frame) => {
          frames.push(frame);
          const total = request.steps ?? info.defaultSteps;
          if (total) progress.update(Math.min(total, frame.step + 1), total);
          preview.hidden = false;
          preview.replaceChildren(
            h('figure', {}, pixelImage(frame.png, `Denoising step ${frame.step + 1}: the noisy images x_t`, 'step-preview-image'), h('figcaption', {}, `step ${frame.step + 1} · x_t`)),
            h('figure', {}, pixelImage(frame.x0Png, `Denoising step ${frame.step + 1}: the estimate of the final images`), h('figcaption', {}, 'x0 estimate')));
        },
      }, signal);
    } catch (error) {
      if ((error as Error).name !== 'AbortError') {
        failure.textContent = `${error instanceof Error ? error.message : String(error)}${latest.childElementCount > 0 ? ' — the earlier images are kept below.' : ''}`;
        failure.hidden = false;
      }
      throw error;
    } finally {
      preview.hidden = true;
      preview.replaceChildren();
    }
    if (latest.firstElementChild) earlier.prepend(latest.firstElementChild);
    latest.replaceChildren(comparing ? abRun(info, request, result) : imagesRun(info, request, result));
    while (earlier.childElementCount > keptRuns - 1) earlier.lastElementChild!.remove();
    earlierSection.hidden = earlier.childElementCount === 0;
    viewer.clear();
    viewer.finish(result.trajectory ?? frames);
    player.hidden = viewer.count === 0;
    announce(comparing ? 'Two images ready: which is better?' : `Generated ${result.images.length} images for “${request.prompt ?? ''}”, seed ${result.seed}`);
  });

  panel.append(h('div', { className: 'page-grid' }, form,
    h('div', { className: 'output' }, progress.element, preview, failure, runs)), statsLine(info.name));
}

/** What a run was made from, in words: the prompt, then the settings. */
function runHeader(request: GenerateRequest, result: ImagesResult): HTMLElement {
  const settings = [`seed ${result.seed}`, request.sampler, request.steps !== undefined ? `${request.steps} steps` : undefined, request.guidance !== undefined ? `guidance ${request.guidance}` : undefined]
    .filter(Boolean).join(' · ');
  return h('header', { className: 'run-header' },
    h('p', { className: 'run-prompt', 'data-testid': 'run-prompt' }, request.prompt ? `“${request.prompt}”` : h('em', {}, 'no prompt (unconditional)')),
    request.negativePrompt ? h('p', { className: 'muted' }, `not: “${request.negativePrompt}”`) : null,
    h('p', { className: 'muted' }, settings),
    ...(result.notes ?? []).map((note) => h('p', { className: 'note', 'data-testid': 'run-note' }, note)));
}

const describeImage = (request: GenerateRequest, index: number, count: number) =>
  `Image ${index + 1} of ${count} for ${request.prompt ? `“${request.prompt}”` : 'no prompt'}`;

function imagesRun(info: ModelInfo, request: GenerateRequest, result: ImagesResult): HTMLElement {
  const count = result.images.length;
  const cards = h('ul', { className: 'sample-grid', 'data-testid': 'samples' }, ...result.images.map((image, index) =>
    h('li', { className: 'sample-card', 'data-testid': 'sample' },
      pixelImage(image.png, describeImage(request, index, count), 'sample-image'),
      h('div', { className: 'sample-meta' }, h('span', { className: 'muted' }, `#${index + 1}`),
        downloadButton('PNG', `${info.name}-seed${result.seed}-${index + 1}.png`, 'image/png', () => image.png)),
      ratingWidget(image.sampleKey, `image ${index + 1}`, info.name))));
  return h('article', { className: 'run', 'data-testid': 'run' }, runHeader(request, result), cards,
    h('p', {}, downloadButton('Download grid PNG', `${info.name}-seed${result.seed}.png`, 'image/png', () => result.grid, 'download-grid')));
}

function abRun(info: ModelInfo, request: GenerateRequest, result: ImagesResult): HTMLElement {
  const [a, b] = result.images;
  if (!a || !b) throw new Error('the server returned fewer than two images');
  return h('article', { className: 'run', 'data-testid': 'run' }, runHeader(request, result),
    h('div', { className: 'ab' },
      h('figure', {}, pixelImage(a.png, `Image A for ${request.prompt ? `“${request.prompt}”` : 'no prompt'}`, 'ab-a'), h('figcaption', {}, 'A')),
      h('figure', {}, pixelImage(b.png, `Image B for ${request.prompt ? `“${request.prompt}”` : 'no prompt'}`, 'ab-b'), h('figcaption', {}, 'B'))),
    preferenceWidget(a.sampleKey, b.sampleKey, info.name));
}
