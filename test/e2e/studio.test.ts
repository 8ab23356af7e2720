/**
 * The studio end to end: the built front end served by the real server, driven in headless
 * chromium. Each test does what a person would (generate digits, drag a latent slider, stream
 * text, play and download music, rate a sample, train a tiny model, use a phone-sized screen) and
 * checks what the page shows, what it downloads and what lands in the feedback store. Screenshots
 * of every step go to test-output/studio-*.png.
 *
 * Settings are kept small (few images, few tokens, two bars, a 40-step VAE job) so the file runs
 * in about a minute on a 2-core machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FeedbackStore } from '../../src/feedback/store.ts';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { ensureWebBuild } from '../../src/server/web-build.ts';
import { browserSkipReason, imagePixels, launchBrowser, outputPath } from '../browser.ts';

const skip = browserSkipReason();
const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const runsDir = mkdtempSync(join(tmpdir(), 'genloom-studio-'));
let server: StudioServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function open(hash: string, on: Page = page): Promise<void> {
  await on.goto(`${server.url}/${hash}`);
  await on.waitForSelector('body[data-ready="true"]');
}

const shot = (on: Page, name: string) => on.screenshot({ path: outputPath(`studio-${name}.png`), fullPage: true });

describe('the studio in a browser', { skip: skip ?? false }, () => {
  before(async () => {
    const webDir = await ensureWebBuild({ quiet: true });
    server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, webDir }));
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(runsDir, { recursive: true, force: true });
  });

  test('the studio opens with the shipped models grouped by family', async () => {
    await open('');
    const list = page.getByTestId('model-list');
    for (const name of ['vae-mnist', 'gan-mnist', 'diffusion-mnist', 'transformer-kjv', 'music-bach']) {
      await list.getByTestId(`model-${name}`).waitFor();
    }
    assert.equal(await list.locator('section.family h2').filter({ hasText: 'GANs' }).count(), 1);
    await page.getByTestId('health').filter({ hasText: /genloom \d/ }).waitFor();
    await shot(page, '01-home');
  });

  test('the VAE gallery generates digits, shown as images with alt text', async () => {
    await open('#/models/vae-mnist');
    assert.equal(await page.getByTestId('tab-gallery').getAttribute('aria-selected'), 'true');
    await page.getByTestId('seed').fill('3');
    await page.getByTestId('n').fill('4');
    await page.getByTestId('generate').click();
    await page.getByTestId('result-grid').waitFor({ timeout: 30_000 });
    const samples = page.getByTestId('sample-image');
    assert.equal(await samples.count(), 4);
    const sizes = await samples.evaluateAll((images) => images.map((image) => [(image as HTMLImageElement).naturalWidth, (image as HTMLImageElement).alt]));
    for (const [width, alt] of sizes) {
      assert.equal(width, 28);
      assert.match(String(alt), /sample \d of 4/);
    }
    await shot(page, '02-vae-gallery');
  });

  test('a thumbs up and a thumbs down land in the SQLite feedback store', async () => {
    // The gallery of the previous test is still open: rate its first sample up and its second down.
    await page.getByTestId('thumbs-up').first().click();
    await page.getByTestId('rating-status').first().filter({ hasText: 'Saved' }).waitFor();
    assert.equal(await page.getByTestId('thumbs-up').first().getAttribute('aria-pressed'), 'true');
    await page.getByTestId('feedback-stats').filter({ hasText: '1 ratings' }).waitFor();
    await page.getByTestId('thumbs-down').nth(1).click();
    await page.getByTestId('rating-status').nth(1).filter({ hasText: 'Saved' }).waitFor();
    await page.getByTestId('feedback-stats').filter({ hasText: '2 ratings' }).waitFor();
    await shot(page, '03-rated');
    const store = FeedbackStore.open(join(runsDir, 'feedback.db'));
    try {
      const ratings = store.ratings();
      assert.deepEqual(ratings.map((rating) => [rating.kind, rating.score]), [['thumbs', 1], ['thumbs', -1]]);
      assert.notEqual(ratings[0]!.sampleId, ratings[1]!.sampleId);
      const sample = store.sample(ratings[0]!.sampleId)!;
      assert.equal(sample.family, 'vae');
      assert.equal(sample.seed, 3);
    } finally {
      store.close();
    }
  });

  test('moving a latent slider decodes a different image', async () => {
    // Reach the latent explorer from the gallery with the keyboard: the tabs move with the arrow keys.
    await open('#/models/vae-mnist');
    await page.getByTestId('tab-gallery').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByTestId('tab-latent').getAttribute('aria-selected'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'tab-latent');
    const image = page.getByTestId('latent-image');
    const decoded = async (previous: string | null) => {
      await page.waitForFunction(([testid, version]) => {
        const element = document.querySelector(`[data-testid="${testid}"]`) as HTMLElement | null;
        return element?.dataset['version'] !== undefined && element.dataset['version'] !== version;
      }, ['latent-image', previous] as const);
      return image.getAttribute('data-version');
    };
    let version = await decoded(null);
    await page.getByTestId('latent-seed').fill('5');
    await page.getByTestId('latent-load').click();
    version = await decoded(version);
    const before = await imagePixels(page, 'latent-image');
    // Drag the first slider with the keyboard (End: its maximum), as a keyboard user would.
    await page.getByTestId('z-0').focus();
    await page.keyboard.press('End');
    await decoded(version);
    const after = await imagePixels(page, 'latent-image');
    assert.equal(after.length, before.length);
    const changed = after.filter((value, index) => Math.abs(value - before[index]!) > 8).length;
    assert.ok(changed > 20, `only ${changed} channel values changed after moving z1`);
    await shot(page, '04-latent');
  });

  test('text from transformer-kjv streams in, token by token, before the result', async () => {
    await open('#/models/transformer-kjv');
    await page.getByTestId('max-tokens').fill('40');
    await page.getByTestId('seed').fill('7');
    // Record the completion's length at every change of the page until the result is in.
    await page.evaluate(() => {
      const lengths: number[] = [];
      (window as unknown as { streamLengths: number[] }).streamLengths = lengths;
      new MutationObserver(() => {
        const output = document.querySelector('[data-testid="text-output"]') as HTMLElement | null;
        const completion = document.querySelector('[data-testid="completion"]');
        if (output && completion && !output.dataset['done']) lengths.push(completion.textContent!.length);
      }).observe(document.querySelector('[data-testid="results"]')!, { subtree: true, childList: true, characterData: true });
    });
    await page.getByTestId('generate').click();
    await page.locator('[data-testid="text-output"][data-done="true"]').waitFor({ timeout: 60_000 });
    const lengths = await page.evaluate(() => (window as unknown as { streamLengths: number[] }).streamLengths);
    const distinct = [...new Set(lengths.filter((length) => length > 0))];
    assert.ok(distinct.length > 1, `the text arrived in ${distinct.length} update(s): ${lengths.join(',')}`);
    assert.deepEqual(distinct, [...distinct].sort((a, b) => a - b), 'the text only grows while streaming');
    const final = (await page.getByTestId('completion').textContent()) ?? '';
    assert.ok(final.length >= distinct.at(-1)!);
    assert.match((await page.getByTestId('text-meta').textContent()) ?? '', /40 tokens/);
    await shot(page, '05-text');
  });

  test('leaving a page cancels the generation it started, on the server too', async () => {
    await open('#/models/diffusion-mnist/gallery');
    // 2 images × 1,000 guided steps: within the server's per-request budget (16 would be refused with 413), and still long.
    await page.getByTestId('n').fill('2');
    await page.getByTestId('steps').fill('1000');
    await page.getByTestId('generate').click();
    const generating = async () => ((await (await fetch(`${server.url}/api/health`)).json()) as { generation: { running: boolean } }).generation.running;
    const deadline = Date.now() + 15_000;
    while (!(await generating())) {
      assert.ok(Date.now() < deadline, 'the diffusion run started');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // 1,000 steps take many seconds; leaving the page must stop them within a step or two.
    // A hash change, as the nav links make (no reload that would drop the connection anyway).
    await page.evaluate(() => { location.hash = '#/models/vae-mnist/gallery'; });
    await page.getByTestId('model-title').filter({ hasText: 'vae-mnist' }).waitFor();
    const left = Date.now();
    while (await generating()) {
      assert.ok(Date.now() - left < 10_000, 'the worker is still running the abandoned diffusion');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test('music plays through Web Audio and downloads as a MIDI file', async () => {
    await open('#/models/music-bach');
    await page.getByTestId('bars').fill('2');
    await page.getByTestId('seed').fill('2');
    await page.getByTestId('generate').click();
    await page.getByTestId('piano-roll').waitFor({ timeout: 60_000 });
    const player = page.getByTestId('music-player');
    await page.getByTestId('music-play').click();
    await page.locator('[data-testid="music-player"][data-state="playing"]').waitFor();
    assert.equal(await player.getAttribute('data-audio'), 'running');
    await shot(page, '06-music-playing');
    await page.getByTestId('music-stop').click();
    assert.equal(await player.getAttribute('data-state'), 'stopped');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-midi').click()]);
    assert.match(download.suggestedFilename(), /^music-bach-seed2\.mid$/);
    const bytes = readFileSync((await download.path())!);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'MThd');
  });

  test('a training job streams its loss curve and finishes', async () => {
    await open('#/training');
    // The form offers every registered family, each with its own built-in datasets.
    await page.getByTestId('train-family').selectOption('video');
    assert.deepEqual(await page.getByTestId('train-dataset').locator('option').allTextContents(), ['moving-mnist']);
    await page.getByTestId('train-family').selectOption('shape');
    assert.deepEqual(await page.getByTestId('train-dataset').locator('option').allTextContents(), ['shapes']);
    assert.match((await page.getByTestId('train-family-summary').textContent()) ?? '', /voxel grids/);
    await page.getByTestId('train-family').selectOption('vae');
    await page.getByTestId('train-dataset').selectOption('mnist');
    await page.getByTestId('train-steps').fill('40');
    await page.getByTestId('train-name').fill('e2e-vae');
    await page.getByTestId('train-start').click();
    await page.getByTestId('job-title').filter({ hasText: 'e2e-vae' }).waitFor();
    await page.locator('[data-testid="job-detail"] [data-testid="job-state"]').filter({ hasText: 'finished' }).waitFor({ timeout: 90_000 });
    const label = (await page.getByTestId('loss-chart').getAttribute('aria-label')) ?? '';
    assert.match(label, /Loss curve to step \d+: loss/);
    await page.getByTestId('job-model').waitFor();
    await shot(page, '07-training');
  });

  test('a training job stops at a checkpoint and resumes from it, watched live again', async () => {
    await open('#/training');
    await page.getByTestId('train-family').selectOption('vae');
    await page.getByTestId('train-dataset').selectOption('mnist');
    await page.getByTestId('train-steps').fill('100000');
    await page.getByTestId('train-name').fill('e2e-stop');
    await page.getByTestId('train-start').click();
    const detail = page.getByTestId('job-detail');
    const jobState = detail.getByTestId('job-state');
    await jobState.filter({ hasText: 'running' }).waitFor({ timeout: 60_000 });
    await detail.getByTestId('job-values').filter({ hasText: /step \d+/ }).waitFor({ timeout: 60_000 });
    await detail.getByTestId('job-stop').click();
    await jobState.filter({ hasText: /^stopped$/ }).waitFor({ timeout: 60_000 });
    const stoppedAt = Number((await detail.locator('.job-state-line').textContent())!.match(/step (\d+) of/)![1]);
    assert.ok(stoppedAt > 0, `stopped at step ${stoppedAt}`);
    await detail.getByTestId('job-resume').click();
    // Progress after the resume arrives over a fresh event stream, from the stopped step onwards.
    await page.waitForFunction((from) => {
      const text = document.querySelector('[data-testid="job-detail"] [data-testid="job-values"]')?.textContent ?? '';
      const step = Number(text.match(/^step (\d+)/)?.[1] ?? 0);
      return step > from;
    }, stoppedAt, { timeout: 60_000 });
    await detail.getByTestId('job-stop').click();
    await jobState.filter({ hasText: /^stopped$/ }).waitFor({ timeout: 60_000 });
  });

  test('on a phone-sized screen nothing scrolls sideways', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    const noSideScroll = async (name: string) => {
      const [scrollWidth, innerWidth] = await phone.evaluate(() => [document.scrollingElement!.scrollWidth, window.innerWidth]);
      assert.ok(scrollWidth <= innerWidth, `${name}: the page is ${scrollWidth}px wide in a ${innerWidth}px window`);
      await shot(phone, `08-phone-${name}`);
    };
    try {
      await open('', phone);
      await noSideScroll('home');
      await open('#/models/gan-mnist', phone);
      await phone.getByTestId('n').fill('4');
      await phone.getByTestId('generate').click();
      await phone.getByTestId('result-grid').waitFor({ timeout: 30_000 });
      await noSideScroll('gallery');
      await open('#/models/vae-mnist/latent', phone);
      await noSideScroll('latent');
      await open('#/models/transformer-kjv/attention', phone);
      await phone.getByTestId('attention-go').click();
      await phone.getByTestId('attention-token').first().waitFor({ timeout: 30_000 });
      await noSideScroll('attention');
      await open('#/training', phone);
      await noSideScroll('training');
    } finally {
      await phone.close();
    }
  });

  test('with a server token, the page passes the ?token= it was opened with on every request', async () => {
    const guarded = await startServer(resolveServerOptions({ modelsDir, runsDir: join(runsDir, 'guarded'), port: 0, webDir: await ensureWebBuild({ quiet: true }), token: 's3cret' }));
    const tab = await context.newPage();
    try {
      await tab.goto(`${guarded.url}/?token=s3cret#/models/gan-mnist`);
      await tab.waitForSelector('body[data-ready="true"]');
      await tab.getByTestId('n').fill('2');
      await tab.getByTestId('generate').click();
      await tab.getByTestId('result-grid').waitFor({ timeout: 30_000 });
      await tab.goto(`${guarded.url}/?token=s3cret#/training`);
      await tab.getByTestId('job-list').filter({ hasText: 'No jobs yet' }).waitFor();
      // Opened without its token, the page says so in one line.
      await tab.goto(`${guarded.url}/#/models/gan-mnist`);
      await tab.getByTestId('error').filter({ hasText: /token/ }).waitFor();
      await shot(tab, '09-token-missing');
    } finally {
      await tab.close();
      await guarded.close();
    }
  });

  test('PixelCNN completes a stroke drawn on the pad, keeping the rows above the red line', async () => {
    await open('#/models/pixelcnn-mnist/complete');
    const pad = page.getByTestId('pad');
    const box = (await pad.boundingBox())!;
    // A vertical stroke down the middle of the top half, drawn as a person would with the mouse.
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let step = 1; step <= 8; step++) await page.mouse.move(box.x + box.width * (0.5 + step * 0.01), box.y + box.height * (0.15 + step * 0.04));
    await page.mouse.up();
    const drawn = await pad.evaluate((canvas) => {
      const pixels = (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      return pixels.filter((value, i) => i % 4 === 0 && value > 128).length;
    });
    assert.ok(drawn > 5, `the stroke drew ${drawn} white pixels`);
    await page.getByTestId('rows').fill('16');
    assert.equal(await page.getByTestId('rows-value').textContent(), '16');
    assert.match((await page.getByTestId('pad-cut').getAttribute('style')) ?? '', /top: 57\.1/);
    await page.getByTestId('n').fill('1');
    await page.getByTestId('seed').fill('3');
    await page.getByTestId('complete').click();
    await page.getByTestId('completion-image').waitFor({ timeout: 60_000 });
    const pixels = await imagePixels(page, 'completion-image');
    assert.equal(pixels.length, 28 * 28 * 4, 'a 28×28 image');
    const kept = await imagePixels(page, 'completion-input');
    assert.deepEqual(pixels.slice(0, 16 * 28 * 4), kept.slice(0, 16 * 28 * 4), 'the kept rows come back as drawn (thresholded)');
    assert.ok(kept.slice(0, 16 * 28 * 4).some((value, i) => i % 4 === 0 && value === 255), 'the stroke is in the kept rows');
    await page.getByTestId('sample').getByTestId('thumbs-up').waitFor();
    await shot(page, '10-pixelcnn-complete');
    // The keyboard path: Clear, then an image file, which is shown on the pad.
    const whiteOnPad = () => pad.evaluate((canvas) => (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data.filter((value, i) => i % 4 === 0 && value > 128).length);
    await page.getByTestId('pad-clear').click();
    assert.equal(await whiteOnPad(), 0);
    const completed = (await page.getByTestId('completion-image').getAttribute('src'))!.split(',')[1]!;
    await page.getByTestId('complete-file').setInputFiles({ name: 'digit.png', mimeType: 'image/png', buffer: Buffer.from(completed, 'base64') });
    await page.waitForFunction(() => (document.querySelector('[data-testid="pad"]') as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data.some((value, i) => i % 4 === 0 && value > 128));
    assert.ok((await whiteOnPad()) > 5, 'the chosen file is on the pad');
  });

  test('no script errors on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
