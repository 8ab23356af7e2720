/**
 * The studio's front end is built by Vite into web/dist. `npm start` and the browser tests call
 * ensureWebBuild(), which builds only when a source under web/ (or the in-browser model code it
 * bundles from src/) is newer than the last build.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webRoot = fileURLToPath(new URL('../../web/', import.meta.url));
export const webDist = join(webRoot, 'dist');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.endsWith('.test.ts')) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function webBuildIsCurrent(): boolean {
  const built = join(webDist, 'index.html');
  if (!existsSync(built)) return false;
  const srcRoot = fileURLToPath(new URL('../', import.meta.url));
  return statSync(built).mtimeMs >= Math.max(newestSource(webRoot), newestSource(srcRoot));
}

/** Builds web/ into web/dist unless the build is current; returns the dist folder. */
export async function ensureWebBuild(options: { quiet?: boolean } = {}): Promise<string> {
  if (webBuildIsCurrent()) return webDist;
  if (!options.quiet) process.stderr.write('building the studio front end (vite build web)…\n');
  const { build } = await import('vite');
  await build({ root: webRoot, logLevel: options.quiet ? 'error' : 'warn', configFile: join(webRoot, 'vite.config.ts') });
  return webDist;
}
