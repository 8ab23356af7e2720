/**
 * The latent explorer (VAE, GAN): sliders over the first latent dimensions starting from a seed's
 * latent, attribute-vector sliders, a clickable 2-D map of the data's latents, and an interpolation
 * player. Every change decodes live: debounced, one request in flight, the latest z wins.
 */
import { api } from '../api.ts';
import { announce, busy, debounce, downloadButton, field, h, numberInput, pngUrl, seedControl, select, showError } from '../dom.ts';
import type { ModelInfo } from '../types.ts';
import { framePlayer } from '../ui/frame-player.ts';
import { latentMapSection } from './latent-map.ts';

const sliderLimit = 3;
const maxSliders = 16;

/** Decodes the latest z with at most one request in flight (a newer z replaces a waiting one). */
function liveDecoder(info: ModelInfo, show: (png: string) => void): (z: number[], label?: string) => void {
  let inFlight = false;
  let waiting: { z: number[]; label?: string } | undefined;
  const send = async (z: number[], label?: string) => {
    inFlight = true;
    try {
      const { images } = await api.decode(info.name, [z], label);
      if (images[0]) show(images[0].png);
    } catch (error) {
      showError(error);
    } finally {
      inFlight = false;
      const next = waiting;
      waiting = undefined;
      if (next) void send(next.z, next.label);
    }
  };
  return (z, label) => {
    if (inFlight) waiting = { z: [...z], ...(label ? { label } : {}) };
    else void send([...z], label);
  };
}

export function renderLatent(panel: HTMLElement, info: ModelInfo): void {
  const latentDim = info.latentDim ?? 0;
  let z = new Array<number>(latentDim).fill(0);
  let attributes: { name: string; vector: number[]; amount: number }[] = [];

  const image = h('img', { className: 'pixelated latent-image', alt: 'The image decoded from the current latent vector', 'data-testid': 'latent-image', src: '' });
  let lastPng = '';
  const decodeNow = liveDecoder(info, (png) => {
    lastPng = png;
    image.src = pngUrl(png);
    image.dataset['version'] = String(Number(image.dataset['version'] ?? '0') + 1);
  });
  const labels = info.conditional && info.labelNames?.length ? select(info.labelNames, info.labelNames[0], 'latent-label') : undefined;
  const effective = () => z.map((value, index) => attributes.reduce((sum, attribute) => sum + attribute.amount * (attribute.vector[index] ?? 0), value));
  const decodeLater = debounce(() => decodeNow(effective(), labels?.value), 40);

  // Dimension sliders.
  const sliderCount = Math.min(maxSliders, latentDim);
  const sliders = Array.from({ length: sliderCount }, (_, index) => {
    const input = h('input', { type: 'range', min: -sliderLimit, max: sliderLimit, step: 0.05, value: '0', 'data-testid': `z-${index}` });
    const shown = h('output', { className: 'value' }, '0.00');
    input.addEventListener('input', () => {
      z[index] = Number(input.value);
      shown.textContent = z[index]!.toFixed(2);
      decodeLater();
    });
    const element = field(`z${index + 1}`, input);
    element.classList.add('slider');
    element.append(shown);
    return { input, shown, element };
  });
  const syncSliders = () => sliders.forEach((slider, index) => {
    slider.input.value = String(Math.max(-sliderLimit, Math.min(sliderLimit, z[index] ?? 0)));
    slider.shown.textContent = (z[index] ?? 0).toFixed(2);
  });
  const setZ = (next: number[]) => { z = next.slice(0, latentDim); syncSliders(); decodeNow(effective(), labels?.value); };

  const seed = seedControl('latent-seed');
  const load = h('button', { type: 'button', className: 'primary', 'data-testid': 'latent-load' }, 'Start from this seed');
  load.addEventListener('click', () => void busy(load, async () => {
    const { z: latents } = await api.latent(info.name, Number(seed.input.value), 1);
    if (!latents[0]) throw new Error('the server returned no latent');
    setZ(latents[0]);
    announce(`Loaded the latent of seed ${seed.input.value}`);
  }));
  labels?.addEventListener('change', () => decodeNow(effective(), labels.value));

  const start = h('div', { className: 'controls' }, seed.element, labels ? field('Label', labels) : null, h('div', { className: 'actions' }, load));
  const viewer = h('figure', { className: 'latent-view' }, image,
    h('figcaption', {}, downloadButton('Download PNG', `${info.name}-latent.png`, 'image/png', () => lastPng, 'latent-download')));
  const slidersBox = h('fieldset', { className: 'sliders', 'data-testid': 'latent-sliders' },
    h('legend', {}, `First ${sliderCount} of ${latentDim} latent dimensions`), ...sliders.map((slider) => slider.element));
  const sections: HTMLElement[] = [h('section', { className: 'latent-top', 'aria-label': 'Latent sliders' }, h('div', {}, start, viewer), slidersBox)];

  if (info.capabilities.includes('attributes')) {
    const box = h('fieldset', { className: 'sliders', 'data-testid': 'attribute-sliders' }, h('legend', {}, 'Attribute vectors (towards each label, or the named features of an emoji model)'));
    const loadAttributes = h('button', { type: 'button', className: 'secondary', 'data-testid': 'attributes-load' }, 'Load attribute sliders');
    loadAttributes.addEventListener('click', () => void busy(loadAttributes, async () => {
      const result = await api.attributes(info.name);
      attributes = result.attributes.map((attribute) => ({ ...attribute, amount: 0 }));
      loadAttributes.remove();
      box.append(...attributes.map((attribute) => {
        const input = h('input', { type: 'range', min: -2, max: 2, step: 0.05, value: '0', 'data-testid': `attribute-${attribute.name}` });
        const shown = h('output', { className: 'value' }, '0.00');
        input.addEventListener('input', () => { attribute.amount = Number(input.value); shown.textContent = attribute.amount.toFixed(2); decodeLater(); });
        const element = field(`“${attribute.name}”`, input);
        element.classList.add('slider');
        element.append(shown);
        return element;
      }));
      announce(`${attributes.length} attribute sliders`);
    }));
    box.append(h('p', { className: 'hint' }, 'Each adds the mean latent of the images with a label (or a named feature) minus that of the others.'), loadAttributes);
    sections.push(h('section', { 'aria-label': 'Attribute vectors' }, box));
  }
  if (info.capabilities.includes('latent-map')) sections.push(latentMapSection(info, setZ));
  sections.push(interpolationSection(info, labels));
  panel.append(...sections);
  // Something to look at straight away: the zero vector (the latent space's centre).
  decodeNow(effective(), labels?.value);
}

function interpolationSection(info: ModelInfo, labels: HTMLSelectElement | undefined): HTMLElement {
  const from = numberInput(1, { min: 0, testid: 'interp-from' });
  const to = numberInput(2, { min: 0, testid: 'interp-to' });
  const frames = numberInput(16, { min: 2, max: 64, testid: 'interp-frames' });
  const method = select(['slerp', 'lerp'], 'slerp', 'interp-method');
  const go = h('button', { type: 'button', className: 'primary', 'data-testid': 'interp-go' }, 'Interpolate');
  const image = h('img', { className: 'pixelated latent-image', alt: 'Interpolation frame', 'data-testid': 'interp-image', hidden: true });
  let pngs: string[] = [];
  let gif = '';
  const player = framePlayer((index) => { image.src = pngUrl(pngs[index]!); image.alt = `Interpolation frame ${index + 1} of ${pngs.length}`; }, { label: 'Frame', fps: 12, testid: 'interp' });
  const download = downloadButton('Download GIF', `${info.name}-interpolation.gif`, 'image/gif', () => gif, 'interp-gif');
  download.hidden = true;
  go.addEventListener('click', () => void busy(go, async () => {
    const result = await api.interpolate(info.name, {
      from: { seed: Number(from.value) }, to: { seed: Number(to.value) }, frames: Number(frames.value), method: method.value,
      ...(labels ? { label: labels.value } : {}),
    });
    pngs = result.frames.map((frame) => frame.png);
    gif = result.gif;
    image.hidden = false;
    download.hidden = false;
    player.load(pngs.length, 0);
    announce(`${pngs.length} interpolation frames ready: press Play`);
  }));
  return h('section', { className: 'interpolation', 'aria-labelledby': 'interp-heading' },
    h('h3', { id: 'interp-heading' }, 'Interpolate between two seeds'),
    h('div', { className: 'controls row' }, field('From seed', from), field('To seed', to), field('Frames', frames), field('Method', method), h('div', { className: 'actions' }, go)),
    h('div', { className: 'interp-view' }, image, player.element, download));
}
