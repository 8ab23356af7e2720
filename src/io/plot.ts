import { createRequire } from 'node:module';
import nodePath from 'node:path';
import * as PImage from 'pureimage';
import { PNG } from 'pngjs';
import { GenloomError } from '../core/errors.ts';

/** A named line for {@link plotLines}. */
export interface LineSeries { name: string; points: { x: number; y: number }[] }
/** Options for {@link plotLines}. */
export interface LinePlotOptions { title: string; xLabel: string; yLabel: string; width?: number; height?: number; logY?: boolean }
/** Options for {@link plotScatter}. */
export interface ScatterPlotOptions { title: string; labelNames?: string[]; width?: number; height?: number; pointSize?: number }

type Rgb = [number, number, number];
type Bitmap = ReturnType<typeof PImage.make>;
interface Rect { left: number; top: number; right: number; bottom: number }
interface Axis { min: number; max: number; log: boolean; ticks: number[]; labels: string[] }

// matplotlib's tab10: ten colours that stay distinguishable for most colour-blind viewers.
const TAB10: Rgb[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const FONT_FAMILY = 'GenloomDejaVuSans'; // no spaces: pureimage's font parser keeps quotes in the name
const TEXT_COLOUR = '#222222';
const FRAME_COLOUR: Rgb = [90, 90, 90];
const GRID_COLOUR: Rgb = [228, 228, 228];
const MAX_LEGEND_ENTRIES = 20;
let fontReady = false;

/** Registers and parses DejaVu Sans once; resolved through the package so any cwd works. */
function ensureFont(): void {
  if (fontReady) return;
  let fontPath = '';
  try {
    const packageJson = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json');
    fontPath = nodePath.join(nodePath.dirname(packageJson), 'ttf', 'DejaVuSans.ttf');
    PImage.registerFont(fontPath, FONT_FAMILY).loadSync();
  } catch (error) {
    throw new GenloomError('NOT_FOUND', `cannot load the plot font ${fontPath || 'dejavu-fonts-ttf'}: ${(error as Error).message}`, { cause: error });
  }
  fontReady = true;
}

function checkSize(what: string, value: number, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum || value > 8192) {
    throw new GenloomError('BAD_ARGUMENT', `${what} must be an integer from ${minimum} to 8192, got ${value}`);
  }
  return value;
}

/** Nice tick spacing (1, 2 or 5 × 10^k) giving about `target` intervals over `span`. */
function niceStep(span: number, target: number): number {
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalised = raw / magnitude;
  return (normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10) * magnitude;
}

function formatTick(value: number, step: number): string {
  const magnitude = Math.abs(value);
  if (magnitude < step * 1e-6) return '0';
  if (magnitude >= 1e5 || magnitude < 1e-4) return Number(value.toPrecision(3)).toExponential().replace('e+', 'e');
  return value.toFixed(Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9))));
}

/** Widens an empty or zero-width range so a single point or a flat series still gets an axis. */
function padRange(min: number, max: number): [number, number] {
  if (!(min <= max)) return [0, 1];
  if (max - min > Math.abs(max) * 1e-9) return [min, max];
  const pad = Math.abs(min) * 0.1 || 1;
  return [min - pad, max + pad];
}

/**
 * Linear axis with ~5 nice ticks. `snap` widens the range out to whole tick steps (tidy for curves
 * that start at step 0); otherwise the data range gets a 4% margin so a point cloud fills the plot.
 */
function linearAxis(rawMin: number, rawMax: number, snap: boolean): Axis {
  let [low, high] = padRange(rawMin, rawMax);
  if (!snap) [low, high] = [low - 0.04 * (high - low), high + 0.04 * (high - low)];
  const step = niceStep(high - low, 5);
  const first = snap ? Math.floor(low / step + 1e-9) : Math.ceil(low / step - 1e-9);
  const last = snap ? Math.ceil(high / step - 1e-9) : Math.floor(high / step + 1e-9);
  const ticks = Array.from({ length: last - first + 1 }, (_, index) => (first + index) * step);
  const [min, max] = snap ? [first * step, last * step] : [low, high];
  return { min, max, log: false, ticks, labels: ticks.map((tick) => formatTick(tick, step)) };
}

/** Log axis in log10 units: decade ticks over a wide range, plain nice ticks over a narrow one. */
function logAxis(rawMin: number, rawMax: number): Axis {
  if (!(rawMin <= rawMax)) return logAxis(0.1, 10);
  const low = Math.log10(rawMin), high = Math.log10(rawMax);
  if (high - low >= 1) {
    const first = Math.floor(low), last = Math.ceil(high);
    // Over one or two decades 1-2-5 ticks keep ~5 labels; wider ranges get (every n-th) decade.
    const mantissas = last - first <= 2 ? [1, 2, 5] : [1];
    const every = Math.ceil((last - first) / 6);
    const ticks: number[] = [];
    for (let exponent = first; exponent <= last; exponent += every) {
      for (const mantissa of mantissas) if (exponent < last || mantissa === 1) ticks.push(mantissa * 10 ** exponent);
    }
    return { min: first, max: last, log: true, ticks, labels: ticks.map((tick) => formatTick(tick, tick)) };
  }
  const margin = Math.max(0.05 * (high - low), 0.05);
  const min = low - margin, max = high + margin;
  const step = niceStep(10 ** max - 10 ** min, 5);
  const ticks: number[] = [];
  for (let index = Math.ceil(10 ** min / step); index * step <= 10 ** max; index++) if (index > 0) ticks.push(index * step);
  return { min, max, log: true, ticks, labels: ticks.map((tick) => formatTick(tick, step)) };
}

/** [xMin, xMax, yMin, yMax] by loop: Math.min(...values) overflows the stack for long training runs. */
function extent(points: { x: number; y: number }[]): [number, number, number, number] {
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
  for (const point of points) {
    xMin = Math.min(xMin, point.x); xMax = Math.max(xMax, point.x);
    yMin = Math.min(yMin, point.y); yMax = Math.max(yMax, point.y);
  }
  return [xMin, xMax, yMin, yMax];
}

function axisFraction(axis: Axis, value: number): number {
  return ((axis.log ? Math.log10(value) : value) - axis.min) / (axis.max - axis.min);
}

function blendPixel(bitmap: Bitmap, x: number, y: number, colour: Rgb, alpha: number): void {
  const offset = (y * bitmap.width + x) * 4;
  for (let channel = 0; channel < 3; channel++) {
    bitmap.data[offset + channel] = Math.round(bitmap.data[offset + channel] * (1 - alpha) + colour[channel] * alpha);
  }
}

function fillRect(bitmap: Bitmap, left: number, top: number, width: number, height: number, colour: Rgb, alpha = 1): void {
  const x0 = Math.max(0, Math.round(left)), x1 = Math.min(bitmap.width, Math.round(left + width));
  const y0 = Math.max(0, Math.round(top)), y1 = Math.min(bitmap.height, Math.round(top + height));
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) blendPixel(bitmap, x, y, colour, alpha);
}

/**
 * Anti-aliased polyline drawn straight into the bitmap: each pixel takes the best coverage of any
 * segment near it, then blends once, so joints are round without miter spikes or double-darkening.
 * (pureimage's stroke() warns on repeated points and draws long spikes at sharp turns of noisy curves.)
 */
function drawPolyline(bitmap: Bitmap, points: [number, number][], colour: Rgb, lineWidth: number, clip: Rect): void {
  const half = lineWidth / 2;
  const coverage = new Map<number, number>();
  const segments = points.length === 1 ? [[points[0], points[0]]] : points.slice(1).map((point, index) => [points[index], point]);
  for (const [[x0, y0], [x1, y1]] of segments) {
    const dx = x1 - x0, dy = y1 - y0, lengthSquared = dx * dx + dy * dy;
    const left = Math.max(clip.left, Math.floor(Math.min(x0, x1) - half - 1)), right = Math.min(clip.right, Math.ceil(Math.max(x0, x1) + half + 1));
    const top = Math.max(clip.top, Math.floor(Math.min(y0, y1) - half - 1)), bottom = Math.min(clip.bottom, Math.ceil(Math.max(y0, y1) + half + 1));
    for (let y = top; y < bottom; y++) {
      for (let x = left; x < right; x++) {
        const centreX = x + 0.5, centreY = y + 0.5;
        const t = lengthSquared > 0 ? Math.min(1, Math.max(0, ((centreX - x0) * dx + (centreY - y0) * dy) / lengthSquared)) : 0;
        const distance = Math.hypot(x0 + t * dx - centreX, y0 + t * dy - centreY);
        const amount = Math.min(1, half + 0.5 - distance);
        const key = y * bitmap.width + x;
        if (amount > (coverage.get(key) ?? 0)) coverage.set(key, amount);
      }
    }
  }
  for (const [key, amount] of coverage) blendPixel(bitmap, key % bitmap.width, Math.floor(key / bitmap.width), colour, amount);
}

/**
 * Keeps the first, lowest, highest and last point of each consecutive run within one pixel column:
 * the drawn envelope is unchanged but a 100,000-step curve costs a few thousand segments.
 */
function thinToColumns(pixels: [number, number][]): [number, number][] {
  const kept: [number, number][] = [];
  for (let start = 0; start < pixels.length;) {
    const column = Math.floor(pixels[start][0]);
    let end = start, lowest = start, highest = start;
    while (end + 1 < pixels.length && Math.floor(pixels[end + 1][0]) === column) {
      end++;
      if (pixels[end][1] < pixels[lowest][1]) lowest = end;
      if (pixels[end][1] > pixels[highest][1]) highest = end;
    }
    for (const index of [...new Set([start, lowest, highest, end])].sort((a, b) => a - b)) kept.push(pixels[index]);
    start = end + 1;
  }
  return kept;
}

function setFont(context: PImage.Context, size: number): void {
  context.font = `${size}px ${FONT_FAMILY}`;
  context.fillStyle = TEXT_COLOUR;
}

function textWidth(context: PImage.Context, text: string, size: number): number {
  setFont(context, size);
  return context.measureText(text).width;
}

function drawText(context: PImage.Context, text: string, x: number, y: number, size: number, align: 'left' | 'center' | 'right', rotated = false): void {
  if (text === '') return;
  setFont(context, size);
  context.textAlign = align;
  context.textBaseline = 'middle';
  if (!rotated) { context.fillText(text, x, y); return; }
  context.save();
  context.translate(x, y);
  context.rotate(-Math.PI / 2);
  context.fillText(text, 0, 0);
  context.restore();
}

function toPng(bitmap: Bitmap): Buffer {
  // Only width/height/data are read by pngjs; alpha is always 255 here, so drop it (colour type 2).
  const source = { width: bitmap.width, height: bitmap.height, data: Buffer.from(bitmap.data.buffer, bitmap.data.byteOffset, bitmap.data.length), gamma: 0 } as unknown as PNG;
  return PNG.sync.write(source, { colorType: 2, inputColorType: 6, inputHasAlpha: true });
}

interface Chart { bitmap: Bitmap; context: PImage.Context; plot: Rect }

/** White canvas with title, framed plot area, grid, tick labels, axis titles and a legend on the right. */
function drawFrame(width: number, height: number, title: string, xAxis: Axis, yAxis: Axis, xLabel: string, yLabel: string,
  legend: { name: string; colour: Rgb; kind: 'line' | 'square' }[]): Chart {
  ensureFont();
  const bitmap = PImage.make(width, height);
  bitmap.data.fill(255);
  const context = bitmap.getContext('2d');
  const tickSize = 11, legendSize = 12;
  const legendWidth = legend.length === 0 ? 0 : Math.max(...legend.map((entry) => textWidth(context, entry.name, legendSize))) + 44;
  const yTickWidth = Math.max(...yAxis.labels.map((label) => textWidth(context, label, tickSize)));
  const plot: Rect = {
    left: Math.round(yTickWidth + 14 + (yLabel ? 22 : 0)),
    top: 40,
    right: Math.round(width - 16 - legendWidth),
    bottom: height - (xLabel ? 48 : 30),
  };
  if (plot.right - plot.left < 50 || plot.bottom - plot.top < 50) {
    throw new GenloomError('BAD_ARGUMENT', `plot size ${width}x${height} is too small for its labels and legend`);
  }
  const plotWidth = plot.right - plot.left, plotHeight = plot.bottom - plot.top;
  drawText(context, title, width / 2, 20, 16, 'center');
  xAxis.ticks.forEach((tick, index) => {
    const x = Math.round(plot.left + axisFraction(xAxis, tick) * (plotWidth - 1));
    fillRect(bitmap, x, plot.top, 1, plotHeight, GRID_COLOUR);
    fillRect(bitmap, x, plot.bottom, 1, 5, FRAME_COLOUR);
    drawText(context, xAxis.labels[index], x, plot.bottom + 14, tickSize, 'center');
  });
  yAxis.ticks.forEach((tick, index) => {
    const y = Math.round(plot.bottom - 1 - axisFraction(yAxis, tick) * (plotHeight - 1));
    fillRect(bitmap, plot.left, y, plotWidth, 1, GRID_COLOUR);
    fillRect(bitmap, plot.left - 5, y, 5, 1, FRAME_COLOUR);
    drawText(context, yAxis.labels[index], plot.left - 8, y, tickSize, 'right');
  });
  for (const [left, top, w, h] of [[plot.left, plot.top, plotWidth, 1], [plot.left, plot.bottom - 1, plotWidth, 1], [plot.left, plot.top, 1, plotHeight], [plot.right - 1, plot.top, 1, plotHeight]]) {
    fillRect(bitmap, left, top, w, h, FRAME_COLOUR);
  }
  drawText(context, xLabel, (plot.left + plot.right) / 2, height - 14, 13, 'center');
  drawText(context, yLabel, 14, (plot.top + plot.bottom) / 2, 13, 'center', true);
  legend.forEach((entry, index) => {
    const y = plot.top + 10 + index * 20, x = plot.right + 14;
    if (entry.kind === 'line') fillRect(bitmap, x, y - 1, 22, 3, entry.colour);
    else fillRect(bitmap, x + 6, y - 5, 10, 10, entry.colour);
    drawText(context, entry.name, x + 28, y, legendSize, 'left');
  });
  return { bitmap, context, plot };
}

/**
 * Renders a line chart (e.g. loss curves against step) as PNG bytes: nice round ticks, grid,
 * a legend and one tab10 colour per series. Non-finite points (and non-positive ones with logY)
 * are skipped; a single point or flat series gets a padded range instead of failing.
 */
export async function plotLines(series: LineSeries[], options: LinePlotOptions): Promise<Buffer> {
  const width = checkSize('plotLines width', options.width ?? 800, 240);
  const height = checkSize('plotLines height', options.height ?? 500, 180);
  const logY = options.logY ?? false;
  const kept = series.map((line) => line.points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y) && (!logY || point.y > 0)));
  const [xMin, xMax, yMin, yMax] = extent(kept.flat());
  const xAxis = linearAxis(xMin, xMax, true);
  const yAxis = logY ? logAxis(yMin, yMax) : linearAxis(yMin, yMax, true);
  const colours = series.map((_, index) => TAB10[index % TAB10.length]);
  const legend = series.slice(0, MAX_LEGEND_ENTRIES).map((line, index) => ({ name: line.name, colour: colours[index], kind: 'line' as const }));
  const { bitmap, plot } = drawFrame(width, height, options.title, xAxis, yAxis, options.xLabel, options.yLabel, legend);
  const plotWidth = plot.right - plot.left, plotHeight = plot.bottom - plot.top;
  const inner: Rect = { left: plot.left + 1, top: plot.top + 1, right: plot.right - 1, bottom: plot.bottom - 1 };
  kept.forEach((points, index) => {
    if (points.length === 0) return;
    const pixels = points.map((point): [number, number] => [
      plot.left + 0.5 + axisFraction(xAxis, point.x) * (plotWidth - 1),
      plot.bottom - 0.5 - axisFraction(yAxis, point.y) * (plotHeight - 1),
    ]);
    // A lone point would be a 2-pixel speck; draw it as a visible dot instead.
    drawPolyline(bitmap, thinToColumns(pixels), colours[index], points.length === 1 ? 7 : 2, inner);
  });
  return toPng(bitmap);
}

/**
 * Renders a 2-D scatter (e.g. a latent map) coloured by integer label as PNG bytes, with a legend
 * naming each label present (labelNames[label], else the number). Colours follow tab10 and cycle
 * after ten labels. Points are small semi-transparent squares written straight into the bitmap,
 * so 10,000 points take milliseconds and dense clusters show their density.
 */
export async function plotScatter(points: { x: number; y: number; label: number }[], options: ScatterPlotOptions): Promise<Buffer> {
  const width = checkSize('plotScatter width', options.width ?? 800, 240);
  const height = checkSize('plotScatter height', options.height ?? 640, 180);
  const pointSize = checkSize('plotScatter pointSize', options.pointSize ?? 3, 1);
  const kept = points.filter((point) => Number.isFinite(point.x) && Number.isFinite(point.y));
  const labelOf = (label: number) => (Number.isFinite(label) ? Math.trunc(label) : 0);
  const colourOf = (label: number) => TAB10[((labelOf(label) % TAB10.length) + TAB10.length) % TAB10.length];
  const [xMin, xMax, yMin, yMax] = extent(kept);
  const xAxis = linearAxis(xMin, xMax, false), yAxis = linearAxis(yMin, yMax, false);
  const labels = [...new Set(kept.map((point) => labelOf(point.label)))].sort((a, b) => a - b);
  const shown = labels.length > MAX_LEGEND_ENTRIES ? labels.slice(0, MAX_LEGEND_ENTRIES - 1) : labels;
  const legend = shown.map((label) => ({ name: options.labelNames?.[label] ?? String(label), colour: colourOf(label), kind: 'square' as const }));
  if (shown.length < labels.length) legend.push({ name: `… ${labels.length - shown.length} more`, colour: [255, 255, 255], kind: 'square' });
  const { bitmap, plot } = drawFrame(width, height, options.title, xAxis, yAxis, '', '', legend);
  const plotWidth = plot.right - plot.left, plotHeight = plot.bottom - plot.top;
  const half = pointSize / 2;
  for (const point of kept) {
    const x = plot.left + 0.5 + axisFraction(xAxis, point.x) * (plotWidth - 1) - half;
    const y = plot.bottom - 0.5 - axisFraction(yAxis, point.y) * (plotHeight - 1) - half;
    const left = Math.max(plot.left + 1, Math.round(x)), top = Math.max(plot.top + 1, Math.round(y));
    const right = Math.min(plot.right - 1, Math.round(x) + pointSize), bottom = Math.min(plot.bottom - 1, Math.round(y) + pointSize);
    fillRect(bitmap, left, top, right - left, bottom - top, colourOf(point.label), 0.75);
  }
  return toPng(bitmap);
}

/** Options for {@link plotAttention}. */
export interface AttentionPlotOptions { title: string; cellSize?: number }

/** How a token is written on an axis: whitespace made visible, long tokens shortened. */
function visibleToken(token: string): string {
  const shown = token.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·');
  return shown.length > 8 ? `${shown.slice(0, 7)}…` : shown;
}

/**
 * Attention maps as PNG bytes: one panel per layer (rows) and head (columns), each a T×T heatmap
 * where row i is what token i attends to (white 0 → dark blue 1), with the tokens written along
 * the first panel's axes when the cells are big enough to read.
 */
export async function plotAttention(tokens: string[], layers: Float32Array[][], options: AttentionPlotOptions): Promise<Buffer> {
  ensureFont();
  const length = tokens.length;
  const heads = layers[0]?.length ?? 0;
  if (length === 0 || heads === 0) throw new GenloomError('BAD_ARGUMENT', 'plotAttention needs at least one token and one head');
  for (const layer of layers) {
    if (layer.length !== heads || layer.some((map) => map.length !== length * length)) {
      throw new GenloomError('BAD_ARGUMENT', `plotAttention: every layer needs ${heads} maps of ${length}×${length}`);
    }
  }
  const cell = checkSize('plotAttention cellSize', options.cellSize ?? Math.max(2, Math.min(16, Math.floor(240 / length))), 1);
  const labelled = cell >= 8;
  const labelSpace = labelled ? 60 : 0;
  const gap = 14;
  const panel = cell * length;
  const left = 40 + labelSpace;
  const top = 40 + labelSpace;
  const width = checkSize('plotAttention width', left + heads * (panel + gap) + 10, 1);
  const height = checkSize('plotAttention height', top + layers.length * (panel + gap + 14) + 10, 1);
  const bitmap = PImage.make(width, height);
  const context = bitmap.getContext('2d');
  fillRect(bitmap, 0, 0, width, height, [255, 255, 255]);
  drawText(context, options.title, width / 2, 16, 14, 'center');
  layers.forEach((layer, layerIndex) => {
    const panelTop = top + layerIndex * (panel + gap + 14) + 14;
    drawText(context, `layer ${layerIndex + 1}`, 20, panelTop + panel / 2, 11, 'center', true);
    layer.forEach((map, head) => {
      const panelLeft = left + head * (panel + gap);
      drawText(context, `head ${head + 1}`, panelLeft + panel / 2, panelTop - 8, 11, 'center');
      for (let row = 0; row < length; row++) {
        for (let column = 0; column < length; column++) {
          const weight = Math.max(0, Math.min(1, map[row * length + column]!));
          const colour: Rgb = [Math.round(255 - 247 * weight), Math.round(255 - 207 * weight), Math.round(255 - 148 * weight)];
          fillRect(bitmap, panelLeft + column * cell, panelTop + row * cell, cell, cell, colour);
        }
      }
      if (labelled && head === 0) {
        tokens.forEach((token, i) => drawText(context, visibleToken(token), panelLeft - 4, panelTop + i * cell + cell / 2, Math.min(11, cell), 'right'));
      }
      if (labelled && layerIndex === 0) {
        tokens.forEach((token, i) => drawText(context, visibleToken(token), panelLeft + i * cell + cell / 2, panelTop - 18, Math.min(11, cell), 'left', true));
      }
    });
  });
  return toPng(bitmap);
}

/** Options for {@link plotCaptionedGrid}. */
export interface CaptionedGridOptions { title?: string; columns?: number; tileSize?: number; captionLines?: number }

/** Splits `text` into at most `lines` lines no wider than `width` pixels; the last one ends in "…" when cut. */
function wrapText(context: PImage.Context, text: string, width: number, size: number, lines: number): string[] {
  const out: string[] = [];
  let current = '';
  const words = text.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const candidate = current ? `${current} ${words[i]}` : words[i]!;
    if (textWidth(context, candidate, size) <= width || !current) { current = candidate; continue; }
    out.push(current);
    current = words[i]!;
    if (out.length === lines) { current = ''; out[lines - 1] = `${out[lines - 1]}…`; break; }
  }
  if (current && out.length < lines) out.push(current);
  // A single word wider than the tile: cut it by characters.
  return out.map((line) => {
    let cut = line;
    while (cut.length > 1 && textWidth(context, cut, size) > width) cut = `${cut.slice(0, -2)}…`;
    return cut;
  });
}

/**
 * A contact sheet as PNG bytes: images (RGB or grey, same size, values in [0, 1]) scaled to
 * `tileSize` pixels, each with its caption wrapped beneath it, so a person can read what a
 * dataset pairs with each picture.
 */
export async function plotCaptionedGrid(images: { width: number; height: number; channels: 1 | 3; data: Float32Array }[], captions: string[], options: CaptionedGridOptions = {}): Promise<Buffer> {
  if (images.length === 0) throw new GenloomError('BAD_ARGUMENT', 'plotCaptionedGrid: no images');
  if (captions.length !== images.length) throw new GenloomError('BAD_ARGUMENT', `plotCaptionedGrid: ${images.length} images but ${captions.length} captions`);
  ensureFont();
  const columns = Math.min(options.columns ?? 8, images.length);
  const tile = checkSize('plotCaptionedGrid tileSize', options.tileSize ?? 96, 16);
  const lines = options.captionLines ?? 3;
  const fontSize = 10, lineHeight = 12, gap = 8;
  const cellWidth = tile + 2 * gap, cellHeight = tile + lines * lineHeight + gap + 4;
  const top = options.title ? 32 : gap;
  const rows = Math.ceil(images.length / columns);
  const bitmap = PImage.make(checkSize('plotCaptionedGrid width', columns * cellWidth, 16), checkSize('plotCaptionedGrid height', top + rows * cellHeight, 16));
  bitmap.data.fill(255);
  const context = bitmap.getContext('2d');
  if (options.title) drawText(context, options.title, bitmap.width / 2, 16, 14, 'center');
  images.forEach((image, index) => {
    const left = (index % columns) * cellWidth + gap, y0 = top + Math.floor(index / columns) * cellHeight;
    // Nearest-neighbour scaling: small images stay crisp.
    for (let y = 0; y < tile; y++) {
      const sy = Math.min(image.height - 1, Math.floor((y * image.height) / tile));
      for (let x = 0; x < tile; x++) {
        const sx = Math.min(image.width - 1, Math.floor((x * image.width) / tile));
        const source = (sy * image.width + sx) * image.channels;
        const target = ((y0 + y) * bitmap.width + left + x) * 4;
        for (let c = 0; c < 3; c++) {
          const value = image.data[source + (image.channels === 3 ? c : 0)]!;
          bitmap.data[target + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
        }
      }
    }
    wrapText(context, captions[index]!, tile + gap, fontSize, lines).forEach((line, i) => {
      drawText(context, line, left + tile / 2, y0 + tile + 8 + i * lineHeight, fontSize, 'center');
    });
  });
  return toPng(bitmap);
}
