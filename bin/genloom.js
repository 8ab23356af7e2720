#!/usr/bin/env node
// The genloom command. It runs the compiled JavaScript in dist/ (an installed package has nothing
// else; a clone builds it on `npm install`, or by `npm run build`). In a checkout where dist/ is
// missing, or older than any file under src/, it runs the TypeScript sources through tsx's loader
// instead: an edit never runs stale code, and there is no build step to forget. The check reads the
// modification times of src/ (a few milliseconds); loading tsx would cost several hundred.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);
const sources = new URL('src/', root);

/** True when a file under `dir` was modified after `time` (ms). */
function changedSince(dir, time) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory() ? changedSince(path, time) : statSync(path).mtimeMs > time) return true;
  }
  return false;
}

function distIsCurrent() {
  if (!existsSync(compiled)) return false;
  if (!existsSync(sources)) return true; // an installed package: dist/ is all there is
  const stamp = new URL('dist/.build-stamp', root);
  return existsSync(stamp) && !changedSince(sources, statSync(stamp).mtimeMs);
}

let runCli;
if (distIsCurrent()) {
  ({ runCli } = await import(compiled.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import(new URL('src/cli/main.ts', root).href));
}
process.exitCode = await runCli(process.argv.slice(2));
