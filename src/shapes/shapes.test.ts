import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { describe, it, test } from 'node:test';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import type { Mesh as ThreeMesh } from 'three';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { keepLargestComponent } from './components.ts';
import { marchingCubes } from './marching-cubes.ts';
import { encodeObj, encodePly, readMesh, writeMeshFiles, type Mesh } from './mesh.ts';
import { proceduralShape, shapeLabelNames } from './procedural.ts';
import { checkResolution, voxelize, voxelIou } from './voxelize.ts';

const temporary = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'genloom-shapes-'));
process.on('exit', () => fs.rmSync(temporary, { recursive: true, force: true }));

function writeTemporary(name: string, contents: string | Uint8Array): string {
  const path = nodePath.join(temporary, name);
  fs.mkdirSync(nodePath.dirname(path), { recursive: true });
  fs.writeFileSync(path, contents);
  return path;
}

function signedVolume(mesh: Mesh): number {
  const { positions: p, faces: f } = mesh;
  let volume = 0;
  for (let i = 0; i < f.length; i += 3) {
    const [a, b, c] = [3 * f[i], 3 * f[i + 1], 3 * f[i + 2]];
    volume += (p[a] * (p[b + 1] * p[c + 2] - p[b + 2] * p[c + 1]) - p[a + 1] * (p[b] * p[c + 2] - p[b + 2] * p[c]) + p[a + 2] * (p[b] * p[c + 1] - p[b + 1] * p[c])) / 6;
  }
  return volume;
}

function filled(values: Float32Array): number {
  return values.reduce((sum, value) => sum + (value >= 0.5 ? 1 : 0), 0);
}

/** A unit cube as an ASCII STL, 12 triangles wound outward, each vertex repeated per facet. */
function cubeStl(): string {
  const corners = (x: number, y: number, z: number) => `vertex ${x} ${y} ${z}`;
  const quads = [
    [[0, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0]], [[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
    [[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], [[0, 1, 0], [0, 1, 1], [1, 1, 1], [1, 1, 0]],
    [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0]], [[1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 0, 1]],
  ];
  const facets: string[] = [];
  for (const [a, b, c, d] of quads) {
    for (const triangle of [[a, b, c], [a, c, d]]) {
      facets.push(`facet normal 0 0 0\nouter loop\n${triangle.map((v) => corners(v[0], v[1], v[2])).join('\n')}\nendloop\nendfacet`);
    }
  }
  return `solid cube\n${facets.join('\n')}\nendsolid cube\n`;
}

function expectError(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GenloomError, `expected a GenloomError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'messages are one line');
    return true;
  });
}

describe('voxelize and marching cubes', () => {
  for (const [label, resolution] of [[0, 24], [1, 24], [2, 24], [3, 16], [4, 20]] as const) {
    it(`round-trips a procedural ${shapeLabelNames[label]} at ${resolution}³ with IoU ≥ 0.8`, () => {
      const shape = proceduralShape(label, fromSeed(3).fork('round-trip', label), resolution);
      const first = voxelize(marchingCubes(shape), resolution);
      const mesh = marchingCubes(first);
      const second = voxelize(mesh, resolution);
      const iou = voxelIou(first, second);
      assert.ok(iou >= 0.8, `IoU ${iou.toFixed(3)}`);
      // Outward winding: a closed surface wound counter-clockwise from outside has positive volume.
      assert.ok(signedVolume(mesh) > 0);
    });
  }

  it('marching cubes encloses about the grid’s filled volume, wound outward', () => {
    const shape = proceduralShape(0, fromSeed(5), 24);
    const volume = signedVolume(marchingCubes(shape));
    const expected = filled(shape.values) / 24 ** 3;
    assert.ok(Math.abs(volume - expected) / expected < 0.1, `${volume} vs ${expected}`);
  });

  it('an empty grid gives an empty mesh', () => {
    const mesh = marchingCubes({ resolution: 8, values: new Float32Array(512) });
    assert.equal(mesh.faces.length, 0);
  });

  it('voxelizes an ASCII STL cube to a solid, interior filled, with a one-voxel margin', () => {
    const mesh = readMesh(writeTemporary('cube.stl', cubeStl()));
    assert.equal(mesh.positions.length / 3, 8, 'the STL’s repeated vertices are welded');
    assert.equal(mesh.faces.length / 3, 12);
    const r = 16;
    const grid = voxelize(mesh, r);
    const at = (x: number, y: number, z: number) => grid.values[(x * r + y) * r + z];
    assert.equal(at(8, 8, 8), 1, 'centre is inside');
    assert.equal(at(0, 0, 0), 0, 'margin is empty');
    assert.equal(at(0, 8, 8), 0);
    // The cube fills 14³ voxels (the box scaled to r − 2).
    assert.equal(filled(grid.values), 14 ** 3);
  });

  it('voxelIou: identical grids give 1, disjoint 0, mismatched resolutions throw', () => {
    const a = proceduralShape(1, fromSeed(1), 16);
    assert.equal(voxelIou(a, a), 1);
    const empty = { resolution: 16, values: new Float32Array(16 ** 3) };
    assert.equal(voxelIou(a, empty), 0);
    expectError(() => voxelIou(a, proceduralShape(1, fromSeed(1), 8)), 'SHAPE_MISMATCH', /resolution 16 and 8/);
  });
});

describe('resolution limits', () => {
  it('names the memory a too-large resolution would take, before allocating anything', () => {
    const started = Date.now();
    expectError(() => checkResolution(512), 'BAD_ARGUMENT', /512³ = 134M voxels \(512 MiB as float32\) per shape; the most is 128/);
    expectError(() => voxelize({ positions: new Float32Array(9), faces: new Uint32Array([0, 1, 2]) }, 4096), 'BAD_ARGUMENT', /4096³ .* GiB as float32/);
    expectError(() => proceduralShape(0, fromSeed(1), 4096), 'BAD_ARGUMENT', /the most is 128/);
    assert.ok(Date.now() - started < 200, 'no 4096³ grid was allocated');
  });

  it('rejects small and fractional resolutions', () => {
    expectError(() => checkResolution(4), 'BAD_ARGUMENT', /from 8 to 128, got 4/);
    expectError(() => checkResolution(16.5), 'BAD_ARGUMENT', /got 16.5/);
    checkResolution(8);
    checkResolution(128);
  });
});

describe('mesh files', () => {
  const mesh = marchingCubes(proceduralShape(2, fromSeed(9), 16));

  it('encodeObj and encodePly parse back with three to the same vertex and triangle counts', () => {
    const paths = writeMeshFiles(nodePath.join(temporary, 'out', 'torus'), mesh);
    assert.deepEqual(paths, { obj: nodePath.join(temporary, 'out', 'torus.obj'), ply: nodePath.join(temporary, 'out', 'torus.ply') });
    const objText = fs.readFileSync(paths.obj, 'utf8');
    assert.match(objText.split('\n')[0], /^# .*genloom/);
    const group = new OBJLoader().parse(objText);
    const objGeometry = (group.children[0] as ThreeMesh).geometry;
    assert.equal(objGeometry.getAttribute('position').count, mesh.faces.length, 'OBJLoader unrolls faces: 3 corners per triangle');
    const plyBytes = fs.readFileSync(paths.ply);
    assert.deepEqual(plyBytes, encodePly(mesh));
    const plyGeometry = new PLYLoader().parse(plyBytes.buffer.slice(plyBytes.byteOffset, plyBytes.byteOffset + plyBytes.byteLength) as ArrayBuffer);
    assert.equal(plyGeometry.getAttribute('position').count, mesh.positions.length / 3);
    assert.equal(plyGeometry.index!.count, mesh.faces.length);
    assert.deepEqual(Array.from(plyGeometry.getAttribute('position').array), Array.from(mesh.positions));
  });

  it('readMesh reads its own OBJ and PLY back to the same mesh', () => {
    const paths = writeMeshFiles(nodePath.join(temporary, 'again'), mesh);
    for (const path of [paths.obj, paths.ply]) {
      const back = readMesh(path);
      assert.equal(back.positions.length, mesh.positions.length, path);
      assert.equal(back.faces.length, mesh.faces.length, path);
      assert.ok(Math.abs(signedVolume(back) - signedVolume(mesh)) < 1e-5, path);
    }
    assert.equal(encodeObj(mesh), fs.readFileSync(paths.obj, 'utf8'));
  });

  it('errors name the file: missing, unknown extension, garbage, empty, degenerate, non-manifold', () => {
    expectError(() => readMesh(nodePath.join(temporary, 'absent.obj')), 'NOT_FOUND', /absent\.obj/);
    expectError(() => readMesh(writeTemporary('shape.fbx', 'x')), 'BAD_ARGUMENT', /shape\.fbx: unknown mesh extension '\.fbx'; use \.obj, \.stl, \.ply/);
    expectError(() => readMesh(writeTemporary('garbage.obj', 'this is not\x00 a mesh at all\n')), 'CORRUPT_FILE', /garbage\.obj: no triangles: not a valid OBJ file\?/);
    expectError(() => readMesh(writeTemporary('empty.obj', '')), 'CORRUPT_FILE', /empty\.obj is empty, not an OBJ file/);
    expectError(() => readMesh(writeTemporary('garbage.stl', 'hello world, no facets here')), 'CORRUPT_FILE', /garbage\.stl: 27 bytes, too short for a binary STL .* and not ASCII STL/);
    expectError(() => readMesh(writeTemporary('garbage.ply', 'not a ply')), 'CORRUPT_FILE', /garbage\.ply: not a PLY file \(it does not start with "ply"\)/);
    expectError(() => readMesh(writeTemporary('flat.obj', 'v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n')), 'CORRUPT_FILE', /flat\.obj: all 1 triangles are degenerate/);
    const fan = 'v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 2 5\n';
    expectError(() => readMesh(writeTemporary('fan.obj', fan)), 'CORRUPT_FILE', /fan\.obj: not a manifold mesh: 1 edge is shared by more than 2 triangles/);
  });

  it('accepts an open mesh (a hole) and voxelizes it as a shell', () => {
    // The cube without its top: the flood fill leaks in, so the centre stays empty.
    const stl = cubeStl().split('endfacet').slice(0, -1);
    const openCube = `solid open\n${[...stl.slice(0, 6), ...stl.slice(8)].map((facet) => `${facet}endfacet`).join('\n')}\nendsolid open\n`;
    const mesh = readMesh(writeTemporary('open.stl', openCube));
    assert.equal(mesh.faces.length / 3, 10);
    const grid = voxelize(mesh, 16);
    assert.equal(grid.values[(8 * 16 + 8) * 16 + 8], 0);
    assert.ok(filled(grid.values) > 0);
  });
});

test('floating fragments: only the largest 26-connected component of filled voxels is kept', () => {
  const r = 8;
  const values = new Float32Array(r * r * r);
  const at = (a: number, b: number, c: number) => (a * r + b) * r + c;
  // A 3×3×3 block, a voxel touching it at a corner only (kept), and a lone voxel and a pair apart (cleared).
  for (let a = 1; a <= 3; a++) for (let b = 1; b <= 3; b++) for (let c = 1; c <= 3; c++) values[at(a, b, c)] = 0.9;
  values[at(4, 4, 4)] = 0.6;
  values[at(7, 0, 7)] = 0.8;
  values[at(6, 6, 0)] = 0.7;
  values[at(6, 7, 0)] = 0.7;
  values[at(0, 7, 7)] = 0.3; // below the level: not a voxel, left as it is
  const { grid, removedVoxels, removedComponents } = keepLargestComponent({ resolution: r, values });
  assert.equal(removedComponents, 2);
  assert.equal(removedVoxels, 3);
  assert.equal(grid.values.filter((value) => value >= 0.5).length, 28);
  assert.equal(grid.values[at(4, 4, 4)], Math.fround(0.6));
  assert.equal(grid.values[at(0, 7, 7)], Math.fround(0.3));
  assert.equal(values[at(7, 0, 7)], Math.fround(0.8), 'the input grid is not changed');
  const empty = keepLargestComponent({ resolution: 2, values: new Float32Array(8) });
  assert.equal(empty.removedComponents, 0);
});
