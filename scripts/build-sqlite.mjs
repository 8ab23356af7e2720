// `npm install` runs this after the dependencies are in (package.json denies better-sqlite3 its own
// install script, which would try to download Node headers when no prebuilt binary can be had).
// It keeps a working binary, else tries prebuild-install, else builds from source with npm's own
// node-gyp against the installed Node's headers (as native/scripts/build.mjs does), so nothing is
// fetched but packages. A failure says what to install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let packageDir;
try {
  packageDir = path.dirname(require.resolve('better-sqlite3/package.json'));
} catch {
  process.exit(0); // not installed (e.g. --omit): nothing to build
}
try {
  new (require(packageDir))(':memory:').close();
  process.exit(0);
} catch {
  // no usable binary yet
}
const run = (args) => spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', maxBuffer: 1 << 28 });
if (run([require.resolve('prebuild-install/bin.js', { paths: [packageDir] })]).status === 0) process.exit(0);
const prefix = path.resolve(process.execPath, '..', '..');
const gyp = [process.env.npm_config_node_gyp, 'rebuild', '--release'];
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node.h'))) gyp.push(`--nodedir=${prefix}`);
const built = run(gyp);
if (built.status === 0) process.exit(0);
console.error(String(built.stderr || built.error).trim().split('\n').slice(-15).join('\n'));
console.error('better-sqlite3: no prebuilt binary and the build from source failed; install a C++ compiler, make and python3, then run: npm run postinstall');
process.exit(1);
