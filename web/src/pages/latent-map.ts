/**
 * The 2-D latent map (VAE): the data's latents projected on two principal axes, drawn as points
 * coloured by label. Clicking (or moving the crosshair with the arrow keys and pressing Enter)
 * decodes z = mean + x·axes[0] + y·axes[1].
 */
import { api } from '../api.ts';
import { announce, busy, h } from '../dom.ts';
import type { LatentMap, ModelInfo } from '../types.ts';

export const labelColours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function latentMapSection(info: ModelInfo, setZ: (z: number[]) => void): HTMLElement {
  const size = 360;
  const canvas = h('canvas', { width: size, height: size, className: 'latent-map', tabIndex: 0, 'data-testid': 'latent-map', role: 'application' });
  canvas.setAttribute('aria-label', 'Latent map: click a point, or move with the arrow keys and press Enter, to decode that place');
  canvas.hidden = true;
  const legend = h('p', { className: 'legend' });
  const status = h('p', { className: 'muted', role: 'status' });
  const load = h('button', { type: 'button', className: 'secondary', 'data-testid': 'map-load' }, 'Compute the latent map');
  let map: LatentMap | undefined;
  let cursor = { x: 0, y: 0 };

  const labelsOf = (data: LatentMap) => [...new Set(data.points.map((point) => point.label ?? ''))].sort();
  const colourOf = (labels: string[], label: string | undefined) => labelColours[labels.indexOf(label ?? '') % labelColours.length]!;
  // Canvas pixels ↔ map coordinates (y up), with a margin.
  const margin = 8;
  const toCanvas = (data: LatentMap, x: number, y: number) => {
    const { xMin, xMax, yMin, yMax } = data.extent;
    return [margin + ((x - xMin) / (xMax - xMin || 1)) * (size - 2 * margin), size - margin - ((y - yMin) / (yMax - yMin || 1)) * (size - 2 * margin)] as const;
  };
  const fromCanvas = (data: LatentMap, px: number, py: number) => {
    const { xMin, xMax, yMin, yMax } = data.extent;
    return { x: xMin + ((px - margin) / (size - 2 * margin)) * (xMax - xMin), y: yMin + ((size - margin - py) / (size - 2 * margin)) * (yMax - yMin) };
  };

  const draw = () => {
    if (!map) return;
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, size, size);
    const labels = labelsOf(map);
    context.globalAlpha = 0.7;
    for (const point of map.points) {
      const [px, py] = toCanvas(map, point.x, point.y);
      context.fillStyle = colourOf(labels, point.label);
      context.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    context.globalAlpha = 1;
    const [cx, cy] = toCanvas(map, cursor.x, cursor.y);
    context.strokeStyle = '#111';
    context.lineWidth = 1.5;
    context.beginPath();
    context.arc(cx, cy, 6, 0, Math.PI * 2);
    context.moveTo(cx - 10, cy); context.lineTo(cx + 10, cy);
    context.moveTo(cx, cy - 10); context.lineTo(cx, cy + 10);
    context.stroke();
  };

  const decodeAt = (x: number, y: number) => {
    if (!map) return;
    cursor = { x, y };
    draw();
    const { mean, axes } = map.basis;
    setZ(mean.map((value, index) => value + x * (axes[0][index] ?? 0) + y * (axes[1][index] ?? 0)));
    status.textContent = `The image above is the latent at (${x.toFixed(2)}, ${y.toFixed(2)}) on the map`;
  };

  canvas.addEventListener('click', (event) => {
    if (!map) return;
    const box = canvas.getBoundingClientRect();
    const point = fromCanvas(map, ((event.clientX - box.left) / box.width) * size, ((event.clientY - box.top) / box.height) * size);
    decodeAt(point.x, point.y);
  });
  canvas.addEventListener('keydown', (event) => {
    if (!map) return;
    const dx = (map.extent.xMax - map.extent.xMin) / 40;
    const dy = (map.extent.yMax - map.extent.yMin) / 40;
    const moves: Record<string, [number, number]> = { ArrowLeft: [-dx, 0], ArrowRight: [dx, 0], ArrowUp: [0, dy], ArrowDown: [0, -dy] };
    const move = moves[event.key];
    if (move) {
      event.preventDefault();
      cursor = { x: cursor.x + move[0], y: cursor.y + move[1] };
      draw();
      status.textContent = `Crosshair at (${cursor.x.toFixed(2)}, ${cursor.y.toFixed(2)}): press Enter to decode`;
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      decodeAt(cursor.x, cursor.y);
    }
  });

  load.addEventListener('click', () => void busy(load, async () => {
    status.textContent = 'Encoding the dataset…';
    map = await api.latentMap(info.name, 1000);
    const labels = labelsOf(map);
    cursor = { x: (map.extent.xMin + map.extent.xMax) / 2, y: (map.extent.yMin + map.extent.yMax) / 2 };
    canvas.hidden = false;
    load.textContent = 'Recompute the map';
    legend.replaceChildren(...labels.map((label) => h('span', { className: 'legend-item' }, h('span', { className: 'swatch', style: `background:${colourOf(labels, label)}` }), label || 'unlabelled')));
    status.textContent = `${map.points.length} points; click one to decode it.`;
    draw();
    announce(`Latent map of ${map.points.length} points ready`);
  }));

  return h('section', { className: 'latent-map-section', 'aria-labelledby': 'map-heading' },
    h('h3', { id: 'map-heading' }, 'Latent map'),
    h('p', { className: 'hint' }, 'The dataset\'s latents on their two principal axes, coloured by label.'),
    load, h('div', { className: 'map-box' }, canvas, legend), status);
}
