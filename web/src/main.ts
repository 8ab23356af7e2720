/**
 * The studio's shell: the model list (grouped by family), a hash router
 * (#/models/NAME/TAB, #/training, #/training/JOB) and per model the tabs its capabilities allow.
 */
import './style.css';
import { api } from './api.ts';
import { announce, h, showError } from './dom.ts';
import type { Capability, ModelInfo, ModelSummary } from './types.ts';
import { tabStrip, type Tab } from './ui/tabs.ts';
import { beginView } from './ui/view.ts';
import { renderGallery } from './pages/gallery.ts';
import { renderLatent } from './pages/latent.ts';
import { renderDiffusionPlayer } from './pages/diffusion-player.ts';
import { renderAttention } from './pages/attention.ts';
import { renderTraining } from './pages/training.ts';
import { renderLocalTab } from './pages/local-tab.ts';
import { renderComplete } from './pages/complete.ts';
import { renderSearch } from './pages/search.ts';
import { renderTextToImage } from './pages/text-to-image.ts';

/** A page of a model: its tab, which capability offers it, and how it draws into the panel. */
interface ModelPage extends Tab {
  offered(capabilities: Capability[]): boolean;
  render(panel: HTMLElement, info: ModelInfo): void;
}

const generative: Capability[] = ['images', 'text', 'music', 'completion', 'clips', 'shapes'];
// A text-to-image model's page has its own prompts, feedback and denoising player: it stands in for the gallery and the player.
const textToImage = (c: Capability[]) => c.includes('text-to-image');
const modelPages: ModelPage[] = [
  { id: 'text-to-image', label: 'Text to image', offered: textToImage, render: renderTextToImage },
  { id: 'gallery', label: 'Gallery', offered: (c) => !textToImage(c) && generative.some((x) => c.includes(x)), render: renderGallery },
  { id: 'complete', label: 'Complete', offered: (c) => c.includes('completion'), render: renderComplete },
  { id: 'latent', label: 'Latent explorer', offered: (c) => c.includes('latent'), render: renderLatent },
  { id: 'diffusion', label: 'Diffusion player', offered: (c) => !textToImage(c) && c.includes('trajectory'), render: renderDiffusionPlayer },
  { id: 'attention', label: 'Attention', offered: (c) => c.includes('attention'), render: renderAttention },
  { id: 'search', label: 'Find in the corpus', offered: (c) => c.includes('embed'), render: renderSearch },
  { id: 'local', label: 'In this browser', offered: (c) => c.includes('in-browser'), render: renderLocalTab },
];

const familyNames: Record<string, string> = {
  vae: 'Variational autoencoders', gan: 'GANs', diffusion: 'Diffusion', transformer: 'Transformers',
  pixelcnn: 'PixelCNN', music: 'Music', video: 'Video', shape: '3-D shapes', classifier: 'Classifiers', clip: 'Image–text (CLIP)',
};

const nav = document.getElementById('models')!;
const main = document.getElementById('main')!;
let models: ModelSummary[] = [];
const infoCache = new Map<string, Promise<ModelInfo>>();

function route(): { view: 'home' } | { view: 'model'; name: string; tab?: string } | { view: 'training'; job?: string } {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent).filter(Boolean);
  if (parts[0] === 'models' && parts[1]) return { view: 'model', name: parts[1], ...(parts[2] ? { tab: parts[2] } : {}) };
  if (parts[0] === 'training') return { view: 'training', ...(parts[1] ? { job: parts[1] } : {}) };
  return { view: 'home' };
}

export const modelHref = (name: string, tab?: string) => `#/models/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;

function renderNav(): void {
  const current = route();
  const families = [...new Set(models.map((model) => model.family))];
  const link = (href: string, text: string, active: boolean, testid: string, detail?: string) =>
    h('a', { href, className: active ? 'active' : '', 'aria-current': active ? 'page' : undefined, 'data-testid': testid },
      h('span', {}, text), detail ? h('small', {}, detail) : null);
  nav.replaceChildren(
    h('ul', { className: 'nav-top' }, h('li', {}, link('#/training', 'Training', current.view === 'training', 'nav-training'))),
    ...families.map((family) => {
      const headingId = `family-${family}`;
      return h('section', { className: 'family', 'aria-labelledby': headingId },
        h('h2', { id: headingId }, familyNames[family] ?? family),
        h('ul', {}, ...models.filter((model) => model.family === family).map((model) =>
          h('li', {}, link(modelHref(model.name), model.name, current.view === 'model' && current.name === model.name, `model-${model.name}`,
            model.source === 'runs' ? 'your run' : undefined)))));
    }),
  );
}

function renderHome(): void {
  main.replaceChildren(
    h('h2', {}, 'Welcome'),
    h('p', {}, 'Pick a model to sample from it, explore its latent space, watch diffusion denoise, look at a transformer\'s attention, or rate samples for fine-tuning. Train a new model under Training.'),
    h('ul', { className: 'cards', 'data-testid': 'home-models' }, ...models.map((model) =>
      h('li', { className: 'card' },
        h('h3', {}, h('a', { href: modelHref(model.name) }, model.name)),
        h('p', {}, model.summary),
        h('p', { className: 'muted' }, [model.family, `${model.trainedSteps.toLocaleString()} steps`, model.capabilities.join(', ')].filter(Boolean).join(' · '))))),
  );
}

async function renderModel(name: string, tab: string | undefined, view: AbortSignal): Promise<void> {
  if (!infoCache.has(name)) infoCache.set(name, api.model(name));
  let info: ModelInfo;
  try {
    info = await infoCache.get(name)!;
    // Another page was opened while this one's description loaded: it owns the content now.
    if (view.aborted) return;
  } catch (error) {
    if (view.aborted) return;
    infoCache.delete(name);
    main.replaceChildren(h('h2', {}, name), h('p', {}, 'This model could not be loaded.'));
    showError(error);
    return;
  }
  const pages = modelPages.filter((page) => page.offered(info.capabilities));
  const selected = pages.find((page) => page.id === tab) ?? pages[0];
  const header = h('div', { className: 'model-header' },
    h('h2', { 'data-testid': 'model-title' }, info.name),
    h('p', { className: 'muted' }, `${info.family}${info.conditional ? ' · conditional' : ''}${info.textConditioning ? ' · text to image' : ''} · ${info.trainedSteps.toLocaleString()} training steps`),
    h('p', {}, info.summary));
  if (!selected) {
    main.replaceChildren(header, h('p', {}, 'This model has nothing to sample in the studio (a classifier is used by the others).'));
    return;
  }
  const { strip, panel } = tabStrip(pages, selected.id, (id) => {
    const page = pages.find((candidate) => candidate.id === id)!;
    history.replaceState(null, '', modelHref(name, id));
    beginView();
    panel.replaceChildren();
    page.render(panel, info);
  }, `Pages of ${info.name}`);
  main.replaceChildren(header, strip, panel);
  selected.render(panel, info);
}

async function render(): Promise<void> {
  renderNav();
  const view = beginView();
  const current = route();
  if (current.view === 'model') await renderModel(current.name, current.tab, view);
  else if (current.view === 'training') {
    main.replaceChildren();
    renderTraining(main, current.job, () => void loadModels());
  } else renderHome();
}

async function loadModels(): Promise<void> {
  try {
    models = await api.models();
    renderNav();
    if (route().view === 'home') renderHome();
  } catch (error) {
    showError(error);
  }
}

// The skip link would change the hash, which is the router's: it moves focus instead.
document.getElementById('skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

let lastView = '';
window.addEventListener('hashchange', () => {
  const current = route();
  const view = current.view === 'model' ? `model:${current.name}` : current.view;
  // Switching tabs within a model rewrites the hash with replaceState (no event); a new model or
  // view moves focus to the content so keyboard and screen-reader users land on it.
  void render().then(() => { if (view !== lastView) main.focus(); lastView = view; });
});

async function start(): Promise<void> {
  const health = document.getElementById('health')!;
  api.health().then((status) => {
    health.textContent = `genloom ${status.version} · ${status.backend}`;
  }).catch(() => { health.textContent = 'server unreachable'; });
  await loadModels();
  await render();
  announce('Studio ready');
  document.body.dataset['ready'] = 'true';
}

void start();
