import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

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
