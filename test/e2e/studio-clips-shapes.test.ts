/**
 * Video and 3-D shapes in the studio, in headless chromium with the shipped starter models: the
 * gallery makes clips of the digits a prompt names (GIF, MP4, frame strip, downloads) and shapes of
 * a label, shown in a three.js viewer that turns when dragged. Screenshots go to
 * test-output/studio-clips-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { ensureWebBuild } from '../../src/server/web-build.ts';
import { browserSkipReason, launchBrowser, outputPath } from '../browser.ts';

const skip = browserSkipReason();
const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const runsDir = mkdtempSync(join(tmpdir(), 'genloom-studio-clips-'));
let server: StudioServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function open(hash: string): Promise<void> {
  await page.goto(`${server.url}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
}

const shot = (name: string) => page.screenshot({ path: outputPath(`studio-clips-${name}.png`), fullPage: true });

describe('clips and shapes in the studio', { skip: skip ?? false }, () => {
  before(async () => {
    const webDir = await ensureWebBuild({ quiet: true });
    server = await startServer(resolveServerOptions({ modelsDir, runsDir, port: 0, webDir }));
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(runsDir, { recursive: true, force: true });
  });

  test('the video gallery makes clips of the digits a prompt names, as a GIF, a video and a frame strip, and downloads the MP4', async () => {
    await open('#/models/video-moving-mnist');
    await page.getByTestId('seed').fill('2');
    await page.getByTestId('n').fill('2');
    await page.getByTestId('prompt').fill('a 3 and a 7 bouncing');
    await page.getByTestId('generate').click();
    await page.getByTestId('clip-result').nth(1).waitFor({ timeout: 60_000 });
    const gifs = await page.getByTestId('clip-gif').evaluateAll((images) => images.map((image) => [(image as HTMLImageElement).naturalWidth, (image as HTMLImageElement).alt]));
    assert.equal(gifs.length, 2);
    for (const [width, alt] of gifs) {
      assert.equal(width, 256, 'the 64-pixel frames shown at 4×');
      assert.match(String(alt), /of 3 and 7: \d+ frames/);
    }
    const download = page.waitForEvent('download');
    await page.getByTestId('download-mp4').first().click();
    const file = await (await download).path();
    assert.equal(readFileSync(file).subarray(4, 8).toString(), 'ftyp', 'an MP4 file');
    await shot('01-video');
    assert.deepEqual(pageErrors, []);
  });

  test('the shape gallery shows a labelled shape in a viewer that turns when dragged, with OBJ and PLY downloads', async () => {
    await open('#/models/shape-voxels');
    await page.getByTestId('seed').fill('1');
    await page.getByTestId('n').fill('1');
    await page.getByTestId('label').selectOption('torus');
    await page.getByTestId('generate').click();
    const viewer = page.getByTestId('mesh-viewer').first();
    await viewer.waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('shape-result').first().innerText(), /torus/);
    const before = await viewer.screenshot();
    const box = (await viewer.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 20, { steps: 8 });
    await page.mouse.up();
    const afterDrag = await viewer.screenshot();
    assert.notDeepEqual(afterDrag, before, 'dragging turns the shape');
    const download = page.waitForEvent('download');
    await page.getByTestId('download-obj').first().click();
    const obj = readFileSync(await (await download).path(), 'utf8');
    assert.match(obj, /^v -?\d/m);
    assert.match(obj, /^f \d+ \d+ \d+/m);
    await shot('02-shapes');
    assert.deepEqual(pageErrors, []);
  });
});
