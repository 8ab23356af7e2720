/**
 * The gallery: sample from any generative model with the controls its family takes, watching the
 * work as it happens (diffusion step previews, text token by token, progress for slow samplers),
 * download what it made, rate it, or compare two samples (A/B).
 */
import { onCancellableSubmit } from '../ui/cancellable.ts';
import { checkbox, h } from '../dom.ts';
import type { GenerateRequest, ModelInfo } from '../types.ts';
import { progressBar } from '../ui/progress.ts';
import { statsLine } from '../ui/feedback.ts';
import { imageControls, showImages, showImagesAB } from './gallery-images.ts';
import { textControls, streamText, showTextAB } from './gallery-text.ts';
import { musicControls, showMusic, showMusicAB } from './gallery-music.ts';
import { clipControls, shapeControls, showClips, showShapes } from './gallery-clips-shapes.ts';

/** The controls a family adds to the form, and how to read them into a request. */
export interface Controls { elements: HTMLElement[]; read(): GenerateRequest }

export function renderGallery(panel: HTMLElement, info: ModelInfo): void {
  const kind = (['text', 'music', 'clips', 'shapes'] as const).find((capability) => info.capabilities.includes(capability)) ?? 'images';
  const controls: Controls = { text: textControls, music: musicControls, clips: clipControls, shapes: shapeControls, images: imageControls }[kind](info);
  // Clips and shapes are not rated yet, so they have no A/B mode.
  const ab = checkbox('A/B: compare two samples', 'ab-mode');
  if (kind === 'clips' || kind === 'shapes') ab.element.hidden = true;
  const abToggle = ab.input;
  const generate = h('button', { type: 'submit', className: 'primary', 'data-testid': 'generate' }, 'Generate');
  const cancel = h('button', { type: 'button', className: 'secondary', hidden: true, 'data-testid': 'cancel' }, 'Cancel');
  const progress = progressBar();
  const results = h('div', { className: 'results', 'data-testid': 'results', 'aria-busy': 'false' });
  const form = h('form', { className: 'controls', 'aria-label': `Sampling settings for ${info.name}` },
    ...controls.elements,
    ab.element,
    h('div', { className: 'actions' }, generate, cancel));

  onCancellableSubmit({ form, submit: generate, cancel, results, progress }, async (signal) => {
    const request = controls.read();
    if (kind === 'clips') await showClips(results, info, request, progress, signal);
    else if (kind === 'shapes') await showShapes(results, info, request, progress, signal);
    else if (abToggle.checked) {
      if (kind === 'images') await showImagesAB(results, info, request, progress, signal);
      else if (kind === 'text') await showTextAB(results, info, request, signal);
      else await showMusicAB(results, info, request, progress, signal);
    } else if (kind === 'text') await streamText(results, info, request, signal);
    else if (kind === 'music') await showMusic(results, info, request, progress, signal);
    else await showImages(results, info, request, progress, signal);
  });
  panel.append(h('div', { className: 'page-grid' }, form, h('div', { className: 'output' }, progress.element, results)), statsLine(info.name));
}
