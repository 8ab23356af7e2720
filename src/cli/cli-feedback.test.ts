/**
 * The feedback loop as a user runs it: rate samples (by hand through standard input, or with a
 * scripted rater), fine-tune from a reward, from ratings and from preferences, and compare the child
 * with its parent; and the errors on the way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeMidi } from '../music/midi.ts';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { bin, fails, ok } from '../../test/cli.ts';

const root = tempDir();
const corpus = join(root, 'pets.txt');
// Half the lines name a cat and half a dog, so a tiny model writes both and a reward can tell them apart.
writeFileSync(corpus, Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? 'the cat sat on the mat.' : 'the dog ran in the fog.')).join('\n'));
const parent = join(root, 'lm');
ok('--quiet', 'train', 'transformer', '--dataset', corpus, '--preset', 'tiny', '--context', '32', '--steps', '60', '--batch-size', '8', '--lr', '3e-3', '--out', parent, '--seed', '1');
const db = join(root, 'feedback.db');
const config = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

function rate(args: string[], input: string): string {
  const result = spawnSync(process.execPath, [bin, '--quiet', 'rate', parent, '--db', db, ...args], { input, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test('rejection fine-tuning on a keyword reward raises the reward, and the report shows it', () => {
  const child = join(root, 'cats');
  const summary = ok('--quiet', 'finetune', parent, '--reward', 'keyword:cat', '--method', 'rejection', '--candidates', '40', '--keep', '0.3', '--max-tokens', '12', '--prompt', 'the ', '--steps', '30', '--lr', '2e-3', '--out', child, '--seed', '2');
  assert.match(summary, /trained on 12 of 40 samples/);
  const made = config(child);
  assert.equal(made.parent, resolve(parent));
  assert.equal(made.training.feedback.reward, 'keyword:cat');
  assert.equal(made.training.feedback.kept, 12);
  assert.ok(existsSync(join(child, 'feedback', 'data.txt')), 'the kept samples are the run\'s dataset');
  const report = JSON.parse(ok('--quiet', 'feedback', 'report', child, '--samples', '24', '--json'));
  assert.equal(report.method, 'rejection');
  assert.ok(report.child.reward_mean > report.parent.reward_mean + 0.2, `the child mentions cats more: ${report.parent.reward_mean} → ${report.child.reward_mean}`);
  assert.ok(report.win_rate > 0.5);
  assert.ok(Number.isFinite(report.parent.validation_loss) && Number.isFinite(report.child.validation_loss));
  assert.ok(existsSync(join(child, 'report', 'texts.md')) && existsSync(join(child, 'report', 'rewards.png')));
  const table = ok('--quiet', 'feedback', 'report', child, '--samples', '8');
  assert.match(table, /reward_mean\s+[\d.]+\s+[\d.]+/);
  // --resume continues on the kept samples, at the run's own learning rate.
  ok('--quiet', 'finetune', parent, '--reward', 'keyword:cat', '--resume', '--steps', '34', '--out', child);
  const resumed = config(child);
  assert.equal(resumed.training.step, 34);
  assert.equal(resumed.training.learningRate, 2e-3);
  assert.equal(resumed.training.feedback.kept, 12);
  assert.equal(resumed.parent, resolve(parent));
});

test('ratings typed on standard input are stored, and fine-tuning uses them', () => {
  // u, d, a stray word (asked again), skip, u, then the input ends.
  const out = rate(['--n', '5', '--max-tokens', '12', '--seed', '4'], 'u\nd\nmaybe\ns\nu\n');
  assert.match(out, /recorded 3 ratings \(2 👍, 1 👎\)/);
  assert.match(out, /"maybe" is not an answer here/);
  const stars = rate(['--n', '3', '--scale', 'stars', '--max-tokens', '12', '--seed', '5'], '5\n1\nq\n');
  assert.match(stars, /recorded 2 ratings/);
  const counts = JSON.parse(ok('feedback', 'stats', db));
  assert.equal(counts.ratings, 5);
  assert.equal(counts.samples, 8);
  const child = join(root, 'rated');
  ok('--quiet', 'finetune', parent, '--ratings', db, '--method', 'reward-weighted', '--steps', '2', '--out', child);
  assert.equal(config(child).training.feedback.ratings, db);
  assert.equal(config(child).training.feedback.candidates, 5, 'the rated samples of this model');
});

test('A/B preferences from a scripted rater feed DPO', () => {
  const out = rate(['--pairs', '--n', '8', '--rater', 'keyword:cat', '--max-tokens', '16', '--prompt', 'the ', '--seed', '6'], '');
  const recorded = Number(/recorded (\d+) preference/.exec(out)![1]);
  assert.ok(recorded >= 1, out);
  const child = join(root, 'dpo');
  ok('--quiet', 'finetune', parent, '--preferences', db, '--method', 'dpo', '--beta', '0.2', '--steps', '3', '--out', child);
  const made = config(child);
  assert.equal(made.training.method, 'dpo');
  assert.equal(made.training.feedback.pairs, recorded);
  assert.equal(made.parent, resolve(parent));

  const jsonl = join(root, 'export.jsonl');
  ok('feedback', 'export', db, '--out', jsonl);
  const copy = join(root, 'copy.db');
  ok('feedback', 'import', copy, jsonl);
  assert.deepEqual(JSON.parse(ok('feedback', 'stats', copy)), JSON.parse(ok('feedback', 'stats', db)));
});

test('finetune and feedback refuse bad input with one line', () => {
  const out = join(root, 'bad');
  fails(/say what to fine-tune on: --dataset, --reward, --ratings or --preferences/, 'finetune', parent, '--out', out);
  fails(/give one of --dataset, --reward, not several/, 'finetune', parent, '--dataset', corpus, '--reward', 'keyword:cat', '--out', out);
  fails(/--method dpo does not go with --reward \(use rejection or reward-weighted\)/, 'finetune', parent, '--reward', 'keyword:cat', '--method', 'dpo', '--out', out);
  fails(/the reward "classifier:7" scores images, but .* is a transformer model that makes text/, 'finetune', parent, '--reward', 'classifier:7', '--out', out);
  fails(/the reward "sparkle" does not parse/, 'finetune', parent, '--reward', 'sparkle', '--out', out);
  fails(/no feedback store at/, 'finetune', parent, '--preferences', join(root, 'none.db'), '--out', out);
  const other = join(root, 'other-lm');
  ok('--quiet', 'train', 'transformer', '--dataset', corpus, '--preset', 'tiny', '--context', '16', '--steps', '1', '--batch-size', '2', '--out', other, '--seed', '9');
  fails(/has no preferences of .*other-lm \(it holds \d+ samples/, 'finetune', other, '--preferences', db, '--out', out);
  const corrupt = join(root, 'corrupt.db');
  writeFileSync(corrupt, 'not a database at all, just some text that is long enough to look like a header');
  fails(/not a feedback database|not SQLite/i, 'feedback', 'stats', corrupt);
  fails(/has no parent in its config.json: it was not made by genloom finetune/, 'feedback', 'report', parent);
  fails(/already holds a model: continue it with --resume, or replace it with --overwrite/, 'finetune', parent, '--dataset', corpus, '--out', parent);
});

test('an image model: scripted ratings, a classifier reward, and a report with FIDs on the target label', () => {
  const gan = join(root, 'gan');
  ok('--quiet', 'train', 'gan', '--dataset', 'mnist', '--conditional', '--preset', 'tiny', '--steps', '2', '--batch-size', '8', '--out', gan, '--seed', '1');
  const imageDb = join(root, 'images.db');
  const rated = spawnSync(process.execPath, [bin, '--quiet', 'rate', gan, '--db', imageDb, '--n', '4', '--rater', 'classifier:7'], { encoding: 'utf8' });
  assert.equal(rated.status, 0, rated.stderr);
  assert.match(rated.stdout, /recorded 4 ratings/);
  const child = join(root, 'gan-sevens');
  ok('--quiet', 'finetune', gan, '--reward', 'classifier:seven@models/classifier-mnist'.replace('seven', '7'), '--candidates', '40', '--keep', '0.25', '--steps', '2', '--batch-size', '8', '--out', child);
  const made = config(child);
  assert.equal(made.training.feedback.kept, 10);
  assert.equal(made.training.feedback.labels, 'uniform: a reward overrides the labels');
  assert.ok(existsSync(join(child, 'feedback', 'data.safetensors')) && existsSync(join(child, 'feedback', 'kept.png')));
  const report = JSON.parse(ok('--quiet', 'feedback', 'report', child, '--samples', '40', '--json'));
  for (const side of ['parent', 'child']) {
    assert.ok(report[side].target_share >= 0 && report[side].target_share <= 1);
    assert.ok(Number.isFinite(report[side].fid_base), `${side} fid_base`);
  }
  assert.ok(existsSync(join(child, 'report', 'compare.png')));
  const fromRatings = join(root, 'gan-rated');
  ok('--quiet', 'finetune', gan, '--ratings', imageDb, '--steps', '1', '--batch-size', '4', '--out', fromRatings);
  assert.equal(config(fromRatings).training.feedback.candidates, 4);
});

test('a music model: transfer to a MIDI folder of a new style, then an in-key reward', () => {
  const roll = join(root, 'tiny-chorales-quarter.json');
  const chord = (t: number) => [[48, 55, 64, 72], [53, 57, 65, 69], [55, 59, 62, 67]][t % 3]!;
  writeFileSync(roll, JSON.stringify({ train: [0, 1, 2].map((shift) => Array.from({ length: 24 }, (_, t) => chord(t + shift))), valid: [Array.from({ length: 12 }, (_, t) => chord(t))], test: [Array.from({ length: 12 }, (_, t) => chord(t + 1))] }));
  const music = join(root, 'bach');
  ok('--quiet', 'train', 'music', '--dataset', roll, '--preset', 'tiny', '--steps', '4', '--batch-size', '2', '--context', '16', '--out', music, '--seed', '1');
  // A folder of MIDI in one new style: the model's single style adapts to it.
  const folder = join(root, 'my-midi');
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < 6; i++) writeMidi(join(folder, `tune-${i}.mid`), { notes: [0, 4, 7, 12].map((step, j) => ({ pitch: 60 + i + step, start: j, duration: 1, velocity: 80 })), bpm: 100, beatsPerBar: 4 });
  const adapted = join(root, 'bach-adapted');
  ok('--quiet', 'finetune', music, '--dataset', folder, '--steps', '2', '--batch-size', '2', '--out', adapted);
  assert.deepEqual(config(adapted).training.styles, ['bach'], 'the parent\'s style names');
  assert.equal(config(adapted).config.stepsPerQuarter, 1, 'and its grid');
  const inKey = join(root, 'bach-in-key');
  ok('--quiet', 'finetune', music, '--reward', 'in-key:C', '--candidates', '6', '--bars', '2', '--keep', '0.5', '--steps', '2', '--batch-size', '2', '--out', inKey);
  assert.equal(config(inKey).training.feedback.kept, 3);
  assert.ok(existsSync(join(inKey, 'feedback', 'data', 'piece-0000.mid')));
  const report = JSON.parse(ok('--quiet', 'feedback', 'report', inKey, '--samples', '4', '--json'));
  assert.ok(report.child.reward_mean >= 0 && report.child.reward_mean <= 1);
  assert.ok(existsSync(join(inKey, 'report', 'child.mid')));
});
