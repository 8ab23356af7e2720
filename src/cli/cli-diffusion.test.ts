/**
 * The diffusion commands as a user runs them, on a tiny labelled folder the test writes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fails, ok } from '../../test/cli.ts';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';

const root = tempDir();
const data = writeShapeFolder(join(root, 'shapes'), 6);
const out = (name: string) => join(root, name);
const model = out('diffusion');

test('train diffusion → sample with each sampler, a label and guidance; bad flags fail clearly', () => {
  ok('--quiet', 'train', 'diffusion', '--dataset', data, '--conditional', '--timesteps', '40', '--steps', '3', '--batch-size', '4', '--preset', 'tiny', '--image-size', '12', '--out', model, '--seed', '1');
  assert.ok(existsSync(join(model, 'samples.png')), 'a sample grid at the checkpoint');
  for (const sampler of ['ddpm', 'ddim', 'dpm-solver']) {
    ok('sample', model, '--n', '2', '--label', 'ring', '--sampler', sampler, '--steps', '4', '--guidance', '2', '--seed', '3', '--out', out(`${sampler}.png`));
  }
  ok('sample', model, '--n', '2', '--label', 'ring', '--sampler', 'ddim', '--steps', '4', '--guidance', '2', '--seed', '3', '--out', out('again.png'));
  assert.deepEqual(readFileSync(out('ddim.png')), readFileSync(out('again.png')), 'same seed, same PNG');
  fails(/--steps must be 1..40 for this model/, 'sample', model, '--steps', '41', '--out', out('z.png'));
  fails(/--sampler.*choose one of ddpm, ddim, dpm-solver/, 'sample', model, '--sampler', 'euler', '--out', out('z.png'));
  fails(/--truncation and --reject are for GANs/, 'sample', model, '--truncation', '0.5', '--out', out('z.png'));
  assert.match(ok('train', 'diffusion', '--help'), /--noise-schedule/);
});
