/**
 * The diffusion commands as a user runs them, on a tiny labelled folder the test writes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readImage, resizeImage, toChannels, writePng, type ImageData01 } from '../io/image.ts';
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
  fails(/--truncation is not for .*, a diffusion model \(it is for gan models\)/, 'sample', model, '--truncation', '0.5', '--out', out('z.png'));
  assert.match(ok('train', 'diffusion', '--help'), /--noise-schedule/);
});

test('prompts, the denoising trajectory, inpainting and img2img; their bad input fails clearly', () => {
  ok('sample', model, '--n', '2', '--prompt', 'a ring', '--steps', '3', '--seed', '3', '--out', out('prompt.png'));
  ok('sample', model, '--n', '2', '--label', 'ring', '--steps', '3', '--seed', '3', '--out', out('label.png'));
  assert.deepEqual(readFileSync(out('prompt.png')), readFileSync(out('label.png')), '"a ring" is the label ring');
  fails(/the prompt "a purple ring" has words this model does not know \(purple\): it understands ring\/rings; square\/squares/, 'sample', model, '--prompt', 'a purple ring', '--out', out('z.png'));
  ok('sample', model, '--n', '4', '--label', 'all', '--steps', '3', '--out', out('all.png'));
  const grid = readImage(out('all.png'));
  assert.deepEqual([grid.width, grid.height], [(2 * 12 + 3 * 2) * 2, (2 * 12 + 3 * 2) * 2], '--label all: one column per label');
  fails(/give --label or --prompt, not both/, 'sample', model, '--prompt', 'ring', '--label', 'ring', '--out', out('z.png'));

  assert.match(ok('sample', model, '--n', '2', '--sampler', 'ddpm', '--trajectory', '--out', out('denoise.gif')), /\(40 frames\)/);
  assert.equal(readFileSync(out('denoise.gif')).subarray(0, 6).toString(), 'GIF89a');
  const strip = readImage(out('denoise.png'));
  assert.equal(strip.width, (10 * 12 + 11 * 2) * 2, 'ten steps across (12-pixel tiles, padded, shown at 2×)');
  assert.equal(strip.height, (4 * 12 + 5 * 2) * 2, 'per sample, a row of x_t and a row of the x_0 estimate');
  fails(/with --trajectory, --out names a GIF/, 'sample', model, '--trajectory', '--out', out('z.png'));

  const input = join(data, 'ring', '0.png');
  writePng(out('mask.png'), { width: 28, height: 28, channels: 1, data: Float32Array.from({ length: 784 }, (_, i) => (i % 28 >= 14 ? 1 : 0)) });
  ok('inpaint', model, '--input', input, '--mask', out('mask.png'), '--steps', '4', '--out', out('filled.png'));
  // The kept (left) half comes back as it was: compare with the input fitted to the model's 12×12
  // (the output is a one-tile grid: 2 pixels of padding, everything shown at 2×).
  const [fitted, filled] = [resizeImage(toChannels(readImage(input), 1), 12, 12), readImage(out('filled.png'))];
  const matchesInput = (image: ImageData01, columns: number, what: string) => {
    assert.equal(image.width, 32);
    for (let y = 0; y < 12; y++) {
      for (let x = 0; x < columns; x++) {
        const shown = image.data[((2 + y) * 2 * 32 + (2 + x) * 2) * image.channels]!;
        assert.ok(Math.abs(shown - fitted.data[y * 12 + x]!) <= 1 / 255 + 1e-6, `${what}: pixel (${x}, ${y})`);
      }
    }
  };
  matchesInput(filled, 5, 'inpainting keeps the unmasked pixels');
  ok('img2img', model, '--input', input, '--strength', '0', '--out', out('same.png'));
  ok('img2img', model, '--input', input, '--strength', '0.5', '--prompt', 'square', '--n', '2', '--steps', '6', '--out', out('redrawn.png'));
  assert.equal(readImage(out('redrawn.png')).width, (2 * 12 + 3 * 2) * 2, 'two variations side by side');
  matchesInput(readImage(out('same.png')), 12, 'img2img at strength 0 returns the input');
  writePng(out('small-mask.png'), { width: 10, height: 10, channels: 1, data: new Float32Array(100) });
  fails(/the mask .*small-mask.png is 10×10 but the input .*0.png is 28×28/, 'inpaint', model, '--input', input, '--mask', out('small-mask.png'), '--out', out('z.png'));
  fails(/--strength must be in \[0, 1\] \(got 1.5\)/, 'img2img', model, '--input', input, '--strength', '1.5', '--out', out('z.png'));
  fails(/--steps must be 1..40 for this model/, 'img2img', model, '--input', input, '--strength', '0.5', '--steps', '41', '--out', out('z.png'));
});
