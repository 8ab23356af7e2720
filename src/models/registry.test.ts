/**
 * Loading a model folder through the registry when its files are hostile (issue 27): every case is
 * one GenloomError line naming the file, in well under a second, and nothing leaks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { initEngine } from '../core/engine.ts';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { paramsToStored } from '../core/params.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { newManifest, saveCheckpoint } from '../io/checkpoint.ts';
import { getFamily, loadModel } from './registry.ts';
import { parseVaeConfig } from './vae/config.ts';
import { Vae } from './vae/vae.ts';

await initEngine({ backend: 'cpu' });

/** A freshly initialised tiny VAE saved as a model folder. */
function tinyVae(): string {
  const dir = join(tempDir(), 'vae');
  const config = parseVaeConfig({ imageHeight: 8, imageWidth: 8, latentDim: 2, convChannels: [4], hiddenUnits: 8 });
  const vae = new Vae(config, fromSeed(1));
  saveCheckpoint(dir, { manifest: newManifest('vae', config, { step: 0 }), weights: paramsToStored(vae.params) });
  vae.dispose();
  return dir;
}

const dir = tinyVae();
const configPath = join(dir, 'config.json');
const goodConfig = readFileSync(configPath, 'utf8');

/** Loads `dir` with config.json edited by `edit` (on the JSON, or the text), expecting one refusal. */
function refused(edit: ((json: Record<string, any>) => void) | string, code: GenloomErrorCode, pattern: RegExp): void {
  const json = JSON.parse(goodConfig);
  if (typeof edit === 'function') edit(json);
  writeFileSync(configPath, typeof edit === 'string' ? edit : JSON.stringify(json));
  const tensors = tf.memory().numTensors;
  const started = performance.now();
  try {
    assert.throws(() => loadModel(dir), (error: unknown) => {
      assert.ok(error instanceof GenloomError, `expected a GenloomError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, pattern);
      assert.ok(error.message.includes(dir), `"${error.message}" names the folder's file`);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    });
  } finally {
    writeFileSync(configPath, goodConfig);
  }
  assert.ok(performance.now() - started < 1000, `refused in ${Math.round(performance.now() - started)} ms`);
  assert.equal(tf.memory().numTensors, tensors, 'a refused load leaks no tensors');
}

test('the tiny model loads, and family names that are Object.prototype properties are no families', () => {
  loadModel(dir).dispose();
  for (const family of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'no-such-family']) {
    refused((json) => (json['family'] = family), 'UNSUPPORTED', new RegExp(`holds a "${family}" model, which this genloom does not know \\(it knows vae, .*\\): see "family" in .*config\\.json$`));
    assert.throws(() => getFamily(family), /unknown model family/);
  }
  refused((json) => (json['family'] = 'x'.repeat(100_000)), 'UNSUPPORTED', /holds a "x{39}… model, which/);
});

test('a config.json with a bad or absurd family config is refused naming the file, before anything big is built', () => {
  refused((json) => (json['config']['latentDim'] = 1e9), 'CORRUPT_FILE', /config\.json: invalid VAE config: latentDim: /);
  refused((json) => (json['config']['hiddenUnits'] = 1e12), 'CORRUPT_FILE', /config\.json: invalid VAE config: hiddenUnits: /);
  refused((json) => (json['config']['convChannels'] = [-3]), 'CORRUPT_FILE', /invalid VAE config: convChannels\.0: /);
  refused((json) => (json['config']['imageHeight'] = 9), 'CORRUPT_FILE', /invalid VAE config: image size 9×8 must be divisible by 2/);
  refused((json) => (json['config']['sneaky'] = 1), 'CORRUPT_FILE', /invalid VAE config: /);
  refused(goodConfig.replace('"beta": 1', '"beta": 1e999'), 'CORRUPT_FILE', /invalid VAE config: beta: must be a finite number, got Infinity/);
  // Every size within the schema's bounds, together 150M+ values: refused at the first parameter over
  // the limit the weights set, in milliseconds, instead of minutes of initialising gigabytes.
  refused((json) => Object.assign(json['config'], { imageHeight: 256, imageWidth: 256, convChannels: [1024], hiddenUnits: 8192, latentDim: 1024 }), 'CORRUPT_FILE', /config\.json and .*model\.safetensors do not belong together: the config describes a model of more than [\d,]+ parameter values \(at "encoder\.[\w.]+", shape \[\d+, \d+\]\) but the weights hold [\d,]+$/);
  // Within the limit but not the weights' shapes: the weights say so.
  refused((json) => (json['config']['hiddenUnits'] = 16), 'SHAPE_MISMATCH', /model\.safetensors: tensor ".*" has shape/);
});

test('the structure of config.json is checked before any family sees it', () => {
  refused('', 'CORRUPT_FILE', /config\.json is not valid JSON/);
  refused('{"format": "genloom-checkpoint", "family": "vae"', 'CORRUPT_FILE', /config\.json is not valid JSON/);
  refused((json) => delete json['config'], 'CORRUPT_FILE', /config\.json has no "config" object/);
  refused((json) => (json['config'] = 'small'), 'CORRUPT_FILE', /config\.json has no "config" object/);
  refused((json) => delete json['training'], 'CORRUPT_FILE', /config\.json has no "training" object/);
  refused((json) => delete json['family'], 'CORRUPT_FILE', /config\.json is not a genloom checkpoint config/);
  refused((json) => (json['family'] = 7), 'CORRUPT_FILE', /config\.json is not a genloom checkpoint config/);
});

test('a FIFO among a model folder\'s files is refused without being opened', { timeout: 10_000 }, (context) => {
  const tokenizer = join(dir, 'tokenizer.json');
  if (spawnSync('mkfifo', [tokenizer]).status !== 0) return context.skip('no mkfifo here');
  try {
    // Opening it would block this thread forever: the timeout would fail the test instead.
    assert.throws(() => loadModel(dir), /tokenizer\.json is not a regular file \(it is a FIFO\)/);
  } finally {
    rmSync(tokenizer);
  }
  loadModel(dir).dispose();
});
