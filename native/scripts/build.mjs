// `npm install` builds the addon with npm's own node-gyp against this Node's headers. It never
// fails the install: without a compiler genloom uses the wasm backend and says so once.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
if (process.env.GENLOOM_NATIVE === '0') {
  console.error('genloom-native: skipped (GENLOOM_NATIVE=0); genloom will use the wasm backend');
  process.exit(0);
}
const nodeGyp = process.env.npm_config_node_gyp;
const args = [nodeGyp, 'rebuild'];
// Headers from the installed Node (Debian's and nodesource's packages ship them), so the build
// never tries to fetch a headers tarball.
if (!process.env.npm_config_nodedir) {
  const prefix = path.resolve(process.execPath, '..', '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
}
const result = nodeGyp
  ? spawnSync(process.execPath, args, { cwd: packageDir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  : { status: 1, stderr: 'npm did not say where node-gyp is (npm_config_node_gyp is unset)' };
if (result.status !== 0) {
  const reason = String(result.stderr || result.error || '').trim().split('\n').slice(-3).join(' | ');
  console.error(`genloom-native: build failed, genloom will use the wasm backend (${reason})`);
}
process.exit(0);
