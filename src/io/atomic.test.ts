import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { GenloomError } from '../core/errors.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'genloom-'));

test('writeFileAtomic creates parent directories and leaves no temp file', () => {
  const target = path.join(directory, 'nested', 'deeper', 'file.bin');
  writeFileAtomic(target, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...fs.readFileSync(target)], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), ['file.bin']);
});

test('writeFileAtomic replaces an existing file, with strings too', () => {
  const target = path.join(directory, 'replace.txt');
  fs.writeFileSync(target, 'old contents that are longer than the new ones');
  writeFileAtomic(target, 'new');
  assert.equal(fs.readFileSync(target, 'utf8'), 'new');
  assert.deepEqual(fs.readdirSync(directory).filter((name) => name.includes('.tmp-')), []);
});

test('writeFileAtomic reports an unwritable path as a GenloomError naming it and cleans up', () => {
  const blocker = path.join(directory, 'blocker');
  fs.writeFileSync(blocker, 'a file, not a directory');
  const target = path.join(blocker, 'child.txt');
  assert.throws(() => writeFileAtomic(target, 'x'), (error: unknown) => {
    assert.ok(error instanceof GenloomError);
    assert.equal(error.code, 'BAD_ARGUMENT');
    assert.ok(error.message.includes(target));
    return true;
  });
  // Node's own recursive mkdir spins forever here (procfs answers ENOENT); ours must fail fast.
  if (fs.existsSync('/proc/self')) assert.throws(() => writeFileAtomic('/proc/genloom-missing/child/file.txt', 'x'), GenloomError);
  const dangling = path.join(directory, 'dangling');
  fs.symlinkSync(path.join(directory, 'does-not-exist'), dangling);
  assert.throws(() => writeFileAtomic(path.join(dangling, 'sub', 'file.txt'), 'x'), GenloomError);
  const directoryTarget = path.join(directory, 'a-directory');
  fs.mkdirSync(directoryTarget);
  assert.throws(() => writeFileAtomic(directoryTarget, 'x'), GenloomError);
  assert.deepEqual(fs.readdirSync(directory).filter((name) => name.includes('.tmp-')), []);
});

test.after(() => fs.rmSync(directory, { recursive: true, force: true }));
