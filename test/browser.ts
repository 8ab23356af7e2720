/**
 * A real browser for the studio tests: Debian's chromium driven by playwright-core (never a browser
 * download). Without /usr/bin/chromium the browser tests are skipped on a developer's machine and
 * fail under CI (CI=true), where .ci/run installs it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';
export const testOutput = fileURLToPath(new URL('../test-output/', import.meta.url));

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  if (process.env['CI']) throw new Error(`${chromiumPath} is missing: .ci/run should have installed Debian's chromium`);
  return `${chromiumPath} is not installed (apt-get install chromium)`;
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // WebGL on the CPU (SwiftShader), so in-browser mode runs on a machine without a GPU.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}

/** A path under test-output/ for a screenshot or other artefact of a browser test. */
export function outputPath(name: string): string {
  mkdirSync(testOutput, { recursive: true });
  return join(testOutput, name);
}

/** What an <img> (by data-testid) shows, as the page decoded it: RGBA bytes, for comparing two images by their pixels. */
export function imagePixels(page: Page, testid: string): Promise<number[]> {
  return page.getByTestId(testid).evaluate(async (element) => {
    const image = element as HTMLImageElement;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const drawing = canvas.getContext('2d')!;
    drawing.drawImage(image, 0, 0);
    return Array.from(drawing.getImageData(0, 0, canvas.width, canvas.height).data);
  });
}
