/**
 * genloom as a user installs it: the build, `npm pack`, the tarball installed into an empty project
 * from npm's cache (offline: nothing is downloaded), and there, in child processes: the README's
 * library example (taken from README.md, so the README cannot drift), whose PNG must be byte for
 * byte the repo CLI's; the installed `genloom` command; `genloom/browser`; and tsc on a file that
 * imports 'genloom', against the installed declarations.
 *
 * Two choices keep it offline and quick (about 30 s on 2 cores, most of it npm packing 38 MB of
 * starter models and installing 220 packages):
 * - The project gets a package-lock.json made from ours: npm's cache holds the tarballs `npm ci`
 *   fetched but not every package's registry metadata, so a resolution from scratch cannot run
 *   offline. The versions are the ones this repo is tested with.
 * - --ignore-scripts: offline, better-sqlite3 would be compiled from source (about a minute) and so
 *   would the native backend. The installed package therefore runs on wasm, as an install without a
 *   C++ compiler does; the CLI it is compared with is run on wasm too.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'genloom-package-'));
const app = join(work, 'app');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** The environment without what an enclosing `npm test` exported (npm_config_prefix and the like would redirect npm). */
function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) || /^npm_config_cache$/i.test(key)) env[key] = value;
  return { ...env, GENLOOM_BACKEND: 'wasm', ...extra };
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: cleanEnvironment(), maxBuffer: 1 << 26, ...options });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  return String(result.stdout);
}

/** The README's library example: the first ```ts block of its "Use genloom as a library" section. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Use genloom as a library'));
  assert.ok(section, 'README.md has a section "Use genloom as a library"');
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'that section has a ```ts example');
  return code;
}

/** A lockfile for a project depending on the tarball alone, with our locked versions beneath it. */
function writeProject(tarball: string): void {
  const ours = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const project = { name: 'genloom-user', private: true, type: 'module', dependencies: { genloom: `file:${tarball}` }, devDependencies: { '@types/node': ours.devDependencies['@types/node'] } };
  const packages: Record<string, unknown> = {
    '': project,
    'node_modules/genloom': { version: ours.version, resolved: `file:${tarball}`, integrity, hasInstallScript: true, license: ours.license, dependencies: ours.dependencies, optionalDependencies: ours.optionalDependencies, bin: ours.bin, engines: ours.engines },
  };
  const typesForTsc = new Set(['node_modules/@types/node', 'node_modules/undici-types']);
  for (const [key, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    // genloom-native is a link to our native/ folder here; in the install npm links it to the package's.
    if (!key.startsWith('node_modules/') || key === 'node_modules/genloom-native') continue;
    if (entry.dev && !typesForTsc.has(key)) continue;
    packages[key] = entry;
  }
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
  writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify({ name: project.name, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}

let packed: { filename: string; files: { path: string }[] };

before(async () => {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  // The build just ran: --ignore-scripts keeps `prepare` from running it again.
  packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root }))[0];
  const tarball = join(work, packed.filename);
  writeProject(tarball);
  run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the tarball holds the build, the bin, the starter models and the native sources, and no TypeScript sources', () => {
  const paths = new Set(packed.files.map((file) => file.path));
  for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/browser.d.ts', 'dist/cli/main.js', 'dist/server/worker-boot.mjs', 'bin/genloom.js', 'models/vae-mnist/model.safetensors', 'models/classifier-mnist/config.json', 'native/binding.gyp', 'native/src/gemm.cc', 'scripts/build-sqlite.mjs', 'README.md']) {
    assert.ok(paths.has(path), `the tarball has ${path}`);
  }
  const unwanted = [...paths].filter((path) => path.startsWith('src/') || path.endsWith('.test.js') || path.includes('test-util') || path.endsWith('.tsbuildinfo') || path.startsWith('native/build/'));
  assert.deepEqual(unwanted, []);
});

test("the README's example runs from the installed package and writes the CLI's PNG, byte for byte", () => {
  const example = readmeExample();
  const out = /writeImages?Grid\('([^']+)'/.exec(example)?.[1];
  assert.ok(out, 'the example writes an image grid');
  writeFileSync(join(app, 'example.ts'), example);
  const printed = run(process.execPath, ['--import', 'tsx', 'example.ts'], { cwd: app });
  assert.match(printed, /on the wasm backend/);
  const cli = join(work, 'cli-vae.png');
  run(process.execPath, [join(root, 'bin', 'genloom.js'), 'sample', 'models/vae-mnist', '--n', '4', '--seed', '3', '--out', cli], { cwd: root });
  assert.ok(readFileSync(join(app, out)).equals(readFileSync(cli)), `${out} from the installed package equals genloom sample's PNG`);
});

test("the installed genloom command runs the compiled code and draws the repo CLI's images", () => {
  const installed = join(app, 'node_modules', 'genloom');
  assert.ok(!existsSync(join(installed, 'src')), 'no sources in the package: the bin can only run dist/');
  assert.match(run(process.execPath, [join(installed, 'bin', 'genloom.js'), '--help'], { cwd: app }), /^Usage: genloom/);
  const args = ['sample', '--n', '4', '--seed', '5', '--label', '7'];
  run(process.execPath, [join(installed, 'bin', 'genloom.js'), args[0]!, join(installed, 'models', 'gan-mnist'), ...args.slice(1), '--out', 'gan.png'], { cwd: app });
  run(process.execPath, [join(root, 'bin', 'genloom.js'), args[0]!, 'models/gan-mnist', ...args.slice(1), '--out', join(work, 'cli-gan.png')], { cwd: root });
  assert.ok(readFileSync(join(app, 'gan.png')).equals(readFileSync(join(work, 'cli-gan.png'))));
});

test('genloom/browser loads from the installed package and draws the same numbers as genloom', () => {
  const script = `
    import * as browser from 'genloom/browser';
    import * as node from 'genloom';
    const same = browser.fromSeed(3).fork('sample').normalArray(4).join() === node.fromSeed(3).fork('sample').normalArray(4).join();
    const manifest = browser.parseManifest(JSON.stringify({ format: browser.checkpointFormat, formatVersion: 1, family: 'vae', genloomVersion: '0', config: {}, training: { step: 0 } }), 'config.json');
    console.log(JSON.stringify({ same, family: manifest.family, error: new browser.GenloomError('NOT_FOUND', 'x') instanceof Error }));`;
  const result = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }));
  assert.deepEqual(result, { same: true, family: 'vae', error: true });
});

test("the installed declarations type-check a program that imports 'genloom' (and the README's example)", () => {
  writeFileSync(
    join(app, 'check.ts'),
    `import { fromSeed, initEngine, loadModel, writeImageGrid, FeedbackStore, type BackendName, type LoadedModel } from 'genloom';
import { GenloomError, parseManifest, type CheckpointManifest } from 'genloom/browser';

const backend: BackendName = await initEngine();
const model: LoadedModel = loadModel('models/vae-mnist');
writeImageGrid('grid.png', model.sampleImages!(4, fromSeed(3)));
const manifest: CheckpointManifest = parseManifest('{}', 'config.json');
const store: FeedbackStore = FeedbackStore.open('feedback.db');
// @ts-expect-error: a seed is a number or a string (an error here proves the types are not \`any\`)
fromSeed(true);
// @ts-expect-error: the codes are a closed list
new GenloomError('NO_SUCH_CODE', 'x');
console.log(backend, manifest.family, store.counts().samples);
`,
  );
  // skipLibCheck as in our own tsconfig: TensorFlow.js's declarations do not pass strict checking.
  const config = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['check.ts', 'example.ts'] };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(config));
  if (!existsSync(join(app, 'example.ts'))) writeFileSync(join(app, 'example.ts'), readmeExample());
  run(process.execPath, [tsc, '-p', app], { cwd: app });
});
