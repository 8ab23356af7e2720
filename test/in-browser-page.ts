/**
 * Driving the studio's in-browser tab from playwright: open a model on a backend, fill its
 * controls, generate and read the page's own timing. Shared by the in-browser e2e test and
 * `npm run bench -- in-browser`.
 */
import type { Page } from 'playwright-core';

/** Opens a model's in-browser tab (on a backend) and waits until its controls are ready. */
export async function openLocalTab(page: Page, serverUrl: string, name: string, backend = 'auto'): Promise<string> {
  await page.goto(`${serverUrl}/#/models/${name}/local`);
  const root = page.locator(`[data-testid="local-root"][data-model="${name}"]`);
  const backendLine = root.getByTestId('local-backend');
  await root.getByTestId('local-generate').waitFor({ timeout: 60_000 });
  if (backend !== 'auto' && (await backendLine.getAttribute('data-backend')) !== backend) {
    await root.getByTestId('local-backend-select').selectOption(backend);
    // The page rebuilds the model on the new backend (or the next one that works).
    await root.getByTestId('local-generate').waitFor({ state: 'detached', timeout: 60_000 }).catch(() => undefined);
    await root.getByTestId('local-generate').waitFor({ timeout: 120_000 });
  }
  return (await backendLine.getAttribute('data-backend'))!;
}

export async function fillControls(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [testid, value] of Object.entries(fields)) {
    const control = page.getByTestId(testid);
    if ((await control.evaluate((element) => element.tagName)) === 'SELECT') await control.selectOption(value);
    else if ((await control.getAttribute('type')) === 'checkbox') await control.setChecked(value === 'true');
    else await control.fill(value);
  }
}

/**
 * Clicks Generate and waits for the result; returns the seconds the page measured and, when the
 * model was still running a moment after the click, how long the page took to paint a frame then
 * (the model runs in a worker, so the page should stay live).
 */
export async function generateInPage(page: Page, timeout = 300_000): Promise<{ seconds: number; dataset: Record<string, string>; frameMs?: number }> {
  const time = page.getByTestId('local-time');
  await time.evaluate((element) => { delete (element as HTMLElement).dataset['seconds']; });
  await page.getByTestId('local-generate').click();
  await page.waitForTimeout(300);
  const frame = await page.evaluate(() => {
    const running = document.querySelector<HTMLElement>('[data-testid="local-time"]')?.dataset['seconds'] === undefined;
    const started = performance.now();
    return new Promise<{ running: boolean; ms: number }>((resolve) => requestAnimationFrame(() => resolve({ running, ms: performance.now() - started })));
  });
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="local-time"]')?.dataset['seconds'] !== undefined, undefined, { timeout });
  const dataset = await time.evaluate((element) => ({ ...(element as HTMLElement).dataset }) as Record<string, string>);
  return { seconds: Number(dataset['seconds']), dataset, ...(frame.running ? { frameMs: frame.ms } : {}) };
}

