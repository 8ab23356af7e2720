/**
 * The CLI as a user runs it: the real bin in a child process, on a tiny dataset the test writes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';
import { bin, fails, ok } from '../../test/cli.ts';

const root = tempDir();
const data = writeShapeFolder(join(root, 'shapes'), 12);
const model = join(root, 'model');
const out = (name: string) => join(root, name);

test('train → sample → encode → decode → interpolate → latent-map → attribute → eval → info', () => {
  ok('--quiet', 'train', 'vae', '--dataset', data, '--steps', '8', '--batch-size', '8', '--preset', 'tiny', '--image-size', '16', '--out', model, '--seed', '1');
  for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'metrics.jsonl', 'loss.png', 'samples.png']) {
    assert.ok(existsSync(join(model, file)), `${file} written`);
  }

  ok('sample', model, '--n', '6', '--seed', '7', '--out', out('a.png'));
  ok('sample', model, '--n', '6', '--seed', '7', '--out', out('b.png'), '--backend', 'cpu');
  ok('sample', model, '--n', '6', '--seed', '8', '--out', out('c.png'));
  assert.deepEqual(readFileSync(out('a.png')), readFileSync(out('b.png')), 'same seed, same PNG (across backends too)');
  assert.notDeepEqual(readFileSync(out('a.png')), readFileSync(out('c.png')));

  const ring = join(data, 'ring', '0.png');
  const square = join(data, 'square', '0.png');
  const encoded = JSON.parse(ok('encode', model, ring, square, '--json', '--out', out('z.json')));
  assert.equal(encoded.latents.length, 2);
  assert.equal(encoded.latents[0].length, 2, 'the tiny preset has a 2-D latent');
  assert.ok(existsSync(out('z.json')));

  ok('decode', model, '--z-file', out('z.json'), '--out', out('x.png'));
  assert.ok(statSync(out('x.png')).size > 0);

  ok('interpolate', model, '--from', ring, '--to', square, '--frames', '5', '--out', out('walk.gif'));
  assert.equal(readFileSync(out('walk.gif')).subarray(0, 6).toString(), 'GIF89a');
  assert.ok(existsSync(out('walk.png')), 'the PNG strip beside the GIF');
  ok('interpolate', model, '--seed-from', '1', '--seed-to', '2', '--frames', '3', '--method', 'linear', '--out', out('seeds.gif'));

  ok('latent-map', model, '--dataset', data, '--out', out('map.png'));
  assert.ok(existsSync(out('map.png')) && existsSync(out('map-manifold.png')));

  ok('attribute', model, '--dataset', data, '--label', 'ring', '--strength', '1.5', '--input', square, '--out', out('y.png'));
  ok('attribute', model, '--with', join(data, 'ring'), '--without', join(data, 'square'), '--input', square, '--out', out('y2.png'));

  const metrics = JSON.parse(ok('eval', model, '--json', '--importance-samples', '8', '--limit', '4', '--dataset', data));
  assert.equal(metrics.importanceSamples, 8);
  assert.equal(metrics.iwaeImages, 4);
  assert.ok(metrics.iwaeNll > 0 && metrics.negativeElbo > 0, 'positive NLLs in nats');

  const info = JSON.parse(ok('info', model, '--json'));
  assert.equal(info.family, 'vae');
  assert.ok(info.parameters > 0);
  assert.match(ok('info', model), /a vae model with/);
  assert.match(ok('train', 'vae', '--help'), /--latent-dim/);
});

test('bad input gives a one-line error that names the problem', () => {
  fails(/\/nope.*does not exist/, 'train', 'vae', '--dataset', '/nope', '--out', out('m1'));
  fails(/unknown dataset "mnsit"/, 'train', 'vae', '--dataset', 'mnsit', '--out', out('m1'));
  const empty = out('empty');
  mkdirSync(empty);
  fails(/has no \.png or \.jpg images/, 'train', 'vae', '--dataset', empty, '--out', out('m1'));
  fails(/--steps.*"abc" is not an integer/, 'train', 'vae', '--dataset', data, '--steps', 'abc', '--out', out('m1'));
  fails(/--latent-dim|latentDim/, 'train', 'vae', '--dataset', data, '--latent-dim', '0', '--out', out('m1'), '--steps', '1');
  fails(/unknown option '--bogus'/, 'sample', model, '--bogus', '--out', out('z.png'));
  fails(/unknown backend "gpu"/, 'sample', model, '--out', out('z.png'), '--backend', 'gpu');
  fails(/--n.*out of range/, 'sample', model, '--n', '0', '--out', out('z.png'));
  fails(/--n.*out of range/, 'sample', model, '--n', '100000000', '--out', out('z.png'));
  fails(/no model at \/nope/, 'sample', '/nope', '--out', out('z.png'));
  fails(/unknown command 'smaple'/, 'smaple', model);
  fails(/is not a conditional model/, 'sample', model, '--label', '1', '--out', out('z.png'));
  fails(/--reject is not for .*, a vae model \(it is for gan models\)/, 'sample', model, '--reject', '--out', out('z.png'));

  const corrupt = out('corrupt.png');
  writeFileSync(corrupt, 'not really a png');
  fails(/corrupt\.png/, 'encode', model, corrupt);
  fails(/missing\.png.*does not exist/, 'encode', model, out('missing.png'));
  writeFileSync(out('z3.json'), JSON.stringify([[1, 2, 3]]));
  fails(/latent 0 has 3 numbers but the model's latent space has 2/, 'decode', model, '--z-file', out('z3.json'), '--out', out('z.png'));
  writeFileSync(out('zbad.json'), '{');
  fails(/zbad\.json is not valid JSON/, 'decode', model, '--z-file', out('zbad.json'), '--out', out('z.png'));
  fails(/unknown label "giraffe"/, 'attribute', model, '--dataset', data, '--label', 'giraffe', '--input', corrupt, '--out', out('z.png'));

  const otherFamily = out('other');
  cpSync(model, otherFamily, { recursive: true });
  const config = JSON.parse(readFileSync(join(otherFamily, 'config.json'), 'utf8'));
  writeFileSync(join(otherFamily, 'config.json'), JSON.stringify({ ...config, family: 'flow' }));
  fails(/holds a "flow" model/, 'sample', otherFamily, '--out', out('z.png'));
  writeFileSync(join(otherFamily, 'config.json'), JSON.stringify({ ...config, family: 'vae' }));
  fails(/checkpoint in .* is for 16×16×1 images but .* gives 32×32×1/, 'train', 'vae', '--resume', '--out', otherFamily, '--dataset', data, '--image-size', '32', '--steps', '1');

  const truncated = out('truncated');
  cpSync(model, truncated, { recursive: true });
  truncateSync(join(truncated, 'model.safetensors'), 100);
  fails(/model\.safetensors.*truncated/, 'sample', truncated, '--out', out('z.png'));

  const shapeMismatch = out('mismatch');
  cpSync(model, shapeMismatch, { recursive: true });
  writeFileSync(join(shapeMismatch, 'config.json'), JSON.stringify({ ...config, config: { ...config.config, latentDim: 5 } }));
  fails(/tensor "[a-z.]+" has shape \[.*\] but the model's config needs/, 'sample', shapeMismatch, '--out', out('z.png'));
  copyFileSync(join(model, 'config.json'), join(shapeMismatch, 'config.json'));
});

test('Ctrl-C during training saves a checkpoint and exits cleanly; --resume continues it', async () => {
  const dir = out('interrupted');
  const child = spawn(process.execPath, [bin, 'train', 'vae', '--dataset', data, '--steps', '100000', '--batch-size', '4', '--preset', 'tiny', '--image-size', '16', '--out', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
    // Interrupt once training is under way (the first progress line).
    if (/train \d+\/100000/.test(stderr) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `exit code after Ctrl-C (stderr: ${stderr})`);
  const match = /stopped at step (\d+)/.exec(stdout);
  assert.ok(match, `says where it stopped: ${stdout}`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.training.step, Number(match[1]));
  assert.match(stdout, /continue with: genloom train vae --resume --out/);
  ok('--quiet', 'train', 'vae', '--resume', '--out', dir, '--steps', String(Number(match[1]) + 2));
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).training.step, Number(match[1]) + 2);
});
