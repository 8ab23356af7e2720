/**
 * Hostile and broken mesh files (issue 27): each is refused with one line naming the file and the
 * problem, quickly, without allocating what a lying header asks for and without the loaders'
 * per-line warnings; a single label folder trains unconditionally; a sliver-heavy mesh voxelizes fast.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import nodePath from 'node:path';
import { describe, it } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { tempDir } from '../../test/fixtures.ts';
import { readMesh, type Mesh } from './mesh.ts';
import { loadShapeDataset } from './shape-dataset.ts';
import { maxSurfaceMultiple, voxelize } from './voxelize.ts';

const temporary = tempDir('genloom-mesh-input-');
const tetrahedron = (first = 'v 0 0 0') => `${first}\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n`;

function write(name: string, contents: string | Uint8Array): string {
  const path = nodePath.join(temporary, name);
  fs.mkdirSync(nodePath.dirname(path), { recursive: true });
  fs.writeFileSync(path, contents);
  return path;
}

function refuses(path: string, pattern: RegExp): void {
  const warn = console.warn;
  const error = console.error;
  const printed: string[] = [];
  console.warn = console.error = (...parts: unknown[]) => printed.push(parts.join(' '));
  const started = performance.now();
  try {
    assert.throws(
      () => readMesh(path),
      (thrown: unknown) => {
        assert.ok(thrown instanceof GenloomError, `a GenloomError, got ${String(thrown)}`);
        assert.equal(thrown.code, 'CORRUPT_FILE', thrown.message);
        assert.ok(thrown.message.startsWith(path), thrown.message);
        assert.match(thrown.message, pattern);
        assert.doesNotMatch(thrown.message, /[\u0000-\u001f]/, 'one printable line');
        return true;
      },
    );
  } finally {
    console.warn = warn;
    console.error = error;
  }
  assert.deepEqual(printed, [], 'the loaders printed nothing');
  assert.ok(performance.now() - started < 1000, `refused in ${Math.round(performance.now() - started)} ms`);
}

describe('hostile meshes', () => {
  it('empty files and binary garbage of each format', () => {
    refuses(write('empty.stl', ''), /is empty, not an STL file/);
    refuses(write('empty.ply', ''), /is empty, not a PLY file/);
    const garbage = Uint8Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24);
    refuses(write('garbage.obj', garbage), /: no triangles: not a valid OBJ file\? \(THREE\.OBJLoader: Unexpected line/);
    refuses(write('garbage.ply', garbage), /: not a PLY file \(it does not start with "ply"\)/);
    refuses(write('garbage.stl', garbage), /: its binary STL header promises \d+ triangles \(\d+ bytes\), but the file has 5000 bytes/);
  });

  it('NaN, infinite and beyond-float32 coordinates, and a face naming a missing vertex', () => {
    refuses(write('nan.obj', tetrahedron('v NaN 0 0')), /: a vertex coordinate is not a finite number \(NaN, infinite, or beyond float32's ±3\.4e38/);
    refuses(write('inf.obj', tetrahedron('v inf 0 0')), /not a finite number/);
    refuses(write('over.obj', tetrahedron('v 1e39 0 0')), /not a finite number/);
    refuses(write('missing.obj', 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n'), /or a face names a vertex the file does not have/);
  });

  it('coordinates near float32\'s limit are a valid mesh and voxelize', () => {
    const mesh = readMesh(write('big.obj', 'v 1e38 0 0\nv -1e38 0 0\nv 0 1e38 0\nv 0 0 1e38\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n'));
    assert.ok(voxelize(mesh, 16).values.some((value) => value === 1));
  });

  it('a binary STL whose triangle count runs past the file, and PLY headers declaring 2^31 vertices', () => {
    const stl = Buffer.alloc(84 + 50);
    stl.writeUInt32LE(3_000_000, 80);
    refuses(write('cut.stl', stl), /: its binary STL header promises 3000000 triangles \(150000084 bytes\), but the file has 134 bytes: it is truncated/);
    const header = (format: string) =>
      `ply\nformat ${format} 1.0\nelement vertex 2147483648\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n`;
    refuses(write('huge.ply', Buffer.concat([Buffer.from(header('binary_little_endian')), Buffer.alloc(100)])), /its header declares 2147483648 vertex elements, which need at least 25769803776 bytes, but 100 follow the header/);
    refuses(write('huge-ascii.ply', `${header('ascii')}0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n`), /its header declares 2147483648 vertex elements/);
    refuses(write('no-end.ply', 'ply\nformat ascii 1.0\nelement vertex 3\n'), /no "end_header" line/);
    refuses(write('count.ply', 'ply\nformat ascii 1.0\nelement vertex -3\nend_header\n'), /declares -3 vertex elements, not a whole number/);
  });

  it('a FIFO named .obj is refused, not waited on', () => {
    const fifo = nodePath.join(temporary, 'fifo.obj');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return;
    refuses(fifo, /is not a regular file \(it is a FIFO\)/);
  });
});

describe('voxelizing hostile geometry', () => {
  it('a pile of triangles each spanning the grid is refused by its area before any is marked', () => {
    const count = 20_000;
    const positions = new Float32Array(count * 9);
    for (let i = 0; i < count; i++) positions.set([0, 0, 0, 1, i / count, 0, 0, 1, 1], i * 9);
    const pile: Mesh = { positions, faces: Uint32Array.from({ length: count * 3 }, (_, i) => i) };
    const started = performance.now();
    assert.throws(() => voxelize(pile, 64, 'pile.obj'), new RegExp(`pile\\.obj: its triangles, fitted to the 64³ grid, have \\d+ times the area of the grid's own surface; genloom voxelizes meshes of up to ${maxSurfaceMultiple} times`));
    assert.ok(performance.now() - started < 1000);
  });

  it('long thin slivers (a finely divided cylinder) voxelize solid: their cost is their area, not their length squared', () => {
    const segments = 2000;
    const positions: number[] = [];
    const faces: number[] = [];
    for (let i = 0; i < segments; i++) {
      const angle = (2 * Math.PI * i) / segments;
      positions.push(Math.cos(angle), Math.sin(angle), 0, Math.cos(angle), Math.sin(angle), 10);
    }
    positions.push(0, 0, 0, 0, 0, 10);
    for (let i = 0; i < segments; i++) {
      const j = (i + 1) % segments;
      faces.push(2 * i, 2 * j, 2 * i + 1, 2 * j, 2 * j + 1, 2 * i + 1, 2 * segments, 2 * j, 2 * i, 2 * segments + 1, 2 * i + 1, 2 * j + 1);
    }
    const grid = voxelize({ positions: Float32Array.from(positions), faces: Uint32Array.from(faces) }, 64);
    const r = 64;
    assert.equal(grid.values[(32 * r + 32) * r + 32], 1, 'the axis is inside');
    assert.equal(grid.values[(32 * r + 32) * r + 0], 0, 'the margin is empty');
  });
});

describe('mesh folders', () => {
  it('a single label subfolder is unlabelled (one class conditions nothing); two are labels', () => {
    write('one/chair/a.obj', tetrahedron());
    write('one/chair/b.obj', tetrahedron());
    const single = loadShapeDataset(nodePath.join(temporary, 'one'), { split: 'train', resolution: 16 });
    assert.equal(single.count, 2);
    assert.equal(single.labels, undefined);
    assert.equal(single.labelNames, undefined);
    write('one/lamp/c.obj', tetrahedron());
    assert.deepEqual(loadShapeDataset(nodePath.join(temporary, 'one'), { split: 'train', resolution: 16 }).labelNames, ['chair', 'lamp']);
  });

  it('a bad mesh in a folder is named', () => {
    write('bad/x/a.obj', tetrahedron());
    write('bad/x/b.obj', tetrahedron('v NaN 0 0'));
    assert.throws(() => loadShapeDataset(nodePath.join(temporary, 'bad'), { split: 'train', resolution: 16 }), /bad\/x\/b\.obj: a vertex coordinate is not a finite number/);
  });
});
