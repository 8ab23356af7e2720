/**
 * The GAN and classifier commands as a user runs them, on a tiny labelled folder the test writes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fails, ok } from '../../test/cli.ts';
import { tempDir, writeShapeFolder } from '../../test/fixtures.ts';

const root = tempDir();
const data = writeShapeFolder(join(root, 'shapes'), 12);
const out = (name: string) => join(root, name);
const gan = out('gan');
const classifier = out('classifier');

test('train classifier and conditional gan → sample by label → reject → files → interpolate → eval', () => {
  ok('--quiet', 'train', 'classifier', '--dataset', data, '--steps', '20', '--batch-size', '8', '--preset', 'tiny', '--image-size', '16', '--out', classifier);
  const accuracy = JSON.parse(ok('eval', classifier, '--json'));
  assert.equal(accuracy.family, 'classifier');
  assert.ok(accuracy.accuracy >= 0 && accuracy.accuracy <= 1);

  ok('--quiet', 'train', 'gan', '--dataset', data, '--conditional', '--steps', '6', '--batch-size', '8', '--preset', 'tiny', '--image-size', '16', '--out', gan, '--seed', '1');
  for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'metrics.jsonl', 'loss.png', 'samples.png', 'monitor.jsonl']) {
    assert.ok(existsSync(join(gan, file)), `${file} written`);
  }
  const metricsLine = JSON.parse(readFileSync(join(gan, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
  for (const key of ['dLoss', 'gLoss', 'dRealAccuracy', 'dFakeAccuracy']) assert.ok(key in metricsLine, `metrics.jsonl logs ${key}`);

  ok('sample', gan, '--n', '4', '--label', 'square', '--truncation', '0.8', '--seed', '3', '--out', out('a.png'));
  ok('sample', gan, '--n', '4', '--label', '1', '--truncation', '0.8', '--seed', '3', '--out', out('b.png'));
  ok('sample', gan, '--n', '4', '--label', 'ring', '--truncation', '0.8', '--seed', '3', '--out', out('c.png'));
  assert.deepEqual(readFileSync(out('a.png')), readFileSync(out('b.png')), 'a label by name or by index, same seed: same PNG');
  assert.notDeepEqual(readFileSync(out('a.png')), readFileSync(out('c.png')));

  ok('sample', gan, '--n', '3', '--reject', '--format', 'files', '--out', out('files'));
  assert.deepEqual(readdirSync(out('files')).sort(), ['sample-000.png', 'sample-001.png', 'sample-002.png']);
  ok('sample', gan, '--n', '2', '--format', 'files', '--out', out('files'));
  assert.deepEqual(readdirSync(out('files')).sort(), ['sample-000.png', 'sample-001.png'], 'a new set replaces the old one');

  ok('interpolate', gan, '--seed-from', '1', '--seed-to', '2', '--frames', '4', '--out', out('walk.gif'));
  assert.equal(readFileSync(out('walk.gif')).subarray(0, 6).toString(), 'GIF89a');
  assert.ok(existsSync(out('walk.png')));

  const report = JSON.parse(ok('eval', gan, '--json', '--classifier', classifier, '--samples', '100'));
  for (const key of ['fid_classifier', 'precision', 'recall', 'class_coverage_entropy', 'conditional_accuracy']) {
    assert.equal(typeof report[key], 'number', `eval reports ${key}`);
    assert.equal(typeof report.reference[key], 'number', `and the real-data reference for ${key}`);
  }
  assert.match(ok('eval', gan, '--classifier', classifier, '--samples', '100'), /fid_classifier\s+[\d.]+\s+\(real data: [\d.]+\)/);
  assert.match(ok('train', 'gan', '--help'), /--conditional/);
});

test('an unconditional GAN: attribute vectors from its own samples, labelled by a classifier', () => {
  const plain = out('plain-gan');
  ok('--quiet', 'train', 'gan', '--dataset', data, '--steps', '4', '--batch-size', '8', '--preset', 'tiny', '--image-size', '16', '--out', plain, '--seed', '2');
  const said = ok('attribute', plain, '--label', 'ring', '--classifier', classifier, '--seed', '3', '--n', '4', '--limit', '400', '--out', out('ring.png'));
  assert.match(said, /applied the attribute "ring" .* from \d+ vs \d+ of the model's samples\) to 4 samples of seed 3/);
  assert.ok(existsSync(out('ring.png')));
  fails(/is conditional: its labels are an input/, 'attribute', gan, '--label', 'ring', '--classifier', classifier, '--out', out('z.png'));
});

test('GAN bad input: unknown labels list the valid ones; truncation out of range; no encoder; unlabelled folder', () => {
  fails(/unknown label "cat": .* knows 0=ring, 1=square/, 'sample', gan, '--label', 'cat', '--out', out('z.png'));
  fails(/--truncation must be in \(0, 1\]/, 'sample', gan, '--truncation', '1.5', '--out', out('z.png'));
  fails(/--truncation must be in \(0, 1\]/, 'sample', gan, '--truncation', '0', '--out', out('z.png'));
  assert.ok(!existsSync(out('z.png')), 'no partial output');
  fails(/no encoder/, 'encode', gan, join(data, 'ring', '0.png'));
  fails(/--guidance is not for .*, a gan model \(it is for diffusion models\)/, 'sample', gan, '--guidance', '2', '--out', out('z.png'));
  fails(/the image metrics need a classifier/, 'eval', gan, '--classifier', gan, '--samples', '100');
  const flat = out('flat');
  mkdirSync(flat);
  copyFileSync(join(data, 'ring', '0.png'), join(flat, '0.png'));
  fails(/--conditional needs labels, but .*flat is unlabelled/, 'train', 'gan', '--dataset', flat, '--conditional', '--steps', '1', '--out', out('g2'));
  fails(/is a classifier model, which does not sample images/, 'sample', classifier, '--out', out('z.png'));
});
