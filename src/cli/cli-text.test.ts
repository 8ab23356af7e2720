/**
 * The text commands as a user runs them: tokenizer train → train transformer → generate (streamed,
 * seeded, interactive) → attention → eval, and their errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { bin, fails, genloom, ok } from '../../test/cli.ts';

const root = tempDir();
const corpus = join(root, 'psalm.txt');
writeFileSync(corpus, 'The LORD is my shepherd; I shall not want.\nHe maketh me to lie down in green pastures: he leadeth me beside the still waters.\n'.repeat(30));
const tokenizerDir = join(root, 'tok');
const model = join(root, 'lm');

test('tokenizer train → train transformer (BPE) → generate → attention → eval', () => {
  const trained = ok('tokenizer', 'train', '--dataset', corpus, '--kind', 'bpe', '--vocab', '300', '--out', tokenizerDir);
  assert.match(trained, /bpe tokenizer: 300 tokens/);
  assert.ok(existsSync(join(tokenizerDir, 'tokenizer.json')));

  ok('--quiet', 'train', 'transformer', '--dataset', corpus, '--tokenizer', tokenizerDir, '--preset', 'tiny', '--context', '32', '--steps', '6', '--batch-size', '4', '--out', model, '--seed', '1');
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  assert.equal(config.family, 'transformer');
  assert.equal(config.config.vocabularySize, 300);
  assert.equal(config.training.tokenizer, 'bpe');

  const first = genloom('generate', model, '--prompt', 'The LORD', '--max-tokens', '20', '--seed', '3', '--top-k', '40', '--top-p', '0.95', '--temperature', '0.8');
  const second = genloom('generate', model, '--prompt', 'The LORD', '--max-tokens', '20', '--seed', '3', '--top-k', '40', '--top-p', '0.95', '--temperature', '0.8', '--no-cache');
  assert.equal(first.code, 0, first.stderr);
  assert.ok(first.stdout.startsWith('The LORD'), 'stdout is the prompt and its continuation');
  assert.equal(first.stdout, second.stdout, 'same seed: byte-identical text, with or without the cache');
  assert.match(first.stderr, /20 tokens in [\d.]+ s \([\d.]+ tokens\/s\)/, 'statistics on stderr');
  const quiet = genloom('--quiet', 'generate', model, '--prompt', 'The LORD', '--max-tokens', '20', '--seed', '3', '--top-k', '40', '--top-p', '0.95', '--temperature', '0.8');
  assert.equal(quiet.stdout, first.stdout);
  assert.equal(quiet.stderr, '', 'nothing on stderr under --quiet');
  const textFile = join(root, 'text.txt');
  const other = ok('generate', model, '--prompt', 'The LORD', '--max-tokens', '20', '--seed', '4', '--out', textFile);
  assert.equal(readFileSync(textFile, 'utf8'), other, '--out writes what stdout shows');
  assert.notEqual(other, first.stdout);

  const story = spawnSync(process.execPath, [bin, '--quiet', 'generate', model, '--interactive', '--max-tokens', '5', '--seed', '1'], { input: 'The LORD\n\nHe maketh\n', encoding: 'utf8' });
  assert.equal(story.status, 0, story.stderr);
  assert.ok(story.stdout.split('\n').filter((line) => line.length > 0).length >= 2, 'one continuation per line typed');

  const png = join(root, 'attention.png');
  assert.match(ok('attention', model, '--prompt', 'The LORD is my shepherd', '--out', png), /2 layers × 2 heads/);
  assert.deepEqual([...readFileSync(png).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const metrics = JSON.parse(ok('eval', model, '--json'));
  assert.equal(metrics.split, 'validation');
  assert.ok(metrics.loss > 0 && Number.isFinite(metrics.perplexity) && metrics.bitsPerCharacter > 0);
  const held = JSON.parse(ok('eval', model, '--json', '--dataset', corpus));
  assert.equal(held.split, 'all');
  assert.ok(held.tokens > metrics.tokens, 'a --dataset is scored whole');
});

test('text commands reject bad input with one line', () => {
  fails(/temperature|out of range/, 'generate', model, '--temperature', '-1');
  fails(/top-p must be in \(0, 1\]/, 'generate', model, '--top-p', '0');
  fails(/top-p must be in \(0, 1\]/, 'generate', model, '--top-p', '1.5');
  fails(/out of range/, 'generate', model, '--max-tokens', '0');
  fails(/--out must name a \.png file/, 'attention', model, '--prompt', 'x', '--out', join(root, 'a.txt'));
  fails(/no GPT-2 folder at/, 'import', 'gpt2', join(root, 'nothing'), '--out', join(root, 'gpt2'));
  fails(/vocab.*out of range/i, 'tokenizer', 'train', '--dataset', corpus, '--kind', 'bpe', '--vocab', '12', '--out', join(root, 'tok2'));
  const charModel = join(root, 'char');
  ok('--quiet', 'train', 'transformer', '--dataset', corpus, '--preset', 'tiny', '--context', '16', '--steps', '2', '--batch-size', '2', '--out', charModel);
  fails(/the character "Ω" \(U\+03A9\) at position 4 is not in this model's/, 'generate', charModel, '--prompt', 'The Ω');
  assert.equal(genloom('generate', charModel, '--prompt', 'The Ω').stdout, '', 'nothing reaches stdout when the prompt is refused');
  fails(/already holds a model: continue it with --resume, or replace it with --overwrite/, 'train', 'transformer', '--dataset', corpus, '--steps', '1', '--out', charModel);
  ok('--quiet', 'train', 'transformer', '--dataset', corpus, '--preset', 'tiny', '--context', '16', '--steps', '1', '--batch-size', '2', '--out', charModel, '--overwrite', '--untie-weights');
  assert.equal(JSON.parse(readFileSync(join(charModel, 'config.json'), 'utf8')).config.tieWeights, false, '--untie-weights reaches the config');
  fails(/which does not sample images: use genloom generate/, 'sample', charModel, '--out', join(root, 'x.png'));
  fails(/--image-size is for image models/, 'train', 'transformer', '--dataset', corpus, '--image-size', '32', '--out', join(root, 'img2'));
  fails(/is an image dataset/, 'train', 'transformer', '--dataset', 'mnist', '--steps', '1', '--out', join(root, 'img'));
});
