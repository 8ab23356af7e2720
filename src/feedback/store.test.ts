import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { GenloomError, type GenloomErrorCode } from '../core/errors.ts';
import { FeedbackStore, feedbackSchemaVersion, modelHash, type SampleInput } from './store.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'genloom-feedback-'));
let fileCounter = 0;
const writerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'store-writer.test-util.ts');

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const newPath = (name: string) => path.join(root, `${fileCounter++}-${name}`);

/** A model directory whose weights file holds `weights`, and its hash. */
function fakeModel(weights: string): { dir: string; hash: string } {
  const dir = newPath('model');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), weights);
  return { dir, hash: modelHash(dir) };
}

function output(contents: string | Uint8Array, extension = 'png'): string {
  const file = newPath(`sample.${extension}`);
  fs.writeFileSync(file, contents);
  return file;
}

function textSample(model: { dir: string; hash: string }, text: string, extra: Partial<SampleInput> = {}): SampleInput {
  return { model: model.dir, modelHash: model.hash, family: 'transformer', seed: 1, outputText: text, ...extra };
}

function assertGenloomError(body: () => unknown, code: GenloomErrorCode, pattern: RegExp): void {
  assert.throws(body, (error: unknown) => {
    assert.ok(error instanceof GenloomError, `expected a GenloomError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'messages are one line');
    return true;
  });
}

function rawPragma(file: string, name: string): unknown {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma(name, { simple: true });
  } finally {
    db.close();
  }
}

test('modelHash is the sha256 of model.safetensors and tells models apart', () => {
  const first = fakeModel('weights one');
  const second = fakeModel('weights two');
  assert.equal(first.hash, sha256('weights one'));
  assert.notEqual(first.hash, second.hash);
  assertGenloomError(() => modelHash(root), 'NOT_FOUND', /no model\.safetensors in/);
});

test('open creates the folder and file, uses WAL and the newest schema; an empty file is initialised', () => {
  const file = path.join(newPath('nested'), 'deeper', 'feedback.db');
  FeedbackStore.open(file).close();
  assert.ok(fs.statSync(file).isFile());
  assert.equal(rawPragma(file, 'user_version'), feedbackSchemaVersion);
  assert.equal(rawPragma(file, 'journal_mode'), 'wal');
  assert.ok(feedbackSchemaVersion >= 2);

  const empty = newPath('empty.db');
  fs.writeFileSync(empty, '');
  const store = FeedbackStore.open(empty);
  assert.deepEqual(store.counts(), { samples: 0, ratings: 0, preferences: 0 });
  store.close();
  assert.equal(rawPragma(empty, 'user_version'), feedbackSchemaVersion);
  assertGenloomError(() => FeedbackStore.open(root), 'BAD_ARGUMENT', /is a directory/);
  assertGenloomError(() => store.counts(), 'BAD_ARGUMENT', /is closed/);
});

test('samples, ratings and preferences round-trip through a reopened store', () => {
  const file = newPath('round-trip.db');
  const model = fakeModel('round trip weights');
  const other = fakeModel('other weights');
  const pngBytes = randomBytes(300);
  const png = output(pngBytes);
  let store = FeedbackStore.open(file);
  const image = store.addSample({
    model: path.relative(process.cwd(), model.dir),
    modelHash: model.hash,
    family: 'vae',
    seed: 42,
    settings: { temperature: 0.7, steps: 30 },
    outputPath: path.relative(process.cwd(), png),
  });
  const text = store.addSample(textSample(model, 'once upon a time', { seed: -3, prompt: 'once', settings: { topK: 5 } }));
  const third = store.addSample(textSample(model, 'once there was', { seed: 9, prompt: 'once' }));
  const elsewhere = store.addSample(textSample(other, 'another model'));
  assert.equal(image.model, model.dir, 'the model directory is stored absolute');
  assert.equal(image.outputPath, png);
  assert.equal(image.hash, sha256(pngBytes), 'a file output is hashed from its bytes');
  assert.equal(text.hash, sha256('once upon a time'), 'a text output is hashed from its text');
  assert.equal(image.prompt, null);
  assert.equal(text.outputPath, null);
  assert.ok(!Number.isNaN(Date.parse(image.createdAt)));
  assert.deepEqual([image.id, text.id, third.id, elsewhere.id].length, new Set([image.id, text.id, third.id, elsewhere.id]).size);

  const up = store.addRating({ sampleId: image.id, kind: 'thumbs', score: 1, rater: 'ada', note: 'crisp' });
  const stars = store.addRating({ sampleId: text.id, kind: 'stars', score: 4 });
  const otherRating = store.addRating({ sampleId: elsewhere.id, kind: 'stars', score: 2, rater: 'bob' });
  assert.deepEqual({ ...up, id: 0, createdAt: '' }, { id: 0, sampleId: image.id, kind: 'thumbs', score: 1, rater: 'ada', note: 'crisp', createdAt: '' });
  assert.equal(stars.rater, 'anonymous');
  assert.equal(stars.note, null);
  const preference = store.addPreference({ chosenId: third.id, rejectedId: text.id, rater: 'ada' });
  assert.equal(preference.prompt, 'once');
  assert.equal(preference.modelHash, model.hash);
  assert.equal(preference.chosen.outputText, 'once there was');
  assert.equal(preference.rejected.outputText, 'once upon a time');
  assert.deepEqual(preference.rejected.settings, { topK: 5 });
  store.close();

  store = FeedbackStore.open(file);
  assert.deepEqual(store.samples(), [image, text, third, elsewhere]);
  assert.deepEqual(store.samples({ modelHash: other.hash }), [elsewhere]);
  assert.deepEqual(store.ratings(), [up, stars, otherRating]);
  assert.deepEqual(store.ratings({ modelHash: model.hash }), [up, stars]);
  assert.deepEqual(store.preferences(), [preference]);
  assert.deepEqual(store.preferences({ modelHash: other.hash }), []);
  assert.deepEqual(store.sample(text.id), text);
  assert.equal(store.sample(9999), undefined);
  assert.deepEqual(store.counts(), { samples: 4, ratings: 3, preferences: 1 });
  store.close();
});

test('ratedSamples maps thumbs and stars to [0, 1] and averages each sample\'s ratings', () => {
  const store = FeedbackStore.open(newPath('rated.db'));
  const model = fakeModel('rated weights');
  const other = fakeModel('unrelated weights');
  const [thumbs, stars, mixed, lowest, unrated] = ['a', 'b', 'c', 'd', 'e'].map((text) => store.addSample(textSample(model, text)));
  const foreign = store.addSample(textSample(other, 'f'));
  const rate = (sampleId: number, kind: 'thumbs' | 'stars', ...scores: number[]) =>
    scores.forEach((score) => store.addRating({ sampleId, kind, score }));
  rate(thumbs!.id, 'thumbs', 1, -1, 1); // 1, 0, 1 → 2/3
  rate(stars!.id, 'stars', 5, 2); // 1, 0.25 → 0.625
  rate(mixed!.id, 'thumbs', 1); // 1
  rate(mixed!.id, 'stars', 3); // 0.5 → mean 0.75
  rate(lowest!.id, 'stars', 1); // 0
  rate(foreign.id, 'thumbs', 1);
  const rated = store.ratedSamples(model.hash);
  assert.deepEqual(rated.map((sample) => sample.id), [thumbs!.id, stars!.id, mixed!.id, lowest!.id], 'unrated and other-model samples are left out');
  const expected = [2 / 3, 0.625, 0.75, 0];
  rated.forEach((sample, index) => assert.ok(Math.abs(sample.score - expected[index]!) < 1e-12, `${sample.score} ≠ ${expected[index]}`));
  assert.deepEqual(rated.map((sample) => sample.ratingCount), [3, 2, 2, 1]);
  assert.equal(rated[0]!.outputText, 'a');
  assert.ok(!rated.some((sample) => sample.id === unrated!.id));
  assert.deepEqual(store.ratedSamples(other.hash).map((sample) => [sample.id, sample.score]), [[foreign.id, 1]]);
  store.close();
});

test('bad samples and ratings are refused with one line and write nothing', () => {
  const file = newPath('errors.db');
  const store = FeedbackStore.open(file);
  const model = fakeModel('errors weights');
  const sample = store.addSample(textSample(model, 'fine'));
  const before = store.counts();
  assertGenloomError(() => store.addRating({ sampleId: 999, kind: 'thumbs', score: 1 }), 'NOT_FOUND', new RegExp(`no sample 999 in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  for (const score of [0, 2, 0.5]) {
    assertGenloomError(() => store.addRating({ sampleId: sample.id, kind: 'thumbs', score }), 'BAD_ARGUMENT', /thumbs rating scores -1 \(down\) or \+1/);
  }
  for (const score of [0, 6, 2.5, Number.NaN]) {
    assertGenloomError(() => store.addRating({ sampleId: sample.id, kind: 'stars', score }), 'BAD_ARGUMENT', /stars rating scores 1 to 5/);
  }
  assertGenloomError(() => store.addRating({ sampleId: sample.id, kind: 'likes' as 'stars', score: 3 }), 'BAD_ARGUMENT', /kind must be 'thumbs' or 'stars'/);
  assertGenloomError(() => store.addRating({ sampleId: 1.5, kind: 'stars', score: 3 }), 'BAD_ARGUMENT', /sampleId must be a sample id/);
  assertGenloomError(() => store.addSample({ ...textSample(model, ''), outputText: undefined }), 'BAD_ARGUMENT', /give outputPath .* or outputText/);
  assertGenloomError(() => store.addSample(textSample(model, 'x', { seed: 1.5 })), 'BAD_ARGUMENT', /seed must be an integer/);
  assertGenloomError(() => store.addSample(textSample(model, 'x', { modelHash: model.dir })), 'BAD_ARGUMENT', /modelHash must be 64 hex digits/);
  assertGenloomError(() => store.addSample(textSample(model, 'x', { family: '' })), 'BAD_ARGUMENT', /family is required/);
  assertGenloomError(() => store.addSample(textSample(model, 'x', { model: '' })), 'BAD_ARGUMENT', /model is required/);
  const missing = path.join(root, 'never-written.png');
  assertGenloomError(() => store.addSample(textSample(model, 'x', { outputPath: missing })), 'NOT_FOUND', /output file .*never-written\.png does not exist/);
  assert.deepEqual(store.counts(), before);
  store.close();
});

test('a preference needs two different outputs of one model for one prompt', () => {
  const store = FeedbackStore.open(newPath('preferences.db'));
  const model = fakeModel('preference weights');
  const other = fakeModel('other preference weights');
  const first = store.addSample(textSample(model, 'same words', { seed: 1 }));
  const sameOutput = store.addSample(textSample(model, 'same words', { seed: 2 }));
  const different = store.addSample(textSample(model, 'other words', { seed: 3 }));
  const foreign = store.addSample(textSample(other, 'foreign words'));
  const prompted = store.addSample(textSample(model, 'prompted words', { prompt: 'a prompt' }));
  assertGenloomError(() => store.addPreference({ chosenId: first.id, rejectedId: first.id }), 'BAD_ARGUMENT', /a preference between identical samples \(sample \d+ twice\)/);
  assertGenloomError(() => store.addPreference({ chosenId: first.id, rejectedId: sameOutput.id }), 'BAD_ARGUMENT', /a preference between identical samples: .* same output/);
  assertGenloomError(() => store.addPreference({ chosenId: first.id, rejectedId: foreign.id }), 'BAD_ARGUMENT', /feedback for a sample of another model/);
  assertGenloomError(() => store.addPreference({ chosenId: first.id, rejectedId: prompted.id }), 'BAD_ARGUMENT', /different prompts/);
  assertGenloomError(() => store.addPreference({ chosenId: first.id, rejectedId: 4242 }), 'NOT_FOUND', /no sample 4242 in/);
  assert.equal(store.counts().preferences, 0);
  const preference = store.addPreference({ chosenId: different.id, rejectedId: first.id });
  assert.equal(preference.rater, 'anonymous');
  assert.equal(store.counts().preferences, 1);
  store.close();
});

test('a file that is not SQLite, a newer schema and another program\'s database are refused and left untouched', () => {
  const corrupt = newPath('corrupt.db');
  const noise = randomBytes(4096);
  fs.writeFileSync(corrupt, noise);
  assertGenloomError(() => FeedbackStore.open(corrupt), 'CORRUPT_FILE', /corrupt\.db is not a feedback database \(not SQLite\): file is not a database/);
  assert.deepEqual(fs.readFileSync(corrupt), noise);

  const newer = newPath('newer.db');
  FeedbackStore.open(newer).close();
  const raw = new Database(newer);
  raw.pragma(`user_version = ${feedbackSchemaVersion + 5}`);
  raw.close();
  assertGenloomError(() => FeedbackStore.open(newer), 'UNSUPPORTED', new RegExp(`schema v${feedbackSchemaVersion + 5}, newer than the v${feedbackSchemaVersion} .*upgrade genloom`));
  assert.equal(rawPragma(newer, 'user_version'), feedbackSchemaVersion + 5);

  const foreign = newPath('foreign.db');
  const other = new Database(foreign);
  other.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
  other.close();
  assertGenloomError(() => FeedbackStore.open(foreign), 'BAD_ARGUMENT', /foreign\.db is a SQLite database but not a genloom feedback store \(tables users\)/);
  const check = new Database(foreign, { readonly: true });
  assert.deepEqual(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(), ['users']);
  assert.equal(check.pragma('user_version', { simple: true }), 0);
  check.close();
});

test('a version 1 store from an older genloom is migrated with its rows intact', () => {
  const file = newPath('v1.db');
  const model = fakeModel('v1 weights');
  // Exactly what genloom's first feedback schema wrote.
  const old = new Database(file);
  old.exec(`
    PRAGMA application_id = ${0x474c4642};
    CREATE TABLE samples (
      id INTEGER PRIMARY KEY, model TEXT NOT NULL, model_hash TEXT NOT NULL, family TEXT NOT NULL,
      seed INTEGER NOT NULL, settings TEXT NOT NULL, prompt TEXT, output_path TEXT, output_text TEXT,
      hash TEXT NOT NULL, created_at TEXT NOT NULL,
      CHECK (output_path IS NOT NULL OR output_text IS NOT NULL));
    CREATE TABLE ratings (
      id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL REFERENCES samples (id),
      kind TEXT NOT NULL CHECK (kind IN ('thumbs', 'stars')), score REAL NOT NULL, note TEXT,
      created_at TEXT NOT NULL);
    PRAGMA user_version = 1;`);
  const insertSample = old.prepare(
    "INSERT INTO samples (model, model_hash, family, seed, settings, prompt, output_text, hash, created_at) VALUES (?, ?, 'music', ?, '{\"bars\":8}', NULL, ?, ?, '2025-01-02T03:04:05.000Z')",
  );
  insertSample.run(model.dir, model.hash, 11, 'old one', sha256('old one'));
  insertSample.run(model.dir, model.hash, 12, 'old two', sha256('old two'));
  old.prepare("INSERT INTO ratings (sample_id, kind, score, note, created_at) VALUES (1, 'stars', 5, 'lovely', '2025-01-02T03:04:06.000Z')").run();
  old.prepare("INSERT INTO ratings (sample_id, kind, score, note, created_at) VALUES (2, 'thumbs', -1, NULL, '2025-01-02T03:04:07.000Z')").run();
  old.close();
  assert.equal(rawPragma(file, 'user_version'), 1);

  const store = FeedbackStore.open(file);
  assert.equal(rawPragma(file, 'user_version'), feedbackSchemaVersion);
  const samples = store.samples();
  assert.deepEqual(samples.map((sample) => [sample.seed, sample.outputText, sample.settings, sample.createdAt]), [
    [11, 'old one', { bars: 8 }, '2025-01-02T03:04:05.000Z'],
    [12, 'old two', { bars: 8 }, '2025-01-02T03:04:05.000Z'],
  ]);
  assert.deepEqual(store.ratings().map((rating) => [rating.sampleId, rating.kind, rating.score, rating.rater, rating.note]), [
    [1, 'stars', 5, 'anonymous', 'lovely'],
    [2, 'thumbs', -1, 'anonymous', null],
  ]);
  assert.deepEqual(store.ratedSamples(model.hash).map((sample) => sample.score), [1, 0]);
  const preference = store.addPreference({ chosenId: 1, rejectedId: 2, rater: 'ada' });
  assert.equal(preference.chosen.outputText, 'old one');
  assert.equal(store.addRating({ sampleId: 2, kind: 'stars', score: 3, rater: 'bob' }).rater, 'bob');
  store.close();
  const check = new Database(file, { readonly: true });
  const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
  assert.deepEqual(indexes, ['preferences_by_chosen', 'preferences_by_rejected', 'ratings_by_sample', 'samples_by_model']);
  check.close();
});

interface Writer {
  lines: string[];
  exited: Promise<number | null>;
  waitFor(line: string): Promise<void>;
  send(text: string): void;
}

function startWriter(...args: string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: { line: string; resolve: () => void }[] = [];
  let buffered = '';
  let errors = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const line of complete) {
      lines.push(line);
      for (const waiter of waiting.filter((entry) => entry.line === line)) waiter.resolve();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') console.error(errors);
      resolve(code);
    }),
  );
  return {
    lines,
    exited,
    waitFor: (line) =>
      lines.includes(line)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiting.push({ line, resolve });
            void exited.then(() => reject(new Error(`writer exited before printing "${line}": ${errors.trim().split('\n').pop()}`)));
          }),
    send: (text) => child.stdin.write(text),
  };
}

const committedIds = (writer: Writer) => writer.lines.filter((line) => line.startsWith('committed ')).map((line) => Number(line.split(' ')[1]));

test('two processes writing at once both succeed: a writer waits for the lock instead of failing', { timeout: 60_000 }, async () => {
  const file = newPath('concurrent.db');
  const store = FeedbackStore.open(file);
  const sample = store.addSample(textSample(fakeModel('concurrent weights'), 'shared sample'));
  store.close();
  const perWriter = 300;
  const writers = ['left', 'right'].map((rater) => startWriter('ratings', file, String(sample.id), String(perWriter), rater));
  await Promise.all(writers.map((writer) => writer.waitFor('ready')));
  // Hold the write lock while both writers make their first write, so each provably has to wait.
  const blocker = new Database(file);
  blocker.exec('BEGIN IMMEDIATE');
  writers.forEach((writer) => writer.send('go\n'));
  await Promise.all(writers.map((writer) => writer.waitFor('trying')));
  await new Promise((resolve) => setTimeout(resolve, 250));
  blocker.exec('COMMIT');
  blocker.close();
  assert.deepEqual(await Promise.all(writers.map((writer) => writer.exited)), [0, 0]);

  for (const writer of writers) {
    const waited = Number(writer.lines.find((line) => line.startsWith('first-write-ms '))!.split(' ')[1]);
    assert.ok(waited >= 200, `the first write waited ${waited} ms for the held lock`);
    assert.equal(committedIds(writer).length, perWriter);
  }
  const reopened = FeedbackStore.open(file);
  const ratings = reopened.ratings();
  reopened.close();
  assert.equal(ratings.length, 2 * perWriter);
  assert.equal(ratings.filter((rating) => rating.rater === 'left').length, perWriter);
  assert.equal(ratings.filter((rating) => rating.rater === 'right').length, perWriter);
  assert.deepEqual(new Set(ratings.map((rating) => rating.id)), new Set(writers.flatMap(committedIds)));
});

test('processes creating one new store at the same moment all succeed', { timeout: 60_000 }, async () => {
  const file = newPath('created-at-once.db');
  fs.writeFileSync(file, '');
  const raters = ['first', 'second', 'third'];
  const writers = raters.map((rater) => startWriter('open', file, '0', '0', rater));
  await Promise.all(writers.map((writer) => writer.waitFor('ready')));
  // A lock on the new file blocks each writer's switch to WAL (SQLite answers that one with
  // SQLITE_BUSY at once); releasing it lets all three race to create the schema.
  const blocker = new Database(file);
  blocker.exec('BEGIN IMMEDIATE');
  writers.forEach((writer) => writer.send('go\n'));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(writers.every((writer) => !writer.lines.includes('done')), 'the writers waited for the lock');
  blocker.exec('COMMIT');
  blocker.close();
  assert.deepEqual(await Promise.all(writers.map((writer) => writer.exited)), [0, 0, 0]);
  const store = FeedbackStore.open(file);
  assert.deepEqual(store.samples().map((sample) => sample.outputText).sort(), [...raters].sort());
  store.close();
});

test('a process killed in the middle of a write loses no committed rating and leaves a sound file', { timeout: 60_000 }, async () => {
  const file = newPath('crash.db');
  const store = FeedbackStore.open(file);
  const sample = store.addSample(textSample(fakeModel('crash weights'), 'crash sample'));
  store.close();
  const writer = startWriter('crash', file, String(sample.id), '40', 'crasher');
  assert.equal(await writer.exited, null, 'the writer died by SIGKILL');
  assert.ok(writer.lines.includes('killing'), 'the writer was killed inside its unfinished transaction');
  const committed = committedIds(writer);
  assert.equal(committed.length, 40);
  assert.ok(fs.statSync(`${file}-wal`).size > 0, 'the killed writer left a WAL file to recover');

  const reopened = FeedbackStore.open(file);
  const ratings = reopened.ratings();
  assert.deepEqual(ratings.map((rating) => rating.id), committed);
  assert.ok(ratings.every((rating) => rating.note?.startsWith('crasher ')), 'nothing of the uncommitted transaction survives');
  reopened.addRating({ sampleId: sample.id, kind: 'stars', score: 4 });
  reopened.close();
  const check = new Database(file, { readonly: true });
  assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
  check.close();
});

/** A store with every kind of record, for the JSONL tests. */
function populatedStore(): { store: FeedbackStore; model: { dir: string; hash: string } } {
  const store = FeedbackStore.open(newPath('populated.db'));
  const model = fakeModel('jsonl weights');
  const other = fakeModel('jsonl other weights');
  const image = store.addSample({ model: model.dir, modelHash: model.hash, family: 'gan', seed: 5, settings: { truncation: 0.5 }, outputPath: output('png bytes') });
  const a = store.addSample(textSample(model, 'a "quoted"\nline', { prompt: 'p', seed: 6 }));
  const b = store.addSample(textSample(model, 'b ünïcode', { prompt: 'p', seed: 7 }));
  const c = store.addSample(textSample(other, 'c'));
  store.addRating({ sampleId: b.id, kind: 'stars', score: 2, rater: 'ada', note: 'meh' });
  store.addRating({ sampleId: image.id, kind: 'thumbs', score: -1 });
  store.addRating({ sampleId: c.id, kind: 'thumbs', score: 1, rater: 'bob' });
  store.addPreference({ chosenId: a.id, rejectedId: b.id, rater: 'ada' });
  store.addPreference({ chosenId: b.id, rejectedId: a.id, rater: 'bob' });
  return { store, model };
}

/** The content of a store with ids replaced by what they point at, so two stores can be compared. */
function content(store: FeedbackStore, skipSamples = 0) {
  const samples = store.samples().slice(skipSamples);
  const hashOf = new Map(store.samples().map((sample) => [sample.id, sample.hash]));
  return {
    samples: samples.map(({ id: _id, ...rest }) => rest),
    ratings: store.ratings().map(({ id: _id, sampleId, ...rest }) => ({ ...rest, sample: hashOf.get(sampleId) })),
    preferences: store.preferences().map(({ id: _id, chosenId, rejectedId, chosen, rejected, ...rest }) => ({
      ...rest,
      chosen: hashOf.get(chosenId),
      rejected: hashOf.get(rejectedId),
      chosenSeed: chosen.seed,
      rejectedSeed: rejected.seed,
    })),
  };
}

test('exportJsonl then importJsonl into another store gives the same feedback under new ids', () => {
  const { store } = populatedStore();
  const exported = newPath('feedback.jsonl');
  assert.deepEqual(store.exportJsonl(exported), { samples: 4, ratings: 3, preferences: 2 });
  const lines = fs.readFileSync(exported, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string });
  assert.deepEqual(lines.map((line) => line.type), ['sample', 'sample', 'sample', 'sample', 'rating', 'rating', 'rating', 'preference', 'preference']);
  assert.deepEqual(fs.readdirSync(path.dirname(exported)).filter((name) => name.includes('.tmp-')), []);

  // The target already has a sample, so imported ids cannot coincide with the exported ones.
  const target = FeedbackStore.open(newPath('import-target.db'));
  const existing = target.addSample(textSample(fakeModel('pre-existing weights'), 'already here'));
  assert.deepEqual(target.importJsonl(exported), { samples: 4, ratings: 3, preferences: 2 });
  assert.deepEqual(content(target, 1), content(store));
  assert.deepEqual(target.samples()[0], existing);
  const exportedIds = store.samples().map((sample) => sample.id);
  assert.notDeepEqual(target.samples().slice(1).map((sample) => sample.id), exportedIds, 'imported samples got new ids');

  // The round trip is stable: exporting the import again gives the same lines apart from ids.
  const again = newPath('again.jsonl');
  const fresh = FeedbackStore.open(newPath('fresh.db'));
  fresh.importJsonl(exported);
  fresh.exportJsonl(again);
  assert.equal(fs.readFileSync(again, 'utf8'), fs.readFileSync(exported, 'utf8'));
  for (const each of [store, target, fresh]) each.close();
});

test('importJsonl imports nothing from a file with a bad line and names the line', () => {
  const { store } = populatedStore();
  const exported = newPath('good.jsonl');
  store.exportJsonl(exported);
  store.close();
  const lines = fs.readFileSync(exported, 'utf8').trimEnd().split('\n');

  const target = FeedbackStore.open(newPath('strict-import.db'));
  const unparsable = newPath('unparsable.jsonl');
  fs.writeFileSync(unparsable, [...lines.slice(0, 5), '{"type": "rating", "sampleId": ', ...lines.slice(5)].join('\n'));
  assertGenloomError(() => target.importJsonl(unparsable), 'CORRUPT_FILE', /unparsable\.jsonl line 6 is not JSON .*nothing was imported/);

  // A line that parses but is wrong, after samples that are fine: the whole transaction rolls back.
  const invalid = newPath('invalid.jsonl');
  const badRating = { ...(JSON.parse(lines[4]!) as object), score: 9, kind: 'stars' };
  fs.writeFileSync(invalid, [...lines.slice(0, 4), JSON.stringify(badRating), ...lines.slice(5)].join('\n'));
  assertGenloomError(() => target.importJsonl(invalid), 'CORRUPT_FILE', /invalid\.jsonl line 5: a stars rating scores 1 to 5.*nothing was imported/);

  const dangling = newPath('dangling.jsonl');
  fs.writeFileSync(dangling, [...lines.slice(0, 8), JSON.stringify({ ...(JSON.parse(lines[8]!) as object), chosenId: 777 })].join('\n'));
  assertGenloomError(() => target.importJsonl(dangling), 'CORRUPT_FILE', /dangling\.jsonl line 9: chosenId 777 is not a sample of this file/);

  const untyped = newPath('untyped.jsonl');
  fs.writeFileSync(untyped, `${lines[0]}\n[1, 2]\n`);
  assertGenloomError(() => target.importJsonl(untyped), 'CORRUPT_FILE', /untyped\.jsonl line 2: expected an object with "type"/);
  assert.deepEqual(target.counts(), { samples: 0, ratings: 0, preferences: 0 });

  // The same store still imports the good file, with blank lines ignored.
  fs.appendFileSync(exported, '\n\n');
  assert.deepEqual(target.importJsonl(exported), { samples: 4, ratings: 3, preferences: 2 });
  target.close();
});
