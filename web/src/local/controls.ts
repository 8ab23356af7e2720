/**
 * The controls and the Generate action of a model loaded in the page, from what the model offers:
 * seed and count for every image model; a label or a prompt for conditional ones; truncation where
 * the model takes it (a GAN); sampler, steps and guidance, with the denoising steps to scrub
 * through, for models with samplers (diffusion); and for text models a prompt and sampling settings
 * with the text streaming in token by token.
 */
import { announce, busy, checkbox, field, h, numberInput, readNumber, seedControl, select } from '../dom.ts';
import { framePlayer } from '../ui/frame-player.ts';
import { drawGrid, type ImageBatch } from './draw.ts';
import type { ModelWorker } from './client.ts';
import type { ModelDescription, SampleMessage } from './protocol.ts';

type ImageDescription = Extract<ModelDescription, { kind: 'images' }>;
type TextDescription = Extract<ModelDescription, { kind: 'text' }>;

export interface ControlsContext {
  /** The worker that holds the model. */
  worker: ModelWorker;
  /** The backend the model runs on (shown with each result). */
  backend(): string;
  /** False once the page has left the document (a running text generation then stops). */
  attached(): boolean;
  /** The generation fields the model takes, as the server declares them (truncation, sampler, …). */
  fields: readonly string[];
}

export interface FamilyControls {
  element: HTMLElement;
}

const randomLabel = 'random (per image)';

function formWith(children: (HTMLElement | null)[], generate: HTMLButtonElement): HTMLFormElement {
  const form = h('form', { className: 'controls', 'data-testid': 'local-form' }, ...children, h('div', { className: 'actions' }, generate));
  return form;
}

function timeLine(): HTMLOutputElement {
  return h('output', { className: 'muted', 'data-testid': 'local-time', 'aria-live': 'polite' }, 'Nothing generated yet.');
}

function reportTime(line: HTMLElement, text: string, seconds: number, backend: string, extra: Record<string, string> = {}): void {
  line.textContent = text;
  line.dataset['seconds'] = seconds.toFixed(4);
  line.dataset['backend'] = backend;
  for (const [key, value] of Object.entries(extra)) line.dataset[key] = value;
  announce(text);
}

/** Seed, count, and the family's own settings, then Generate: the images drawn on a canvas. */
export function imageControls(model: ImageDescription, context: ControlsContext): FamilyControls {
  const seed = seedControl('local-seed');
  const count = numberInput(16, { min: 1, max: 64, testid: 'local-count' });
  const labels = model.conditional && model.labelNames ? select([randomLabel, ...model.labelNames], randomLabel, 'local-label') : null;
  const truncation = context.fields.includes('truncation') ? numberInput(1, { min: 0.05, max: 1, step: 0.05, testid: 'local-truncation' }) : null;
  const diffusion = model.samplers ? samplerSettings(model) : null;
  const textToImage = model.textConditioning !== undefined;
  const promptInput = h('input', { type: 'text', 'data-testid': 'local-prompt', placeholder: textToImage ? 'red heart, twitter style' : 'a handwritten seven', autocomplete: 'off' });
  const negativeInput = textToImage ? h('input', { type: 'text', 'data-testid': 'local-negative-prompt', autocomplete: 'off' }) : null;
  const generate = h('button', { type: 'submit', 'data-testid': 'local-generate' }, 'Generate');
  const time = timeLine();
  const canvas = h('canvas', { className: 'pixelated', 'data-testid': 'local-output', role: 'img', 'aria-label': 'No images yet' });
  const form = formWith([
    seed.element,
    field('Images', count, '1 to 64'),
    labels && field('Label', labels, model.labelNames ? `one of ${model.labelNames.join(', ')}` : undefined),
    textToImage ? field('Prompt', promptInput, `free text; the first ${model.textConditioning!.contextTokens} tokens are read (empty: unconditional)`)
      : model.prompts ? field('Or a prompt', promptInput, 'e.g. "a handwritten seven"; overrides the label') : null,
    negativeInput && field('Negative prompt', negativeInput, 'what guidance steers away from'),
    truncation && field('Truncation ψ', truncation, 'in (0, 1]: lower trades variety for fidelity'),
    ...(diffusion?.fields ?? []),
  ], generate);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(generate, async () => {
      const request: SampleMessage = {
        seed: readNumber(seed.input) ?? 0,
        count: Math.max(1, Math.min(64, Math.round(readNumber(count) ?? 16))),
        ...(truncation ? { truncation: readNumber(truncation) ?? 1 } : {}),
      };
      if (labels && labels.value !== randomLabel) request.label = model.labelNames!.indexOf(labels.value);
      const promptText = promptInput.value.trim();
      if (promptText && model.prompts) request.prompt = promptText;
      const negativeText = negativeInput?.value.trim();
      if (negativeText) request.negativePrompt = negativeText;
      if (diffusion) Object.assign(request, diffusion.read());
      time.textContent = 'Generating…';
      delete time.dataset['seconds'];
      const [height, width, channels] = model.imageShape;
      const asBatch = (data: Float32Array): ImageBatch => ({ data, count: request.count, height, width, channels });
      diffusion?.reset();
      const started = performance.now();
      const result = await context.worker.sample(request, diffusion && request.recordSteps
        ? (step, t, x, x0) => diffusion.addFrame({ step, t, x: asBatch(x), x0: asBatch(x0) })
        : undefined);
      const seconds = (performance.now() - started) / 1000;
      drawGrid(canvas, asBatch(result.data));
      const labelName = result.label !== undefined ? model.labelNames?.[result.label] ?? String(result.label) : undefined;
      const described = `${request.count} image${request.count > 1 ? 's' : ''}, seed ${request.seed}${labelName !== undefined ? `, label ${labelName}` : ''}`;
      canvas.setAttribute('aria-label', `Generated in this browser: ${described}`);
      const steps = request.steps !== undefined ? `, ${request.steps} ${request.sampler ?? ''} steps` : '';
      reportTime(time, `${described}${steps} in ${seconds.toFixed(2)} s on ${context.backend()} (in this browser)`, seconds, context.backend(), { workerSeconds: result.seconds.toFixed(4) });
      diffusion?.finish();
    });
  });
  return { element: h('div', { className: 'local-images' }, form, time, h('div', { className: 'local-canvas' }, canvas), diffusion?.player ?? null) };
}

/** The sampler settings (diffusion), and the player for the recorded denoising steps (x_t beside the x0 estimate). */
function samplerSettings(model: ImageDescription) {
  const samplerNames = model.samplers!.map((sampler) => sampler.name);
  const initial = model.defaultSampler ?? samplerNames[0]!;
  const sampler = select(samplerNames, initial, 'local-sampler');
  const defaultSteps = (name: string) => model.samplers!.find((entry) => entry.name === name)?.defaultSteps ?? 50;
  const steps = numberInput(defaultSteps(initial), { min: 1, max: 1000, testid: 'local-steps' });
  sampler.addEventListener('change', () => { steps.value = String(defaultSteps(sampler.value)); });
  const guidance = numberInput(model.defaultGuidance ?? 1, { min: 0, max: 50, step: 0.5, testid: 'local-guidance' });
  // Labels or text: classifier-free guidance has a condition to steer by.
  const guided = model.conditional || model.textConditioning !== undefined;
  const record = checkbox('Show every denoising step as it is made (and scrub through them after)', 'local-record-steps', true);
  let frames: { step: number; t: number; x: ImageBatch; x0: ImageBatch }[] = [];
  const stepX = h('canvas', { className: 'pixelated', 'data-testid': 'local-step-x', role: 'img', 'aria-label': 'The noisy image x_t at this step' });
  const stepX0 = h('canvas', { className: 'pixelated', 'data-testid': 'local-step-x0', role: 'img', 'aria-label': 'The estimate of the clean image x0 at this step' });
  const player = framePlayer((index) => {
    const frame = frames[index];
    if (!frame) return;
    drawGrid(stepX, frame.x, 300);
    drawGrid(stepX0, frame.x0, 300);
  }, { label: 'Denoising step', testid: 'local-steps-player', describe: (index) => `step ${index + 1} of ${frames.length} (t = ${frames[index]?.t ?? '–'})` });
  const playerSection = h('section', { className: 'local-steps', 'aria-label': 'Denoising steps', hidden: true },
    h('h3', {}, 'Denoising steps'),
    player.element,
    h('div', { className: 'inline' },
      h('figure', {}, stepX, h('figcaption', {}, 'x_t (noisy)')),
      h('figure', {}, stepX0, h('figcaption', {}, 'x0 estimate'))));
  return {
    fields: [field('Sampler', sampler), field('Steps', steps, 'network evaluations'), ...(guided ? [field('Guidance', guidance, 'classifier-free guidance scale (1 = none)')] : []), record.element],
    read: () => ({
      recordSteps: record.input.checked,
      sampler: sampler.value,
      steps: Math.round(readNumber(steps) ?? defaultSteps(sampler.value)),
      ...(guided ? { guidance: readNumber(guidance) ?? model.defaultGuidance } : {}),
    }),
    player: playerSection,
    reset() {
      frames = [];
      playerSection.hidden = true;
      player.load(0);
    },
    /** A step as it arrives: drawn at once (the picture forming), and added to the scrubber. */
    addFrame(frame: (typeof frames)[number]) {
      frames.push(frame);
      playerSection.hidden = false;
      player.load(frames.length);
    },
    finish() {
      if (frames.length > 0) player.load(frames.length);
    },
  };
}

/** Prompt and sampling settings, then Generate: the text streams in token by token; Stop ends it. */
export function textControls(model: TextDescription, context: ControlsContext): FamilyControls {
  const seed = seedControl('local-seed');
  const prompt = h('textarea', { rows: 3, 'data-testid': 'local-prompt', placeholder: 'And God said' }, 'And God said');
  const maxTokens = numberInput(200, { min: 1, max: 5000, testid: 'local-max-tokens' });
  const temperature = numberInput(0.8, { min: 0, max: 5, step: 0.05, testid: 'local-temperature' });
  const topK = numberInput(0, { min: 0, max: model.vocabularySize, testid: 'local-top-k' });
  const topP = numberInput(1, { min: 0.01, max: 1, step: 0.01, testid: 'local-top-p' });
  const generate = h('button', { type: 'submit', 'data-testid': 'local-generate' }, 'Generate');
  const stop = h('button', { type: 'button', className: 'secondary', 'data-testid': 'local-stop', disabled: true }, 'Stop');
  const time = timeLine();
  const promptEcho = h('span', { className: 'muted' });
  const completion = h('span', { 'data-testid': 'local-completion' });
  const output = h('pre', { className: 'local-text', 'data-testid': 'local-output', 'aria-label': 'Generated text' }, promptEcho, completion);
  stop.addEventListener('click', () => context.worker.stop());
  const form = formWith([
    field('Prompt', prompt, `text from this model's ${model.vocabularySize}-token vocabulary`),
    seed.element,
    field('Tokens', maxTokens, 'characters to generate'),
    field('Temperature', temperature, '0 = always the most likely character'),
    field('Top-k', topK, '0 = off'),
    field('Top-p', topP, '1 = off'),
  ], generate);
  form.querySelector('.actions')!.append(stop);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(generate, async () => {
      stop.disabled = false;
      promptEcho.textContent = prompt.value;
      completion.textContent = '';
      time.textContent = 'Generating…';
      delete time.dataset['seconds'];
      try {
        const started = performance.now();
        let first = 0;
        const result = await context.worker.generate({
          seed: readNumber(seed.input) ?? 0,
          prompt: prompt.value,
          maxTokens: Math.round(readNumber(maxTokens) ?? 200),
          temperature: readNumber(temperature) ?? 0.8,
          topK: Math.round(readNumber(topK) ?? 0),
          topP: readNumber(topP) ?? 1,
        }, (piece) => {
          first ||= performance.now();
          completion.append(piece);
          // Leaving the page stops the model rather than letting it write into a detached element.
          if (!context.attached()) context.worker.stop();
        });
        const seconds = (performance.now() - started) / 1000;
        const perSecond = result.seconds > 0 ? result.tokens / result.seconds : 0;
        const firstToken = first ? `, first after ${((first - started) / 1000).toFixed(2)} s` : '';
        reportTime(time, `${result.tokens} tokens in ${seconds.toFixed(2)} s (${perSecond.toFixed(1)} tokens/s${firstToken}) on ${context.backend()} (in this browser)${result.stopped ? ', stopped' : ''}`, seconds, context.backend(), { tokens: String(result.tokens), tokensPerSecond: perSecond.toFixed(2) });
      } finally {
        stop.disabled = true;
      }
    });
  });
  return { element: h('div', { className: 'local-text-page' }, form, time, output) };
}
