/**
 * The studio's exploring and training pages end to end, in headless chromium against the real
 * server: a click on the 2-D latent map decodes that point, attribute sliders move the image, the
 * interpolation player walks between two seeds, the diffusion player scrubs the denoising, and a
 * text file uploaded from the page trains a transformer whose text the gallery then streams.
 * Screenshots go to test-output/explore-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { ensureWebBuild } from '../../src/server/web-build.ts';
import { browserSkipReason, imagePixels, launchBrowser, outputPath } from '../browser.ts';

const skip = browserSkipReason();
const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const runsDir = mkdtempSync(join(tmpdir(), 'genloom-explore-'));
let server: StudioServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function open(hash: string): Promise<void> {
  // A fresh load: from another hash of the studio, goto would only change the fragment, and the
  // old page (already marked ready) would still be on screen while the router draws the new one.
  await page.goto('about:blank');
  await page.goto(`${server.url}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
}

const shot = (name: string) => page.screenshot({ path: outputPath(`explore-${name}.png`), fullPage: true });

/** Waits until the element's data-version moves past `previous`; returns the new one. */
async function nextVersion(testid: string, previous: string | null): Promise<string | null> {
  await page.waitForFunction(([id, version]) => {
    const element = document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
    return element?.dataset['version'] !== undefined && element.dataset['version'] !== version;
  }, [testid, previous] as const);
  return page.getByTestId(testid).getAttribute('data-version');
}

describe('exploring and training in the studio', { skip: skip ?? false }, () => {
  before(async () => {
    const webDir = await ensureWebBuild({ quiet: true });
    server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, webDir }));
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(runsDir, { recursive: true, force: true });
  });

  test('a click on the latent map decodes that point; an attribute slider moves the image', async () => {
    await open('#/models/vae-mnist/latent');
    let version = await nextVersion('latent-image', null);
    const start = await imagePixels(page, 'latent-image');
    await page.getByTestId('map-load').click();
    const map = page.getByTestId('latent-map');
    // Drawn: the canvas holds coloured points (not only the white background).
    await page.waitForFunction(() => {
      const canvas = document.querySelector('[data-testid="latent-map"]') as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4) if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) return true;
      return false;
    }, undefined, { timeout: 60_000 });
    const box = (await map.boundingBox())!;
    await map.click({ position: { x: box.width * 0.2, y: box.height * 0.3 } });
    version = await nextVersion('latent-image', version);
    const clicked = await imagePixels(page, 'latent-image');
    assert.notDeepEqual(clicked, start, 'the clicked point decodes to another image');
    await map.click({ position: { x: box.width * 0.8, y: box.height * 0.7 } });
    version = await nextVersion('latent-image', version);
    assert.notDeepEqual(await imagePixels(page, 'latent-image'), clicked, 'another point, another image');
    await shot('latent-map');

    await page.getByTestId('attributes-load').click();
    const seven = page.getByTestId('attribute-7');
    await seven.waitFor({ timeout: 60_000 });
    const before = await imagePixels(page, 'latent-image');
    await seven.focus();
    await page.keyboard.press('End');
    await nextVersion('latent-image', version);
    assert.notDeepEqual(await imagePixels(page, 'latent-image'), before, 'the "7" attribute at full strength changes the digit');
  });

  test('find in the corpus: a clip model shows the emoji nearest a text; a colour VAE slides along "red hair"', async () => {
    await open('#/models/clip-emoji/search');
    await page.getByTestId('search-text').fill('red heart');
    await page.getByTestId('search-go').click();
    await page.getByTestId('search-hit').first().waitFor({ timeout: 60_000 });
    const captions = await page.getByTestId('search-hit').allInnerTexts();
    assert.equal(captions.length, 16);
    assert.ok(captions.slice(0, 4).some((caption) => /red heart/.test(caption)), captions.slice(0, 4).join(' | '));
    await shot('search');

    await open('#/models/vae-emoji/latent');
    let version = await nextVersion('latent-image', null);
    await page.getByTestId('attributes-load').click();
    const redHair = page.getByTestId('attribute-red hair');
    await redHair.waitFor({ timeout: 60_000 });
    const before = await imagePixels(page, 'latent-image');
    await redHair.focus();
    await page.keyboard.press('End');
    version = await nextVersion('latent-image', version);
    assert.notDeepEqual(await imagePixels(page, 'latent-image'), before, '"red hair" at full strength changes the face');
    await shot('emoji-sliders');
  });

  test('the interpolation player walks from one seed to the other', async () => {
    await open('#/models/gan-mnist/latent');
    await page.getByTestId('interp-frames').fill('8');
    await page.getByTestId('interp-go').click();
    const image = page.getByTestId('interp-image');
    await image.waitFor({ state: 'visible', timeout: 60_000 });
    const scrubber = page.getByTestId('interp-scrubber');
    assert.equal(await scrubber.getAttribute('max'), '7');
    await scrubber.fill('0');
    const first = await imagePixels(page, 'interp-image');
    await scrubber.fill('7');
    await page.waitForFunction(() => (document.querySelector('[data-testid="interp-image"]') as HTMLImageElement).alt.includes('frame 8 of 8'));
    assert.notDeepEqual(await imagePixels(page, 'interp-image'), first);
    await page.getByTestId('interp-play').click();
    await shot('interpolation');
  });

  test('the diffusion player records every step and scrubs from noise to digits', async () => {
    await open('#/models/diffusion-mnist/diffusion');
    await page.getByTestId('traj-n').fill('2');
    await page.getByTestId('traj-steps').fill('6');
    await page.getByTestId('traj-go').click();
    const counter = page.getByTestId('traj-counter');
    await counter.filter({ hasText: 'of 6' }).waitFor({ timeout: 60_000 });
    const scrubber = page.getByTestId('traj-scrubber');
    await scrubber.fill('0');
    const noisy = await imagePixels(page, 'traj-xt');
    await scrubber.fill('5');
    await counter.filter({ hasText: 'step 6 of 6' }).waitFor();
    assert.notDeepEqual(await imagePixels(page, 'traj-xt'), noisy, 'the last step is not the first step\'s noise');
    await shot('diffusion-player');
  });

  test('a text file uploaded from the page trains a transformer, whose text then streams in the gallery', async () => {
    const text = join(runsDir, 'verses.txt');
    writeFileSync(text, 'In the beginning was the word, and the word was with the studio. '.repeat(60));
    await open('#/training');
    await page.getByTestId('train-family').selectOption('transformer');
    await page.getByTestId('upload-file').setInputFiles(text);
    await page.getByTestId('upload-go').click();
    await page.getByTestId('upload-status').filter({ hasText: /Uploaded 1 files as upload:/ }).waitFor();
    assert.match(await page.getByTestId('train-dataset').inputValue(), /^upload:/);
    await page.getByTestId('train-steps').fill('30');
    await page.getByTestId('train-preset').fill('tiny');
    await page.getByTestId('train-name').fill('e2e-words');
    await page.getByTestId('train-start').click();
    const detail = page.getByTestId('job-detail');
    await detail.getByTestId('job-state').filter({ hasText: 'finished' }).waitFor({ timeout: 120_000 });
    await shot('upload-trained');
    await detail.getByTestId('job-model').click();
    await page.getByTestId('model-title').filter({ hasText: 'e2e-words' }).waitFor();
    await page.getByTestId('tab-gallery').click();
    await page.getByTestId('generate').click();
    await page.getByTestId('text-output').filter({ hasText: /\S{3}/ }).waitFor({ timeout: 60_000 });
    assert.deepEqual(pageErrors, []);
  });
});
