import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { GenloomError } from '../core/errors.ts';
import { plotLines, plotScatter } from './plot.ts';

/** Decodes PNG bytes, checks the size, and returns how many distinct colours it has. */
function inspectPng(bytes: Buffer, width: number, height: number): number {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const png = PNG.sync.read(bytes);
  assert.equal(png.width, width);
  assert.equal(png.height, height);
  const colours = new Set<number>();
  for (let index = 0; index < png.data.length; index += 4) colours.add(png.data.readUInt32BE(index));
  return colours.size;
}

/** Whether some pixel is close to the given RGB colour (anti-aliasing blends edges, centres stay pure). */
function hasColour(bytes: Buffer, rgb: [number, number, number]): boolean {
  const png = PNG.sync.read(bytes);
  for (let index = 0; index < png.data.length; index += 4) {
    if (Math.abs(png.data[index] - rgb[0]) + Math.abs(png.data[index + 1] - rgb[1]) + Math.abs(png.data[index + 2] - rgb[2]) <= 6) return true;
  }
  return false;
}

test('plotLines renders loss curves with distinct series colours', async () => {
  const steps = Array.from({ length: 500 }, (_, step) => step * 10);
  const series = [
    { name: 'loss', points: steps.map((x) => ({ x, y: 200 * Math.exp(-x / 1500) + 90 + 3 * Math.sin(x) })) },
    { name: 'reconstruction', points: steps.map((x) => ({ x, y: 180 * Math.exp(-x / 1500) + 70 })) },
    { name: 'kl', points: steps.map((x) => ({ x, y: x === 100 ? Number.NaN : 20 + 5 * (1 - Math.exp(-x / 800)) })) },
  ];
  const bytes = await plotLines(series, { title: 'VAE training', xLabel: 'step', yLabel: 'loss', width: 640, height: 400 });
  assert.ok(inspectPng(bytes, 640, 400) > 20, 'chart should not be blank');
  assert.ok(hasColour(bytes, [31, 119, 180]) && hasColour(bytes, [255, 127, 14]) && hasColour(bytes, [44, 160, 44]));
});

test('plotLines survives a single point, a flat series, empty series, logY with non-positive values', async () => {
  const single = await plotLines([{ name: 'one', points: [{ x: 3, y: 7 }] }], { title: 'single', xLabel: 'x', yLabel: 'y' });
  assert.ok(inspectPng(single, 800, 500) > 2);
  assert.ok(hasColour(single, [31, 119, 180]), 'the single point is drawn');
  const flat = await plotLines([{ name: 'flat', points: [0, 1, 2].map((x) => ({ x, y: 0 })) }], { title: 'flat', xLabel: 'x', yLabel: 'y' });
  assert.ok(hasColour(flat, [31, 119, 180]));
  const empty = await plotLines([{ name: 'nothing', points: [{ x: Number.NaN, y: 1 }, { x: 1, y: Infinity }] }], { title: 'empty', xLabel: 'x', yLabel: 'y' });
  assert.ok(inspectPng(empty, 800, 500) > 2);
  const log = await plotLines([{ name: 'loss', points: [0, 1, 2, 3, 4].map((x) => ({ x, y: 10 ** (2 - x) - (x === 4 ? 1 : 0) })) }],
    { title: 'log', xLabel: 'epoch', yLabel: 'loss', logY: true, width: 400, height: 300 });
  assert.ok(inspectPng(log, 400, 300) > 2);
  await assert.rejects(plotLines([], { title: 't', xLabel: 'x', yLabel: 'y', width: 10 }), GenloomError);
});

test('plotScatter renders 10,000 labelled points quickly', async () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const points = Array.from({ length: 10_000 }, (_, index) => {
    const label = index % 10, angle = (label / 10) * 2 * Math.PI;
    return { x: 3 * Math.cos(angle) + random() - 0.5, y: 3 * Math.sin(angle) + random() - 0.5, label };
  });
  const started = performance.now();
  const bytes = await plotScatter(points, { title: 'latent space', labelNames: ['zero', 'one', 'two'], width: 600, height: 500 });
  const elapsed = performance.now() - started;
  assert.ok(inspectPng(bytes, 600, 500) > 10);
  assert.ok(hasColour(bytes, [214, 39, 40]) || hasColour(bytes, [23, 190, 207]), 'label colours appear');
  assert.ok(elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
  const single = await plotScatter([{ x: 1, y: 1, label: 12 }, { x: Number.NaN, y: 0, label: 0 }], { title: 'one point' });
  assert.ok(inspectPng(single, 800, 640) > 2);
});
