/**
 * The worker that runs in-browser models, off the page's main thread: sampling a batch (a diffusion
 * run most of all) takes seconds on a slow GPU or the cpu backend, and the samplers are synchronous
 * loops, so on the main thread the page would freeze. Here the page stays live, and diffusion steps
 * and text tokens are posted to it as they are made. WebGL runs on an OffscreenCanvas, WebGPU as in
 * a page. One model at a time: loading another frees the previous one.
 */
import { chooseBackend, type BackendChoice } from './backend.ts';
import { buildBrowserModel, type BrowserModel } from './models.ts';
import type { Reply, Request, SampleResult, TextDone } from './protocol.ts';
import { yieldToBrowser } from './yield.ts';

const scope = self as unknown as {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
};

let model: BrowserModel | null = null;
let backend: BackendChoice | null = null;
let generation: AbortController | null = null;

function loadedModel(): BrowserModel {
  if (!model) throw new Error('no model is loaded in the worker');
  return model;
}

async function handle(message: Request): Promise<void> {
  const { id } = message;
  switch (message.type) {
    case 'load': {
      generation?.abort();
      model?.dispose();
      model = null;
      backend = await chooseBackend(message.preferred);
      // Two loads can overlap across that await (the tab left and opened again): the later one wins
      // and the earlier one's model, if it got built, is freed.
      (model as BrowserModel | null)?.dispose();
      const started = performance.now();
      model = buildBrowserModel(message.bytes, message.name);
      scope.postMessage({ id, type: 'done', result: { backend, model: model.description, buildSeconds: (performance.now() - started) / 1000 } });
      return;
    }
    case 'sample': {
      const current = loadedModel();
      const { prompt, negativePrompt, recordSteps, ...request } = message.request;
      // A text-to-image model reads the text itself; a conditional one reads a label from it.
      const text = current.description.kind === 'images' && current.description.textConditioning ? { prompt, negativePrompt } : undefined;
      const label = !text && prompt && current.labelFromPrompt ? current.labelFromPrompt(prompt) : request.label;
      const started = performance.now();
      const images = current.sample({
        ...request,
        ...(text?.prompt !== undefined ? { prompt: text.prompt } : {}),
        ...(text?.negativePrompt !== undefined ? { negativePrompt: text.negativePrompt } : {}),
        ...(label !== undefined ? { label } : {}),
        ...(recordSteps
          ? {
              onStep: (step: number, t: number, x: { dataSync(): unknown }, x0: { dataSync(): unknown }) => {
                const xData = Float32Array.from(x.dataSync() as Float32Array);
                const x0Data = Float32Array.from(x0.dataSync() as Float32Array);
                scope.postMessage({ id, type: 'step', step, t, x: xData, x0: x0Data }, [xData.buffer, x0Data.buffer]);
              },
            }
          : {}),
      });
      let data: Float32Array;
      try {
        data = Float32Array.from((await images.data()) as Float32Array);
      } finally {
        images.dispose();
      }
      const result: SampleResult = { data, ...(label !== undefined ? { label } : {}), seconds: (performance.now() - started) / 1000 };
      scope.postMessage({ id, type: 'done', result }, [data.buffer]);
      return;
    }
    case 'generate': {
      const current = loadedModel();
      generation = new AbortController();
      const signal = generation.signal;
      try {
        const result = await current.generate({
          ...message.request,
          signal,
          onText: (text) => scope.postMessage({ id, type: 'text', text }),
          // A new task between tokens, so a 'stop' message is seen while the text is being made.
          yieldEvery: yieldToBrowser,
        });
        const done: TextDone = { text: result.text, tokens: result.tokens.length, seconds: result.seconds, stopped: result.stopped };
        scope.postMessage({ id, type: 'done', result: done });
      } finally {
        generation = null;
      }
      return;
    }
    case 'stop':
      generation?.abort();
      scope.postMessage({ id, type: 'done', result: { text: '', tokens: 0, seconds: 0, stopped: true } });
      return;
  }
}

scope.onmessage = (event) => {
  const message = event.data;
  handle(message).catch((error: unknown) => {
    const failure = error as { message?: string; code?: string };
    scope.postMessage({ id: message.id, type: 'error', message: failure.message ?? String(error), ...(failure.code ? { code: failure.code } : {}) });
  });
};
