/**
 * The in-browser families, timed in headless chromium on every backend the page offers (WebGPU
 * where the browser has it, WebGL on SwiftShader here, tfjs's cpu): the studio served by the real
 * server, each model opened in its in-browser tab, one cold and one warm generation, the page's
 * own timing read back. Needs Debian's chromium (/usr/bin/chromium).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenloomError } from '../src/core/errors.ts';
import { resolveServerOptions, startServer } from '../src/server/app.ts';
import { ensureWebBuild } from '../src/server/web-build.ts';
import { browserSkipReason, launchBrowser } from '../test/browser.ts';
import { fillControls, generateInPage, openLocalTab } from '../test/in-browser-page.ts';
import type { BenchRow } from './run.ts';

const cases: { name: string; fields: Record<string, string> }[] = [
  { name: 'vae-mnist', fields: { 'local-seed': '1', 'local-count': '16' } },
  { name: 'gan-mnist', fields: { 'local-seed': '1', 'local-count': '16', 'local-label': '7' } },
  { name: 'diffusion-mnist', fields: { 'local-seed': '1', 'local-count': '16', 'local-label': '7', 'local-sampler': 'ddim', 'local-steps': '20', 'local-record-steps': 'false' } },
  { name: 'transformer-kjv', fields: { 'local-seed': '1', 'local-max-tokens': '200', 'local-top-k': '0' } },
];

export async function benchInBrowser({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const skip = browserSkipReason();
  if (skip) throw new GenloomError('UNSUPPORTED', `the in-browser bench needs a browser: ${skip}`);
  const runsDir = mkdtempSync(join(tmpdir(), 'genloom-bench-in-browser-'));
  const webDir = await ensureWebBuild({ quiet: true });
  const server = await startServer(resolveServerOptions({ modelsDir: fileURLToPath(new URL('../models/', import.meta.url)), runsDir, port: 0, webDir }));
  const browser = await launchBrowser();
  const rows: BenchRow[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    for (const wanted of quick ? ['webgl'] : ['webgpu', 'webgl', 'cpu']) {
      // --quick: WebGL only, without diffusion (20 steps take about two minutes on SwiftShader).
      for (const { name, fields } of quick ? cases.filter((one) => one.name !== 'diffusion-mnist') : cases) {
        const backend = await openLocalTab(page, server.url, name, wanted);
        if (backend !== wanted) {
          rows.push({ name: `${wanted}`, value: Number.NaN, unit: '', note: `not available in this browser (fell back to ${backend})` });
          break;
        }
        await fillControls(page, fields);
        const cold = await generateInPage(page, 900_000);
        const warm = await generateInPage(page, 900_000);
        const tokens = warm.dataset['tokensPerSecond'];
        rows.push({ name: `${name} on ${backend}, warm`, value: warm.seconds, unit: 's', note: `cold ${cold.seconds.toFixed(2)} s${tokens ? `, ${tokens} tokens/s` : ''}` });
      }
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(runsDir, { recursive: true, force: true });
  }
  return rows;
}
