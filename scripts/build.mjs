// `npm run build` (and `prepare`, so `npm install` in a clone and `npm pack` run it): compiles src/
// into dist/ as ESM with .d.ts beside each module (tsconfig.build.json; the `.ts` import
// specifiers become `.js`). Incremental: a build with nothing changed takes a couple of seconds.
//
// dist/.build-stamp records when the sources were read: bin/genloom.js runs dist/ only while no
// file under src/ is newer, and the TypeScript sources through tsx otherwise, so an edit never runs
// stale code. Without TypeScript (an install that omits devDependencies) nothing is built and the
// bin keeps running the sources.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error('genloom build: TypeScript is not installed (devDependencies omitted); bin/genloom.js will run the sources through tsx');
  process.exit(0);
}
// One second back: a source saved while tsc reads it must still count as newer than the build.
const started = new Date(Date.now() - 1000);
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
// tsc exits 0 (clean), 2 (type errors, output written) or 1 (nothing written, e.g. a bad config).
if (result.status !== 0 && result.status !== 2) {
  console.error(`genloom build: tsc failed (${result.signal ?? result.error?.message ?? `exit ${result.status}`}); dist/ is not updated`);
  process.exit(1);
}

// tsc never deletes: the output of a source that was moved or removed would linger (and be packed).
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const output = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(output);
      if (readdirSync(output).length === 0) rmSync(output, { recursive: true });
      continue;
    }
    const source = /^(.*)\.(?:js|d\.ts)$/.exec(path.relative(dist, output));
    if (source && !existsSync(path.join(root, 'src', `${source[1]}.ts`))) rmSync(output);
  }
}
prune(dist);

// Worker threads start from a plain .mjs file (tsc does not copy it): it imports the compiled entry.
mkdirSync(path.join(dist, 'server'), { recursive: true });
copyFileSync(path.join(root, 'src', 'server', 'worker-boot.mjs'), path.join(dist, 'server', 'worker-boot.mjs'));
const stamp = path.join(dist, '.build-stamp');
writeFileSync(stamp, 'dist/ holds the build of src/ as it was at this file\'s modification time\n');
utimesSync(stamp, started, started);
if (result.status !== 0) {
  console.error('genloom build: tsc reported type errors (above); dist/ was written anyway');
  process.exit(1);
}
