/**
 * The diffusion player: generate with the whole trajectory, then scrub the denoising steps with a
 * range slider, x_t beside the model's estimate of x0, or play them as an animation; GIF download.
 * The viewer (trajectoryViewer) is shared with the text-to-image page, which records the steps of
 * every generation it makes.
 */
import { viewSignal } from '../ui/view.ts';
import { api } from '../api.ts';
import { announce, busy, downloadBytes, field, h, optionalNumber, pngUrl, seedControl, select } from '../dom.ts';
import type { GenerateRequest, ImagesResult, ModelInfo, TrajectoryFrame } from '../types.ts';
import { framePlayer } from '../ui/frame-player.ts';
import { framesToGif } from '../ui/images.ts';
import { progressBar } from '../ui/progress.ts';
import { labelControl } from './gallery-images.ts';

/** x_t beside the x0 estimate, a player over the steps and a GIF download; frames arrive one by one or all at once. */
export interface TrajectoryViewer {
  element: HTMLElement;
  /** Forgets the frames (a new generation starts). */
  clear(): void;
  /** A frame as it streams in: the player follows the newest. */
  push(frame: TrajectoryFrame): void;
  /** The whole trajectory (a result's): shown from its first step, ready to play. */
  finish(frames: TrajectoryFrame[]): void;
  readonly count: number;
}

export function trajectoryViewer(name: string): TrajectoryViewer {
  let frames: TrajectoryFrame[] = [];
  const noisy = h('img', { className: 'pixelated', alt: 'x_t: the images at this denoising step', 'data-testid': 'traj-xt' });
  const estimate = h('img', { className: 'pixelated', alt: 'The model\'s estimate of the final images from this step', 'data-testid': 'traj-x0' });
  const view = h('div', { className: 'side-by-side', hidden: true },
    h('figure', {}, noisy, h('figcaption', {}, 'x_t (noisy)')), h('figure', {}, estimate, h('figcaption', {}, 'x0 estimate')));
  const player = framePlayer((index) => {
    const frame = frames[index]!;
    noisy.src = pngUrl(frame.png);
    estimate.src = pngUrl(frame.x0Png);
    noisy.alt = `x_t at step ${frame.step + 1} (t = ${frame.t})`;
    estimate.alt = `Estimate of x0 at step ${frame.step + 1}`;
  }, { label: 'Denoising step', fps: 8, testid: 'traj', describe: (index) => `step ${(frames[index]?.step ?? index) + 1} of ${frames.length} · t = ${frames[index]?.t ?? '?'}` });
  const gifButton = h('button', { type: 'button', className: 'secondary small', 'data-testid': 'traj-gif', hidden: true }, 'Download GIF');
  gifButton.addEventListener('click', () => void busy(gifButton, async () => {
    downloadBytes(await framesToGif(frames.map((frame) => frame.png), 120), `${name}-denoising.gif`, 'image/gif');
  }));
  return {
    element: h('div', { className: 'trajectory', 'data-testid': 'trajectory' }, view, player.element, gifButton),
    clear() {
      frames = [];
      player.load(0);
      gifButton.hidden = true;
    },
    push(frame) {
      frames.push(frame);
      view.hidden = false;
      player.load(frames.length);
    },
    finish(all) {
      if (all.length > 0) frames = all;
      view.hidden = frames.length === 0;
      player.load(frames.length, 0);
      gifButton.hidden = frames.length === 0;
    },
    get count() {
      return frames.length;
    },
  };
}

export function renderDiffusionPlayer(panel: HTMLElement, info: ModelInfo): void {
  const seed = seedControl('traj-seed');
  const n = optionalNumber('Images (n)', 4, { min: 1, max: 16, step: 1, testid: 'traj-n' });
  const label = labelControl(info);
  const sampler = select(info.samplers ?? ['ddim'], (info.samplers ?? []).includes('ddim') ? 'ddim' : info.samplers?.[0], 'traj-sampler');
  const steps = optionalNumber('Steps', 20, { min: 2, max: 200, step: 1, testid: 'traj-steps', hint: 'Every step is kept, so fewer steps load faster.' });
  const guidance = optionalNumber('Guidance', info.conditional ? 3 : undefined, { min: 0, max: 20, step: 0.5, testid: 'traj-guidance' });
  const go = h('button', { type: 'submit', className: 'primary', 'data-testid': 'traj-go' }, 'Generate and record');
  const progress = progressBar('traj-progress');
  const viewer = trajectoryViewer(info.name);

  const form = h('form', { className: 'controls', 'aria-label': 'Trajectory settings' },
    seed.element, n.element, ...(label.element ? [label.element] : []), field('Sampler', sampler), steps.element, guidance.element,
    h('div', { className: 'actions' }, go));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(go, async () => {
      const request: GenerateRequest = { seed: Number(seed.input.value), sampler: sampler.value as GenerateRequest['sampler'], trajectory: true };
      const values = { n: n.read(), steps: steps.read(), guidance: info.conditional ? guidance.read() : undefined, label: label.read() };
      for (const [key, value] of Object.entries(values)) if (value !== undefined) (request as Record<string, unknown>)[key] = value;
      viewer.clear();
      progress.reset('starting…');
      try {
        const result = await api.generateStream<ImagesResult>(info.name, request, {
          progress: ({ done, total }) => progress.update(done, total),
          // Frames as they are made: the player follows the newest one until the result arrives.
          step: (frame) => {
            viewer.push(frame);
            if (request.steps) progress.update(Math.min(request.steps, frame.step + 1), request.steps);
          },
        }, viewSignal());
        viewer.finish(result.trajectory ?? []);
        announce(`${viewer.count} denoising steps recorded: scrub or press Play`);
      } finally {
        progress.hide();
      }
    });
  });
  panel.append(h('div', { className: 'page-grid' }, form,
    h('div', { className: 'output' }, progress.element, viewer.element)));
}
