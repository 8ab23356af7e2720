import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/fixtures.ts';
import { GenloomError } from '../core/errors.ts';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from './safetensors.ts';

test('encode → decode is bit-exact, including NaN payloads, -0 and infinities', () => {
  const special = new Float32Array([Number.NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, Math.PI]);
  const bytes = encodeSafetensors(
    { 'b.weight': { dtype: 'F32', shape: [7], data: special }, 'a.step': { dtype: 'I32', shape: [], data: Int32Array.of(-42) }, empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) } },
    { step: '12' },
  );
  const file = decodeSafetensors(bytes, 'x.safetensors');
  const back = file.tensors.get('b.weight')!;
  assert.deepEqual(new Uint8Array(back.data.buffer), new Uint8Array(special.buffer));
  assert.deepEqual(file.tensors.get('a.step')!.data, Int32Array.of(-42));
  assert.deepEqual(file.tensors.get('empty')!.shape, [0, 3]);
  assert.deepEqual(file.metadata, { step: '12' });
});

test('half precision on request: F32 stored as F16 (nearest even), widened back on read; I32 untouched; out of range refused', () => {
  // Exact halves, halfway cases (ties to even), a subnormal half, an underflow and the largest half.
  const values = Float32Array.of(1, -2, 0.5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -20, 2 ** -26, 65504, -0);
  const expected = Float32Array.of(1, -2, 0.5, 1, 1 + 2 ** -9, 2 ** -20, 0, 65504, -0);
  const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [values.length], data: values }, n: { dtype: 'I32', shape: [1], data: Int32Array.of(7) } }, {}, { halfPrecision: true });
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))).toString('utf8'));
  assert.equal(header.w.dtype, 'F16');
  assert.equal(header.n.dtype, 'I32');
  const file = decodeSafetensors(bytes, 'x.safetensors');
  assert.deepEqual(new Uint8Array(file.tensors.get('w')!.data.buffer), new Uint8Array(expected.buffer));
  assert.deepEqual(file.tensors.get('n')!.data, Int32Array.of(7));
  // Every value of a random spread within half's relative precision.
  const spread = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 7) - 3));
  const back = decodeSafetensors(encodeSafetensors({ w: { dtype: 'F32', shape: [1000], data: spread } }, {}, { halfPrecision: true }), 'x').tensors.get('w')!.data;
  spread.forEach((value, i) => assert.ok(Math.abs(back[i]! - value) <= Math.max(Math.abs(value) * 2 ** -11, 2 ** -25), `${value} → ${back[i]}`));
  assert.throws(() => encodeSafetensors({ big: { dtype: 'F32', shape: [1], data: Float32Array.of(70000) } }, {}, { halfPrecision: true }), /tensor "big" holds 70000, which half precision cannot store/);
});

test('the layout follows the safetensors spec (u64 header length, JSON header, packed data)', () => {
  const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) } });
  const view = new DataView(bytes.buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, 'data starts 8-byte aligned');
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  assert.deepEqual(header, { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
  assert.deepEqual(new Float32Array(bytes.slice(8 + headerLength).buffer), Float32Array.of(1, 2));
});

test('a hand-written file in the reference layout decodes', () => {
  // Built byte by byte as the format's README describes, independent of our encoder.
  const header = Buffer.from('{"x":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}');
  const out = Buffer.alloc(8 + header.length + 8);
  out.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(out, 8);
  out.writeFloatLE(0.5, 8 + header.length);
  out.writeFloatLE(-2, 12 + header.length);
  const file = decodeSafetensors(out, 'ref.safetensors');
  assert.deepEqual(file.tensors.get('x')!.data, Float32Array.of(0.5, -2));
  assert.deepEqual(file.tensors.get('x')!.shape, [1, 2]);
});

test('corrupt files give CORRUPT_FILE errors that name the file and the problem', () => {
  const good = encodeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  const expectCorrupt = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => decodeSafetensors(bytes, 'bad.safetensors'), (error: unknown) => {
      assert.ok(error instanceof GenloomError);
      assert.equal(error.code, 'CORRUPT_FILE');
      assert.match(error.message, /bad\.safetensors/);
      assert.match(error.message, pattern);
      return true;
    });
  expectCorrupt(good.subarray(0, 5), /truncated/);
  expectCorrupt(good.subarray(0, good.length - 4), /truncated/);
  const hugeHeader = good.slice();
  new DataView(hugeHeader.buffer).setBigUint64(0, 1n << 40n, true);
  expectCorrupt(hugeHeader, /header length/);
  const notJson = good.slice();
  notJson[8] = 0x7b + 1;
  expectCorrupt(notJson, /not JSON/);
  const f64 = Buffer.from(Buffer.from(good).toString('latin1').replace('"F32"', '"F64"'), 'latin1');
  expectCorrupt(f64, /dtype F64/);
  const wrongShape = Buffer.from(Buffer.from(good).toString('latin1').replace('[4]', '[5]'), 'latin1');
  expectCorrupt(wrongShape, /bytes for shape/);
});

test('hostile headers and layouts are refused in one line each (issue 27)', () => {
  const expectCorrupt = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => decodeSafetensors(bytes, 'bad.safetensors'), (error: unknown) => {
      assert.ok(error instanceof GenloomError, `expected GenloomError, got ${String(error)}`);
      assert.equal(error.code, 'CORRUPT_FILE');
      assert.match(error.message, /^bad\.safetensors is not a valid safetensors file: /);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    });
  /** A file from header text and data length, the header written as is (not through our encoder). */
  const file = (header: string, dataBytes = 0, declaredLength?: bigint) => {
    const text = Buffer.from(header);
    const out = Buffer.alloc(8 + text.length + dataBytes);
    out.writeBigUInt64LE(declaredLength ?? BigInt(text.length), 0);
    text.copy(out, 8);
    return out;
  };
  const f32 = (shape: unknown[], offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const json = (header: unknown) => JSON.stringify(header);

  expectCorrupt(file('{}', 0, 1n << 63n), /header length 9223372036854775808 does not fit in 10 bytes/);
  expectCorrupt(file('{}', 0, (1n << 64n) - 1n), /header length 18446744073709551615 does not fit/);
  expectCorrupt(file('{}', 0, 3n), /header length 3 does not fit in 10 bytes/);
  expectCorrupt(file('not json at all'), /its header is not JSON/);
  expectCorrupt(file('[1, 2]'), /its header is not a JSON object/);
  expectCorrupt(file('null'), /its header is not a JSON object/);
  expectCorrupt(file('"text"'), /its header is not a JSON object/);
  expectCorrupt(file('['.repeat(100_000)), /its header is not JSON/); // nesting deep enough to overflow a recursive parser
  expectCorrupt(file(json({ w: null })), /tensor "w" is not described by a JSON object/);
  expectCorrupt(file(json({ w: [1] })), /tensor "w" is not described by a JSON object/);
  expectCorrupt(file(json({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }), 8), /tensor "w" has dtype F64; genloom reads F32, I32, F16 and BF16/);
  expectCorrupt(file(json({ w: { dtype: { x: 1 }, shape: [1], data_offsets: [0, 4] } }), 4), /dtype \{"x":1\}/);
  expectCorrupt(file(json({ w: f32([-1], [0, 4]) }), 4), /tensor "w" has a bad shape \[-1\]/);
  expectCorrupt(file(json({ w: f32([1.5], [0, 6]) }), 6), /tensor "w" has a bad shape \[1\.5\]/);
  expectCorrupt(file(json({ w: f32([2 ** 60], [0, 4]) }), 4), /bad shape/);
  expectCorrupt(file(json({ w: f32(['2'], [0, 8]) }), 8), /bad shape/);
  expectCorrupt(file(json({ w: f32([2], [0, 4]) }), 4), /tensor "w" has 4 bytes for shape \[2\]/);
  expectCorrupt(file(json({ w: f32([1], [4, 0]) }), 4), /bad data_offsets \[4,0\]/);
  expectCorrupt(file(json({ w: f32([1], [-4, 0]) }), 4), /bad data_offsets/);
  expectCorrupt(file(json({ w: f32([1], [0, 4, 8]) }), 8), /bad data_offsets/);
  expectCorrupt(file(json({ w: f32([1], [2 ** 60, 2 ** 60 + 4]) }), 4), /bad data_offsets/);
  expectCorrupt(file(json({ w: f32([1], [1e300, 1e300]) }), 4), /bad data_offsets/);
  expectCorrupt(file(json({ w: f32([2], [8, 16]) }), 8), /tensor "w" ends at byte 16 but the data has 8 \(truncated\?\)/);
  expectCorrupt(file(json({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }), 12), /tensors "a" and "b" overlap \(bytes 4 to 8\)/);
  expectCorrupt(file(json({ a: f32([2], [0, 8]), b: f32([2], [0, 8]) }), 8), /tensors "a" and "b" overlap/);
  expectCorrupt(file(json({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }), 12), /4 bytes before tensor "b" belong to no tensor/);
  expectCorrupt(file(json({ a: f32([1], [0, 4]) }), 12), /8 bytes after its last tensor belong to no tensor/);
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    expectCorrupt(file(`{"${name}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), new RegExp(`names a tensor "${name}", a name JavaScript objects reserve`));
  }
  expectCorrupt(file(json({ __metadata__: 'x' })), /its __metadata__ is not a JSON object/);
  expectCorrupt(file(json({ __metadata__: { step: 3 } })), /its __metadata__ "step" is 3, not a string/);

  // What is allowed: a "__proto__" metadata key stays a key (no prototype is set), zero-size tensors anywhere.
  const metadata = decodeSafetensors(file('{"__metadata__":{"__proto__":"x","step":"1"}}'), 'ok.safetensors').metadata;
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
  assert.equal(metadata['step'], '1');
  assert.ok(Object.hasOwn(metadata, '__proto__'));
  const empty = decodeSafetensors(file(json({ e: f32([0, 5], [4, 4]), w: f32([1], [0, 4]), z: f32([0], [0, 0]) }), 4), 'ok.safetensors');
  assert.deepEqual([...empty.tensors.keys()].sort(), ['e', 'w', 'z']);
});

test('readSafetensors opens only regular files and checks the header before reading the data', { timeout: 10_000 }, () => {
  const dir = tempDir();
  const refused = (path: string, code: string, pattern: RegExp) =>
    assert.throws(() => readSafetensors(path), (error: unknown) => {
      assert.ok(error instanceof GenloomError, `expected GenloomError, got ${String(error)}`);
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      return true;
    });
  refused(join(dir, 'missing.safetensors'), 'NOT_FOUND', /missing\.safetensors does not exist/);
  mkdirSync(join(dir, 'folder.safetensors'));
  refused(join(dir, 'folder.safetensors'), 'CORRUPT_FILE', /folder\.safetensors is not a regular file \(it is a directory\)/);
  const fifo = join(dir, 'fifo.safetensors');
  // Opening a FIFO blocks until a writer comes: were it opened, this test would time out.
  if (spawnSync('mkfifo', [fifo]).status === 0) refused(fifo, 'CORRUPT_FILE', /fifo\.safetensors is not a regular file \(it is a FIFO\)/);
  // A 1.5 GB sparse file whose header describes 4 bytes: refused from its header, its data unread.
  const sparse = join(dir, 'sparse.safetensors');
  writeFileSync(sparse, encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }));
  truncateSync(sparse, 1.5 * 2 ** 30);
  const started = performance.now();
  refused(sparse, 'CORRUPT_FILE', /bytes after its last tensor belong to no tensor/);
  assert.ok(performance.now() - started < 500, `took ${performance.now() - started} ms`);
  const huge = join(dir, 'huge.safetensors');
  const header = Buffer.alloc(16);
  header.writeBigUInt64LE(1n << 63n, 0);
  writeFileSync(huge, header);
  refused(huge, 'CORRUPT_FILE', /header length 9223372036854775808 does not fit in 16 bytes/);
});
