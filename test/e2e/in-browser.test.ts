/**
 * In-browser mode end to end: the studio served by the real server, opened in headless chromium
 * (WebGL on SwiftShader), runs the shipped models in the page and draws what the server draws for
 * the same seed. The canvas is read back and compared with the server's grid PNG pixel by pixel;
 * GPU float rounding may move a pixel by a step or two of 255, nothing more.
 *
 * How fast each family runs on each backend the browser offers is a benchmark, not a test:
 * `npm run bench -- in-browser`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { ensureWebBuild } from '../../src/server/web-build.ts';
import { browserSkipReason, launchBrowser, outputPath } from '../browser.ts';
import { fillControls, generateInPage, openLocalTab } from '../in-browser-page.ts';

const skip = browserSkipReason();
const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const runsDir = mkdtempSync(join(tmpdir(), 'genloom-in-browser-'));
let server: StudioServer;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

before(async () => {
  if (skip) return;
  const webDir = await ensureWebBuild({ quiet: true });
  server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, webDir }));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(runsDir, { recursive: true, force: true });
});

async function serverGrid(name: string, body: Record<string, unknown>): Promise<PNG> {
  const response = await fetch(`${server.url}/api/models/${name}/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const result = (await response.json()) as { grid: string; seed: number };
  assert.equal(result.seed, body['seed']);
  return PNG.sync.read(Buffer.from(result.grid, 'base64'));
}

const openLocal = (name: string, backend = 'auto') => openLocalTab(page, server.url, name, backend);
const fill = (fields: Record<string, string>) => fillControls(page, fields);
const generate = (timeout?: number) => generateInPage(page, timeout);

/** The output canvas's pixels (R, G, B of each; the images are grey) and size. */
async function canvasPixels(testid = 'local-output'): Promise<{ width: number; height: number; rgba: number[] }> {
  return page.getByTestId(testid).evaluate((element) => {
    const canvas = element as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    return { width: canvas.width, height: canvas.height, rgba: Array.from(data) };
  });
}

/** Largest |canvas − server| over every pixel and channel, in 0..255 steps. */
function maxDifference(canvas: { width: number; height: number; rgba: number[] }, png: PNG): number {
  assert.equal(canvas.width, png.width);
  assert.equal(canvas.height, png.height);
  let worst = 0;
  for (let index = 0; index < canvas.rgba.length; index += 4) {
    for (let channel = 0; channel < 3; channel++) worst = Math.max(worst, Math.abs(canvas.rgba[index + channel]! - png.data[index + channel]!));
  }
  return worst;
}

const imageCases: { name: string; fields: Record<string, string>; body: Record<string, unknown> }[] = [
  { name: 'gan-mnist', fields: { 'local-seed': '42', 'local-count': '9', 'local-label': '3', 'local-truncation': '0.8' }, body: { seed: 42, n: 9, label: '3', truncation: 0.8 } },
  { name: 'vae-mnist', fields: { 'local-seed': '7', 'local-count': '16' }, body: { seed: 7, n: 16 } },
  {
    name: 'diffusion-mnist',
    fields: { 'local-seed': '3', 'local-count': '4', 'local-label': '8', 'local-sampler': 'ddim', 'local-steps': '5', 'local-guidance': '3' },
    body: { seed: 3, n: 4, label: '8', sampler: 'ddim', steps: 5, guidance: 3 },
  },
];

for (const { name, fields, body } of imageCases) {
  test(`${name}: the page draws, on its own GPU backend, the server's images for seed ${body.seed}`, { skip }, async (t) => {
    const backend = await openLocal(name);
    assert.ok(['webgl', 'webgpu'].includes(backend), `headless chromium should get a GPU backend, got ${backend}`);
    assert.match((await page.getByTestId('local-backend').textContent())!, /^Running in this browser on (WEBGL|WEBGPU)$/);
    assert.match((await page.getByTestId('local-progress').textContent())!, /model\.safetensors \([\d.]+ MB\)/);
    await fill(fields);
    const { seconds, dataset, frameMs } = await generate();
    assert.ok(seconds > 0);
    if (frameMs !== undefined) {
      t.diagnostic(`${name}: while the model ran, the page painted a frame after ${frameMs.toFixed(0)} ms`);
      assert.ok(frameMs < 1000, `the page froze for ${frameMs.toFixed(0)} ms while the model ran`);
    }
    assert.equal(dataset['backend'], backend);
    const worst = maxDifference(await canvasPixels(), await serverGrid(name, body));
    t.diagnostic(`${name}: ${backend}, ${seconds.toFixed(3)} s in the page (cold), max pixel difference from the server ${worst}/255`);
    assert.ok(worst <= 2, `the canvas differs from the server's grid by up to ${worst}/255`);
    if (name === 'diffusion-mnist') {
      // Every step was recorded: the player scrubs through 5 frames, x_t and x0 side by side.
      assert.match((await page.getByTestId('local-steps-player-counter').textContent())!, /step 5 of 5/);
      const x0 = await canvasPixels('local-step-x0');
      assert.ok(x0.width > 0);
    }
    await page.screenshot({ path: outputPath(`in-browser-${name}.png`), fullPage: true });
  });
}

test('transformer-kjv: the text streams in and matches the server\'s for the seed', { skip }, async (t) => {
  const backend = await openLocal('transformer-kjv');
  await fill({ 'local-prompt': 'And God said', 'local-seed': '5', 'local-max-tokens': '60', 'local-temperature': '0.8', 'local-top-k': '10' });
  // Count the completion's updates as they land: streamed, not written once at the end.
  await page.getByTestId('local-completion').evaluate((element) => {
    (window as unknown as { updates: number }).updates = 0;
    new MutationObserver(() => { (window as unknown as { updates: number }).updates += 1; }).observe(element, { childList: true, characterData: true, subtree: true });
  });
  const { dataset } = await generate();
  const text = (await page.getByTestId('local-completion').textContent())!;
  const updates = await page.evaluate(() => (window as unknown as { updates: number }).updates);
  assert.equal(dataset['tokens'], '60');
  assert.equal(Array.from(text).length, 60);
  assert.ok(updates >= 2, `the text should arrive in pieces, saw ${updates} update(s)`);
  const response = await fetch(`${server.url}/api/models/transformer-kjv/generate`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'And God said', seed: 5, maxTokens: 60, temperature: 0.8, topK: 10 }),
  });
  const result = (await response.json()) as { text: string };
  t.diagnostic(`transformer-kjv on ${backend}: ${dataset['tokensPerSecond']} tokens/s (cold); page ${JSON.stringify(text)}, server ${JSON.stringify(result.text)}`);
  assert.equal(text, result.text);
  await page.screenshot({ path: outputPath('in-browser-transformer-kjv.png'), fullPage: true });
});

test('diffusion-mnist: a prompt names the label, read in the page as on the server', { skip }, async () => {
  await openLocal('diffusion-mnist');
  await fill({ 'local-seed': '11', 'local-count': '2', 'local-label': 'random (per image)', 'local-prompt': 'a handwritten seven', 'local-steps': '2', 'local-guidance': '3', 'local-record-steps': 'false' });
  await generate();
  assert.match((await page.getByTestId('local-time').textContent())!, /2 images, seed 11, label 7, 2 ddim steps/);
  const worst = maxDifference(await canvasPixels(), await serverGrid('diffusion-mnist', { seed: 11, n: 2, prompt: 'a handwritten seven', sampler: 'ddim', steps: 2, guidance: 3 }));
  assert.ok(worst <= 2, `the canvas differs from the server's grid by up to ${worst}/255`);
  await fill({ 'local-prompt': 'a purple cow' });
  await page.getByTestId('local-generate').click();
  await page.getByTestId('error').waitFor({ timeout: 30_000 });
  assert.match((await page.getByTestId('error').textContent())!, /words this model does not know \(purple, cow\)/);
});

test('transformer-kjv: Stop ends a long generation with the text so far; the backends tried are listed', { skip }, async () => {
  await openLocal('transformer-kjv');
  assert.match((await page.getByTestId('local-backend-reasons').textContent())!, /webgl: in use — WebGL 2, float32 textures/);
  await fill({ 'local-prompt': 'In the beginning', 'local-max-tokens': '3000' });
  await page.getByTestId('local-generate').click();
  await page.waitForFunction(() => (document.querySelector('[data-testid="local-completion"]')?.textContent ?? '').length >= 5, undefined, { timeout: 60_000 });
  await page.getByTestId('local-stop').click();
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="local-time"]')?.dataset['seconds'] !== undefined, undefined, { timeout: 60_000 });
  const made = Number(await page.getByTestId('local-time').getAttribute('data-tokens'));
  assert.ok(made >= 5 && made < 3000, `stopped after ${made} tokens`);
  assert.match((await page.getByTestId('local-time').textContent())!, /, stopped$/);
  assert.equal(Array.from((await page.getByTestId('local-completion').textContent())!).length, made);
});

test('on a phone-sized screen the page and its canvas fit the width', { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await openLocal('vae-mnist');
    await fill({ 'local-seed': '2', 'local-count': '64' });
    await generate();
    const { scrollWidth, innerWidth, canvasRight } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      canvasRight: document.querySelector('[data-testid="local-output"]')!.getBoundingClientRect().right,
    }));
    assert.ok(scrollWidth <= innerWidth, `the page scrolls sideways (${scrollWidth} > ${innerWidth})`);
    assert.ok(canvasRight <= innerWidth, `the canvas ends at ${canvasRight} px, past the ${innerWidth} px screen`);
    await page.screenshot({ path: outputPath('in-browser-phone.png'), fullPage: true });
  } finally {
    await page.setViewportSize({ width: 1280, height: 1100 });
  }
});

test('the page stays clean: no console errors', { skip }, () => {
  // The studio's error banner also logs the error; the bad prompt above is one on purpose.
  assert.deepEqual(consoleErrors.filter((message) => !/WebGPU|webgpu|powerPreference|\(purple, cow\)/.test(message)), []);
});
