import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { GenloomError } from './errors.ts';
import { initEngine } from './engine.ts';
import { loadNativeAddon } from './native/addon.ts';
import * as tf from './tf.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

test('auto picks native where it is built, else wasm; a forced backend is used; nonsense is refused', async () => {
  const built = loadNativeAddon() !== null;
  assert.equal(await initEngine(), built ? 'native' : 'wasm');
  assert.equal(tf.getBackend(), built ? 'native' : 'wasm');
  assert.equal(await initEngine({ backend: 'cpu' }), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  await assert.rejects(initEngine({ backend: 'tpu' }), (error: unknown) => error instanceof GenloomError && /unknown backend "tpu"/.test(error.message));
  if (!built) {
    await assert.rejects(initEngine({ backend: 'native' }), (error: unknown) => error instanceof GenloomError && /native backend is not built/.test(error.message));
  }
  process.env['GENLOOM_BACKEND'] = 'wasm';
  assert.equal(await initEngine(), 'wasm');
  delete process.env['GENLOOM_BACKEND'];
});

test('gradients and chained tensor methods are registered', async () => {
  await initEngine();
  const gradient = tf.grad((x: tf.Tensor) => x.square().sum());
  assert.deepEqual(Array.from(gradient(tf.tensor1d([1, -2, 3])).dataSync()), [2, -4, 6]);
});

test('without the native build (GENLOOM_NATIVE=0) auto uses wasm and --backend native says why', () => {
  const script = `
    import { initEngine } from './src/core/engine.ts';
    const auto = await initEngine();
    let forced = '';
    try { await initEngine({ backend: 'native' }); } catch (error) { forced = error.message; }
    process.stdout.write(JSON.stringify({ auto, forced }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: projectRoot, env: { ...process.env, GENLOOM_NATIVE: '0', GENLOOM_BACKEND: '' }, encoding: 'utf8' });
  const { auto, forced } = JSON.parse(out) as { auto: string; forced: string };
  assert.equal(auto, 'wasm');
  assert.match(forced, /backend "native" could not be initialised.*not built on this machine/);
});

test('the native build script never fails an install: without a compiler it exits 0 and says wasm will be used', () => {
  // A copy of the package, so the failing build cannot touch the real one.
  const copy = mkdtempSync(join(tmpdir(), 'genloom-native-'));
  try {
    cpSync(join(projectRoot, 'native'), copy, { recursive: true, filter: (source) => !source.includes(`${join('native', 'build')}`) });
    const emptyBin = join(copy, 'no-compilers');
    mkdirSync(emptyBin);
    const nodeGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    const result = spawnSync(process.execPath, [join(copy, 'scripts', 'build.mjs')], {
      cwd: copy,
      env: { PATH: emptyBin, HOME: copy, npm_config_node_gyp: nodeGyp, CXX: 'no-such-compiler', CC: 'no-such-compiler' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /genloom-native: build failed, genloom will use the wasm backend/);
    assert.equal(existsSync(join(copy, 'build', 'Release', 'genloom_native.node')), false);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
