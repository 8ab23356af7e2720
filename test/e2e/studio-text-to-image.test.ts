/**
 * The studio's text-to-image page in headless chromium, on a tiny text-conditioned diffusion model
 * trained here (test/text-to-image-model.ts: a few seconds; its images are noise, which is all the
 * wiring needs). A person types a prompt (or clicks an example), generates, sees the images form
 * and then the denoising player; rates one; compares two (A/B) and the choice lands in the feedback
 * store with everything needed to draw both again; a refused request leaves the earlier images; the
 * in-browser tab draws the server's images for a prompt; a phone-sized screen does not scroll sideways. Screenshots go to test-output/studio-t2i-*.png.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { FeedbackStore } from '../../src/feedback/store.ts';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { ensureWebBuild } from '../../src/server/web-build.ts';
import { browserSkipReason, launchBrowser, outputPath } from '../browser.ts';
import { PNG } from 'pngjs';
import { tempDir } from '../fixtures.ts';
import { fillControls, generateInPage, openLocalTab } from '../in-browser-page.ts';
import { trainTinyTextToImage } from '../text-to-image-model.ts';

const skip = browserSkipReason();
const workDir = tempDir('genloom-studio-t2i-work-');
const modelsDir = tempDir('genloom-studio-t2i-models-');
const runsDir = tempDir('genloom-studio-t2i-runs-');
const model = 'txt2img-tiny';
let server: StudioServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function open(on: Page, hash: string): Promise<void> {
  await on.goto(`${server.url}/${hash}`);
  await on.waitForSelector('body[data-ready="true"]');
}

const shot = (on: Page, name: string) => on.screenshot({ path: outputPath(`studio-t2i-${name}.png`), fullPage: true });

function withStore<T>(read: (store: FeedbackStore) => T): T {
  const store = FeedbackStore.open(join(runsDir, 'feedback.db'));
  try {
    return read(store);
  } finally {
    store.close();
  }
}

describe('the text-to-image page', { skip: skip ?? false }, () => {
  before(async () => {
    const [webDir] = await Promise.all([ensureWebBuild({ quiet: true }), trainTinyTextToImage(workDir, modelsDir, model)]);
    server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, webDir }));
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const dir of [workDir, modelsDir, runsDir]) rmSync(dir, { recursive: true, force: true });
  });

  test('a prompt makes images, shown as they form and then in the denoising player', async () => {
    await open(page, `#/models/${model}`);
    assert.equal(await page.getByTestId('tab-text-to-image').getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByTestId('tab-gallery').count(), 0, 'the text-to-image page stands in for the gallery');
    // An example fills the prompt box; typing replaces it.
    await page.getByTestId('example-prompt').filter({ hasText: 'thumbs up: dark skin tone, twitter style' }).click();
    assert.equal(await page.getByTestId('prompt').inputValue(), 'thumbs up: dark skin tone, twitter style');
    await page.getByTestId('prompt').fill('a red ring');
    await page.getByTestId('negative-prompt').fill('a blue square');
    await page.getByTestId('guidance').fill('3');
    await page.getByTestId('steps').fill('6');
    await page.getByTestId('seed').fill('5');
    await page.getByTestId('n').fill('3');
    await page.getByTestId('generate').click();
    await page.getByTestId('sample-image').nth(2).waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('sample-image').count(), 3);
    assert.match(await page.getByTestId('run-prompt').first().innerText(), /a red ring/);
    const widths = await page.getByTestId('sample-image').evaluateAll((images) => images.map((image) => (image as HTMLImageElement).naturalWidth));
    assert.deepEqual(widths, [16, 16, 16]);
    // Every step was recorded: the player starts at the first and scrubs to the last.
    assert.match(await page.getByTestId('traj-counter').innerText(), /step 1 of 6/);
    await page.getByTestId('traj-scrubber').fill('5');
    assert.match(await page.getByTestId('traj-counter').innerText(), /step 6 of 6/);
    assert.ok((await page.getByTestId('traj-xt').getAttribute('src'))?.startsWith('data:image/png;base64,'));
    await shot(page, '01-generated');
  });

  test('a rating stores the prompt and settings with the image', async () => {
    await page.getByTestId('thumbs-up').first().click();
    await page.getByTestId('rating-status').first().filter({ hasText: 'Saved' }).waitFor();
    const sample = withStore((store) => store.sample(store.ratings()[0]!.sampleId)!);
    assert.equal(sample.prompt, 'a red ring');
    assert.equal(sample.seed, 5);
    assert.deepEqual({ ...sample.settings }, { prompt: 'a red ring', negativePrompt: 'a blue square', sampler: 'ddim', steps: 6, guidance: 3, trajectory: true, n: 3, index: 0, source: 'studio' });
  });

  test('an A/B choice lands in the feedback store with both images\' prompt, seed and settings', async () => {
    await page.getByTestId('ab-mode').check();
    await page.getByTestId('prompt').fill('a green square');
    await page.getByTestId('seed').fill('8');
    await page.getByTestId('generate').click();
    await page.getByTestId('ab-b').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('run').count(), 2, 'the first run stays below the new one');
    await page.getByTestId('prefer-b').click();
    await page.getByTestId('preference-status').filter({ hasText: 'Saved: B is better' }).waitFor();
    await shot(page, '02-ab');
    const [preference] = withStore((store) => store.preferences());
    assert.equal(preference!.prompt, 'a green square');
    for (const [sample, index] of [[preference!.chosen, 1], [preference!.rejected, 0]] as const) {
      assert.equal(sample.seed, 8);
      assert.deepEqual({ ...sample.settings }, { prompt: 'a green square', negativePrompt: 'a blue square', sampler: 'ddim', steps: 6, guidance: 3, trajectory: true, n: 2, index, source: 'studio' });
    }
    await page.getByTestId('ab-mode').uncheck();
  });

  test('a refused request says why and keeps the earlier images and player', async () => {
    const refusal = { error: { code: 'BAD_ARGUMENT', message: 'the prompt cannot be read: "☃" is not in this model\'s vocabulary' } };
    await page.route(`**/api/models/${model}/generate`, (route) => route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify(refusal) }));
    try {
      await page.getByTestId('prompt').fill('a ☃ ring');
      await page.getByTestId('generate').click();
      await page.getByTestId('generation-error').filter({ hasText: 'cannot be read' }).waitFor();
      assert.match(await page.getByTestId('generation-error').innerText(), /earlier images are kept/);
      assert.equal(await page.getByTestId('run').count(), 2);
      assert.equal(await page.getByTestId('sample-image').count(), 3);
      assert.match(await page.getByTestId('traj-counter').innerText(), /of 6/);
      await shot(page, '03-refused');
    } finally {
      await page.unroute(`**/api/models/${model}/generate`);
    }
  });

  test('in this browser, a prompt and a negative prompt draw the server\'s images (the BPE tokenizer read in the page)', async (t) => {
    await openLocalTab(page, server.url, model);
    const body = { seed: 2, n: 4, prompt: 'a red ring', negativePrompt: 'a blue square', sampler: 'ddim', steps: 3, guidance: 3 };
    await fillControls(page, { 'local-seed': '2', 'local-count': '4', 'local-prompt': body.prompt, 'local-negative-prompt': body.negativePrompt, 'local-sampler': 'ddim', 'local-steps': '3', 'local-guidance': '3' });
    await generateInPage(page, 120_000);
    const canvas = await page.getByTestId('local-output').evaluate((element) => {
      const drawn = element as HTMLCanvasElement;
      return { width: drawn.width, height: drawn.height, rgba: Array.from(drawn.getContext('2d')!.getImageData(0, 0, drawn.width, drawn.height).data) };
    });
    const response = await fetch(`${server.url}/api/models/${model}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const grid = PNG.sync.read(Buffer.from(((await response.json()) as { grid: string }).grid, 'base64'));
    assert.deepEqual([canvas.width, canvas.height], [grid.width, grid.height]);
    let worst = 0;
    for (let index = 0; index < canvas.rgba.length; index += 4) {
      for (let channel = 0; channel < 3; channel++) worst = Math.max(worst, Math.abs(canvas.rgba[index + channel]! - grid.data[index + channel]!));
    }
    t.diagnostic(`max pixel difference from the server ${worst}/255`);
    // GPU float rounding may move a pixel by a step or two, as in test/e2e/in-browser.test.ts.
    assert.ok(worst <= 2, `the canvas differs from the server's grid by up to ${worst}/255`);
    await shot(page, '04-in-browser');
  });

  test('on a phone-sized screen the page fits and generates', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    phone.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await open(phone, `#/models/${model}`);
      await phone.getByTestId('prompt').fill('a yellow square');
      await phone.getByTestId('n').fill('2');
      await phone.getByTestId('steps').fill('3');
      await phone.getByTestId('generate').click();
      await phone.getByTestId('sample-image').nth(1).waitFor({ timeout: 60_000 });
      const [scrollWidth, innerWidth] = await phone.evaluate(() => [document.scrollingElement!.scrollWidth, window.innerWidth]);
      assert.ok(scrollWidth <= innerWidth, `scrolls sideways: ${scrollWidth} > ${innerWidth}`);
      await shot(phone, '05-phone');
    } finally {
      await phone.close();
    }
    assert.deepEqual(pageErrors, []);
  });
});
