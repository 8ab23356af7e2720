/**
 * Hostile input files through the real CLI (issue 27). For every malformed file a user might hand
 * genloom (an image, a model folder's config.json or weights, a FIFO where a file should be), the
 * command must end within seconds with a non-zero status and exactly one line on stderr that names
 * the file: no "unexpected error", no stack trace, and the model folder byte for byte as it was.
 * A closed stdout (`genloom … | head -c 20`) ends quietly with status 0.
 *
 * One spawn per case (about a second each); the cases are the ones the unit tests beside
 * src/io/image.ts, safetensors*.ts, checkpoint*.ts and src/models/registry.ts cover in depth.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin } from '../cli.ts';
import { tempDir } from '../fixtures.ts';
import { initEngine } from '../../src/core/engine.ts';
import { paramsToStored } from '../../src/core/params.ts';
import { fromSeed } from '../../src/core/random.ts';
import { newManifest, saveCheckpoint } from '../../src/io/checkpoint.ts';
import { ihdr, pngFile } from '../png-bytes.ts';
import { parseVaeConfig } from '../../src/models/vae/config.ts';
import { Vae } from '../../src/models/vae/vae.ts';

const root = tempDir('genloom-hostile-');
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0 || process.platform === 'darwin';

/** A freshly initialised tiny VAE (8x8 grey, 2-D latent), saved as a model folder. */
async function tinyVae(dir: string): Promise<string> {
  await initEngine({ backend: 'cpu' });
  const config = parseVaeConfig({ imageHeight: 8, imageWidth: 8, latentDim: 2, convChannels: [4], hiddenUnits: 8 });
  const vae = new Vae(config, fromSeed(1));
  saveCheckpoint(dir, { manifest: newManifest('vae', config, { step: 0 }), weights: paramsToStored(vae.params) });
  vae.dispose();
  return dir;
}

const base = await tinyVae(join(root, 'base'));

/** Every entry under `dir`: a file's SHA-256, anything else its kind (a FIFO stays a FIFO, unopened). */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      out[`${entry.name}/`] = 'directory';
      for (const [name, value] of Object.entries(fingerprint(path))) out[`${entry.name}/${name}`] = value;
    } else if (entry.isFile()) {
      out[entry.name] = createHash('sha256').update(readFileSync(path)).digest('hex');
    } else {
      out[entry.name] = entry.isFIFO() ? 'fifo' : 'other';
    }
  }
  return out;
}

/** A copy of the tiny model, changed by `damage` (given the copy's directory). */
function damagedModel(name: string, damage: (dir: string) => void): string {
  const dir = join(root, name);
  cpSync(base, dir, { recursive: true });
  damage(dir);
  return dir;
}

function runCli(args: string[]): { code: number | null; stdout: string; stderr: string; seconds: number } {
  const started = performance.now();
  // The timeout is the test's guard against a hang (a FIFO opened would block forever).
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, GENLOOM_BACKEND: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

/** The command fails fast with one clean line naming `file` (and matching `pattern`), leaving `model` unchanged. */
function refusesCleanly(model: string, file: string, pattern: RegExp, ...args: string[]): void {
  const before = fingerprint(model);
  const result = runCli(args);
  const what = `genloom ${args.join(' ')}`;
  assert.notEqual(result.code, 0, `${what} should fail`);
  assert.notEqual(result.code, null, `${what} was killed (it hung): ${result.stderr}`);
  const lines = result.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${result.stderr}`);
  const [line] = lines as [string];
  assert.ok(line.includes(file), `${what}: "${line}" names ${file}`);
  assert.match(line, pattern);
  assert.doesNotMatch(line, /unexpected error/);
  assert.doesNotMatch(result.stderr, / {4}at /, 'no stack trace');
  assert.ok(result.seconds < 8, `${what} took ${result.seconds.toFixed(1)} s`);
  assert.deepEqual(fingerprint(model), before, `${what} left ${model} unchanged`);
}

// --- Files built byte by byte ---------------------------------------------------------------------

/** An 8-bit grey PNG of `width`x`height` whose IDAT holds `scanlines` (deflated), whatever their length. */
function png(width: number, height: number, scanlines: Uint8Array): Buffer {
  return pngFile(ihdr(width, height, 8, 0), scanlines);
}

/** The model's weights file with its header JSON edited (the text, or the parsed object), the data kept. */
function editedWeights(dir: string, edit: (header: Record<string, any>) => void | string): void {
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  const text = Buffer.from(edit(header) ?? JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path, Buffer.concat([prefix, text, bytes.subarray(8 + length)]));
}

function editedConfig(dir: string, edit: (json: Record<string, any>) => void): void {
  const path = join(dir, 'config.json');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

const out = (name: string) => join(root, name);
const sample = (model: string) => ['sample', model, '--n', '1', '--out', out('sample.png')];

// --- The cases ----------------------------------------------------------------------------------

test('malformed images given to encode are refused in one line naming them', () => {
  const big = out('big.png');
  writeFileSync(big, png(30000, 30000, new Uint8Array(16)));
  assert.ok(statSync(big).size < 100);
  refusesCleanly(base, big, /big\.png is 30000x30000 pixels; genloom reads images up to 16\.8 megapixels \(e\.g\. 4096x4096\)$/, 'encode', base, big);
  // 28x28 holding its first row only: pngjs decoded the rest from uninitialised memory.
  const short = out('short.png');
  writeFileSync(short, png(28, 28, new Uint8Array(29)));
  refusesCleanly(base, short, /pixel data holds 29 bytes but a 28x28 8-bit grey image needs 812/, 'encode', base, short);
  const empty = out('empty.png');
  writeFileSync(empty, '');
  refusesCleanly(base, empty, /is empty \(0 bytes\)/, 'encode', base, empty);
});

test('hostile model folders are refused in one line naming the file, and left unchanged', { timeout: 120_000 }, (context) => {
  const configDirectory = damagedModel('config-directory', (dir) => {
    rmSync(join(dir, 'config.json'));
    mkdirSync(join(dir, 'config.json'));
  });
  refusesCleanly(configDirectory, join(configDirectory, 'config.json'), /is not a regular file \(it is a directory\)$/, ...sample(configDirectory));

  const notJson = damagedModel('config-not-json', (dir) => writeFileSync(join(dir, 'config.json'), '{"format": "genloom-checkpoint", '));
  refusesCleanly(notJson, join(notJson, 'config.json'), /is not valid JSON/, ...sample(notJson));

  const proto = damagedModel('family-proto', (dir) => editedConfig(dir, (json) => (json['family'] = '__proto__')));
  refusesCleanly(proto, join(proto, 'config.json'), /holds a "__proto__" model, which this genloom does not know \(it knows .*\): see "family" in /, ...sample(proto));

  const absurd = damagedModel('config-absurd', (dir) => editedConfig(dir, (json) => Object.assign(json['config'], { imageHeight: 256, imageWidth: 256, convChannels: [1024], hiddenUnits: 8192 })));
  refusesCleanly(absurd, join(absurd, 'config.json'), /do not belong together: the config describes a model of more than/, ...sample(absurd));

  const hugeHeader = damagedModel('weights-2-63', (dir) => {
    const path = join(dir, 'model.safetensors');
    const bytes = readFileSync(path);
    bytes.writeBigUInt64LE(1n << 63n, 0);
    writeFileSync(path, bytes);
  });
  refusesCleanly(hugeHeader, join(hugeHeader, 'model.safetensors'), /header length 9223372036854775808 does not fit/, ...sample(hugeHeader));

  const garbledHeader = damagedModel('weights-not-json', (dir) => editedWeights(dir, (header) => JSON.stringify(header).replace('{', '<')));
  refusesCleanly(garbledHeader, join(garbledHeader, 'model.safetensors'), /its header is not JSON$/, ...sample(garbledHeader));

  const overlap = damagedModel('weights-overlap', (dir) => editedWeights(dir, (header) => {
    const last = Object.entries(header).filter(([name]) => name !== '__metadata__').sort(([, a], [, b]) => b.data_offsets[0] - a.data_offsets[0])[0]![1];
    last.data_offsets = [last.data_offsets[0] - 4, last.data_offsets[1] - 4];
  }));
  refusesCleanly(overlap, join(overlap, 'model.safetensors'), /tensors ".+" and ".+" overlap/, ...sample(overlap));

  const protoTensor = damagedModel('weights-proto', (dir) => editedWeights(dir, (header) => {
    const name = Object.keys(header).find((key) => key !== '__metadata__')!;
    return JSON.stringify(header).replace(`"${name}"`, '"__proto__"');
  }));
  refusesCleanly(protoTensor, join(protoTensor, 'model.safetensors'), /names a tensor "__proto__", a name JavaScript objects reserve/, ...sample(protoTensor));

  const truncated = damagedModel('weights-truncated', (dir) => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, readFileSync(path).subarray(0, -100));
  });
  refusesCleanly(truncated, join(truncated, 'model.safetensors'), /\(truncated\?\)$/, ...sample(truncated));

  if (!hasMkfifo) return context.skip('no mkfifo on this platform');
  const fifo = damagedModel('weights-fifo', (dir) => {
    rmSync(join(dir, 'model.safetensors'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'model.safetensors')]).status, 0);
  });
  refusesCleanly(fifo, join(fifo, 'model.safetensors'), /is not a regular file \(it is a FIFO\)$/, ...sample(fifo));
});

test('a closed stdout ends the command quietly with status 0', async () => {
  // As the issue says it: `genloom sample … | head -c 20`, with the pipeline reporting genloom's status.
  const piped = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" sample "${base}" --n 1 --out "${out('piped.png')}" | head -c 20 >/dev/null`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stderr, '');
  // head may read all there is before it exits; close the pipe before genloom writes to be sure of EPIPE.
  const child = spawn(process.execPath, [bin, 'sample', base, '--n', '1', '--out', out('closed.png')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GENLOOM_BACKEND: '' } });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '', 'nothing on stderr');
  assert.equal(code, 0);
  assert.ok(statSync(out('closed.png')).size > 0, 'the sample was written before the write to stdout');
});

test.after(() => rmSync(root, { recursive: true, force: true }));
