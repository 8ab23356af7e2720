/**
 * A second process writing to a feedback store, for store.test.ts (not itself a test file).
 *
 *   node --import tsx store-writer.test-util.ts ratings <db> <sampleId> <count> <rater>
 *     opens the store, prints "ready", waits for "go" on stdin, prints "trying", adds <count>
 *     thumbs ratings (one transaction each), printing "committed <id>" after each commit and
 *     "first-write-ms <ms>" for how long the first one waited for the write lock.
 *   node --import tsx store-writer.test-util.ts open <db> 0 0 <rater>
 *     prints "ready", waits for "go", then opens (creating) the store and adds one text sample.
 *   node --import tsx store-writer.test-util.ts crash <db> <sampleId> <count>
 *     commits <count> ratings the same way, then starts a large transaction that never commits
 *     and kills itself with SIGKILL in the middle of it.
 *
 * Lines go out with writeSync so that everything printed before a SIGKILL reaches the parent.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { FeedbackStore } from './store.ts';

const [mode, databasePath, sampleIdText, countText, rater = 'writer'] = process.argv.slice(2);
if (!databasePath || !sampleIdText || !countText || !['ratings', 'open', 'crash'].includes(mode!)) {
  throw new Error('usage: store-writer.test-util.ts ratings|open|crash <db> <sampleId> <count> [rater]');
}
const sampleId = Number(sampleIdText);
const count = Number(countText);
const say = (line: string) => fs.writeSync(1, `${line}\n`);

function writeRatings(store: FeedbackStore): void {
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const rating = store.addRating({ sampleId, kind: 'thumbs', score: index % 2 === 0 ? 1 : -1, rater, note: `${rater} ${index}` });
    if (index === 0) say(`first-write-ms ${Math.round(performance.now() - started)}`);
    say(`committed ${rating.id}`);
  }
}

/** Runs `body` once the parent writes to stdin, so that several writers start at one moment. */
function onGo(body: () => void): void {
  say('ready');
  process.stdin.once('data', () => {
    body();
    say('done');
    process.exit(0);
  });
}

if (mode === 'open') {
  // Load the native module first, so the writers' opens start as close together as possible.
  new Database(':memory:').close();
  onGo(() => {
    const store = FeedbackStore.open(databasePath);
    store.addSample({ model: '.', modelHash: 'a'.repeat(64), family: 'transformer', seed: 0, outputText: rater });
    store.close();
  });
} else if (mode === 'ratings') {
  const store = FeedbackStore.open(databasePath);
  onGo(() => {
    say('trying');
    writeRatings(store);
    store.close();
  });
} else {
  writeRatings(FeedbackStore.open(databasePath));
  // Enough uncommitted rows to overflow the page cache, so some of them reach the WAL file
  // without a commit record: recovery must ignore them.
  const raw = new Database(databasePath, { timeout: 10_000 });
  raw.exec('BEGIN IMMEDIATE');
  const insert = raw.prepare("INSERT INTO ratings (sample_id, kind, score, rater, note, created_at) VALUES (?, 'stars', 5, ?, ?, ?)");
  for (let index = 0; index < 3000; index++) insert.run(sampleId, rater, `uncommitted ${'x'.repeat(2000)}`, new Date().toISOString());
  say('killing');
  process.kill(process.pid, 'SIGKILL');
}
