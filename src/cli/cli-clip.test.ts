/**
 * The clip commands as a user runs them: data show → train clip on a captioned folder → eval →
 * embed → search, and their errors.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { readFileSync } from 'node:fs';
import { tempDir, writeCaptionedFolder, writeShapeFolder, colourShapeImage } from '../../test/fixtures.ts';
import { writePng } from '../io/image.ts';
import { fails, ok } from '../../test/cli.ts';

const root = tempDir();
const corpus = writeCaptionedFolder(join(root, 'toy'), 3);
const model = join(root, 'clip');

test('data show → train clip → eval → embed → search', () => {
  const sheet = join(root, 'sheet.png');
  assert.match(ok('data', 'show', corpus, '--limit', '6', '--image-size', '16', '--out', sheet), /wrote/);
  assert.ok(PNG.sync.read(readFileSync(sheet)).width > 0);

  ok('--quiet', 'train', 'clip', '--dataset', corpus, '--preset', 'tiny', '--image-size', '16', '--tokenizer', 'char', '--steps', '150', '--batch-size', '12', '--lr', '3e-3', '--augment-shift', '0', '--out', model, '--seed', '1');
  const metrics = JSON.parse(ok('eval', model, '--json'));
  assert.equal(metrics.family, 'clip');
  assert.equal(metrics.retrieval.pairs, 24);
  assert.ok(metrics.retrieval.textToImage.top5 > metrics.retrieval.chance.top5, `top-5 ${metrics.retrieval.textToImage.top5} beats chance ${metrics.retrieval.chance.top5}`);

  const image = join(root, 'query.png');
  writePng(image, colourShapeImage('red', 'ring', 500));
  const embedded = JSON.parse(ok('embed', model, '--text', 'a red ring', 'a blue square', '--image', image, '--json'));
  assert.equal(embedded.texts.length, 2);
  assert.equal(embedded.images[0].vector.length, embedded.embedDim);
  const norm = Math.hypot(...embedded.texts[0].vector);
  assert.ok(Math.abs(norm - 1) < 1e-3, `unit vectors (norm ${norm})`);
  assert.equal(embedded.similarity.length, 3);
  assert.ok(embedded.similarity[2][0] > embedded.similarity[2][1], 'a red ring is nearer "a red ring" than "a blue square"');

  const hitsFile = join(root, 'hits.png');
  const search = JSON.parse(ok('search', model, '--text', 'a red ring', '--n', '3', '--out', hitsFile, '--json'));
  assert.equal(search.hits.length, 3);
  assert.ok(search.hits[0].score >= search.hits[1].score && search.hits[1].score >= search.hits[2].score, 'best first');
  assert.equal(search.hits[0].caption, 'a red ring');
  assert.ok(existsSync(hitsFile));
  const again = JSON.parse(ok('search', model, '--image', image, '--n', '3', '--json'));
  assert.equal(again.hits.length, 3);
});

test('clip errors are one line naming the problem', () => {
  fails(/is a clip model, which does not sample images/, 'sample', model, '--out', join(root, 'x.png'));
  fails(/has no caption for .*0\.png: put its caption in .*0\.txt/, 'train', 'clip', '--dataset', writeShapeFolder(join(root, 'plain'), 1, 16), '--out', join(root, 'c2'));
  fails(/give --text "…" or --image file.png/, 'embed', model);
  fails(/give one of --text "…" or --image file.png/, 'search', model, '--text', 'x', '--image', 'y.png');
  ok('--quiet', 'train', 'vae', '--dataset', corpus, '--preset', 'tiny', '--image-size', '16', '--steps', '1', '--out', join(root, 'vae'));
  fails(/which does not embed texts and images: use a clip model/, 'embed', join(root, 'vae'), '--text', 'x');
  const grey = join(root, 'grey-vae');
  ok('--quiet', 'train', 'vae', '--dataset', join(root, 'plain'), '--preset', 'tiny', '--image-size', '16', '--steps', '1', '--out', grey);
  fails(/query\.png is a colour image, but .*grey-vae is a greyscale \(1-channel\) model/, 'encode', grey, join(root, 'query.png'));
  fails(/unknown attribute "nose": the known ones are age, smile/, 'attribute', grey, '--attribute', 'nose', '--out', join(root, 'n.png'));
  fails(/unknown dataset "emojis"/, 'data', 'show', 'emojis', '--out', join(root, 'y.png'));
});
