/**
 * A line chart of training losses on a canvas: one line per named value, x = step, y on a linear
 * scale fitted to the data, drawn at the canvas's CSS size × devicePixelRatio.
 */
import { h } from '../dom.ts';

const colours = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

export interface LossChart { element: HTMLElement; add(step: number, values: Record<string, number>): void; clear(): void; readonly points: number }

export function lossChart(testid = 'loss-chart'): LossChart {
  const canvas = h('canvas', { width: 600, height: 240, className: 'chart', 'data-testid': testid, role: 'img', 'aria-label': 'Loss curve: no data yet' });
  const legend = h('p', { className: 'legend' });
  const series = new Map<string, [number, number][]>();
  let count = 0;
  let scheduled = 0;

  const draw = () => {
    scheduled = 0;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 240;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext('2d')!;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const all = [...series.values()].flat();
    if (!all.length) return;
    const pad = { left: 48, right: 10, top: 10, bottom: 22 };
    const xs = all.map((point) => point[0]);
    const ys = all.map((point) => point[1]).filter(Number.isFinite);
    const [xMin, xMax] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
    let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
    if (yMax - yMin < 1e-9) { yMin -= 0.5; yMax += 0.5; }
    const x = (value: number) => pad.left + ((value - xMin) / (xMax - xMin)) * (width - pad.left - pad.right);
    const y = (value: number) => pad.top + (1 - (value - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom);
    context.strokeStyle = '#d4d4d8';
    context.fillStyle = '#52525b';
    context.font = '11px system-ui, sans-serif';
    context.lineWidth = 1;
    for (let tick = 0; tick <= 4; tick += 1) {
      const value = yMin + ((yMax - yMin) * tick) / 4;
      context.beginPath();
      context.moveTo(pad.left, y(value));
      context.lineTo(width - pad.right, y(value));
      context.stroke();
      context.fillText(value.toPrecision(3), 4, y(value) + 4);
    }
    context.fillText(`step ${xMin}`, pad.left, height - 6);
    const last = `step ${xMax}`;
    context.fillText(last, width - pad.right - context.measureText(last).width, height - 6);
    [...series.entries()].forEach(([, points], index) => {
      context.strokeStyle = colours[index % colours.length]!;
      context.lineWidth = 1.5;
      context.beginPath();
      points.forEach(([step, value], at) => (at ? context.lineTo(x(step), y(value)) : context.moveTo(x(step), y(value))));
      context.stroke();
    });
    legend.replaceChildren(...[...series.keys()].map((name, index) =>
      h('span', { className: 'legend-item' }, h('span', { className: 'swatch', style: `background:${colours[index % colours.length]}` }), name)));
    const summary = [...series.entries()].map(([name, points]) => `${name} ${points.at(-1)![1].toPrecision(4)}`).join(', ');
    canvas.setAttribute('aria-label', `Loss curve to step ${xMax}: ${summary}`);
  };

  return {
    element: h('div', { className: 'chart-box' }, canvas, legend),
    add(step, values) {
      for (const [name, value] of Object.entries(values)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        if (!series.has(name)) series.set(name, []);
        const points = series.get(name)!;
        if (points.length && points.at(-1)![0] >= step) continue;
        points.push([step, value]);
        count += 1;
      }
      scheduled ||= window.requestAnimationFrame(draw);
    },
    clear() { series.clear(); count = 0; draw(); },
    get points() { return count; },
  };
}
