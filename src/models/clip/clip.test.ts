import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initEngine } from '../../core/engine.ts';
import * as tf from '../../core/tf.ts';
import { readManifest } from '../../io/checkpoint.ts';
import { tempDir, writeCaptionedFolder, writeShapeFolder } from '../../../test/fixtures.ts';
import { infoNce } from './clip.ts';
import { chanceAtK, nearestClassAccuracy, recallAtK, transposed } from './retrieval.ts';
import { clipFamily } from './index.ts';
import { parseClipConfig } from './config.ts';

await initEngine();
const root = tempDir();

test('InfoNCE equals the hand-computed symmetric cross-entropy', () => {
  const logits = tf.tensor2d([[2, 0], [1, 3]]);
  const { total, imageToText, textToImage } = infoNce(logits);
  const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
  const rows = -((2 - lse(2, 0)) + (3 - lse(1, 3))) / 2;
  const columns = -((2 - lse(2, 1)) + (3 - lse(0, 3))) / 2;
  assert.ok(Math.abs(imageToText.dataSync()[0]! - rows) < 1e-6);
  assert.ok(Math.abs(textToImage.dataSync()[0]! - columns) < 1e-6);
  assert.ok(Math.abs(total.dataSync()[0]! - (rows + columns) / 2) < 1e-6);
  tf.dispose([logits, total, imageToText, textToImage]);
});

test('recall@k counts ties against the query, and chance is k over the candidates', () => {
  // Query 0's match (candidate 0) is best; query 1's match (candidate 1) ties with candidate 0.
  const similarity = Float32Array.of(0.9, 0.1, 0.2, 0.5, 0.5, 0.1);
  assert.deepEqual(recallAtK(similarity, 2, 3, [0, 1], [1, 2]), { top1: 0.5, top2: 1 });
  assert.deepEqual(chanceAtK(4, [1, 5]), { top1: 0.25, top5: 1 });
  assert.deepEqual(Array.from(transposed(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3)), [1, 4, 2, 5, 3, 6]);
  assert.equal(nearestClassAccuracy(Float32Array.of(0.1, 0.9, 0.8, 0.2), 2, [1, 1]), 0.5);
});

test('a tiny clip model learns to match colours and shapes to their captions, far above chance', async () => {
  const dataset = writeCaptionedFolder(join(root, 'toy'), 4);
  const outDir = join(root, 'clip');
  const summary = await clipFamily.train({
    dataset, outDir, seed: 1, steps: 150, batchSize: 16, learningRate: 3e-3, resume: false, preset: 'tiny', imageSize: 16,
    config: { tokenizer: 'char', augmentShift: 0 }, command: 'test', quiet: true, backend: 'native',
  });
  assert.ok(Number.isFinite(summary.last['loss']));
  const model = clipFamily.load(outDir, readManifest(outDir));
  const metrics = await model.evaluate!({ seed: 0, quiet: true });
  const retrieval = metrics['retrieval'] as { pairs: number; textToImage: Record<string, number>; chance: Record<string, number> };
  assert.equal(retrieval.pairs, 32);
  // 8 distinct captions over 32 images: a model that matched colour and shape puts the match's 3
  // look-alikes beside it, so top-5 reaches 1 while chance is 5/32.
  assert.ok(retrieval.textToImage['top5']! > 0.8, `text→image top-5 ${retrieval.textToImage['top5']} (chance ${retrieval.chance['top5']})`);
  // Colour words matter: "a red ring" is nearer a red ring's image than a blue ring's.
  const contrastive = model.contrastive!;
  const { colourShapeImage } = await import('../../../test/fixtures.ts');
  const images = tf.tensor4d(Float32Array.from([...colourShapeImage('red', 'ring', 900).data, ...colourShapeImage('blue', 'ring', 900).data]), [2, 16, 16, 3]);
  const imageVectors = contrastive.embedImages(images);
  const textVectors = contrastive.embedTexts(['a red ring']);
  const [red, blue] = tf.matMul(imageVectors, textVectors, false, true).dataSync();
  assert.ok(red! > blue!, `red ring ${red} vs blue ring ${blue}`);
  tf.dispose([images, imageVectors, textVectors]);
  model.dispose();
});

test('clip refuses data without captions, caption files that are not UTF-8, and bad settings', async () => {
  const request = (dataset: string, config: Record<string, unknown> = {}) => ({
    dataset, outDir: join(root, 'refused'), seed: 0, steps: 1, resume: false, imageSize: 16, config, command: 'test', quiet: true, backend: 'cpu', preset: 'tiny',
  });
  await assert.rejects(clipFamily.train(request('mnist')), /mnist has no captions: train clip needs a caption per image/);
  const unlabelled = writeShapeFolder(join(root, 'plain'), 1, 16);
  await assert.rejects(clipFamily.train(request(unlabelled)), /has no caption for .*0\.png: put its caption in .*0\.txt/);
  const latin1 = writeCaptionedFolder(join(root, 'latin1'), 1);
  writeFileSync(join(latin1, '003.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café" in Latin-1
  await assert.rejects(clipFamily.train(request(latin1)), /caption file .*003\.txt is not UTF-8 text/);
  await assert.rejects(clipFamily.train(request(writeCaptionedFolder(join(root, 'ok'), 1), { tokenizer: 'words' })), /--tokenizer must be bpe or char/);
  assert.throws(() => parseClipConfig({ vocabularySize: 10, textDim: 30, textHeads: 4 }), /textDim must be a multiple of textHeads/);
});
