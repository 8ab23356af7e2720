import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { describe, it } from 'node:test';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import * as tf from '../core/tf.ts';
import { marchingCubes } from './marching-cubes.ts';
import { encodeObj, encodePly } from './mesh.ts';
import { proceduralShape, shapeLabelNames } from './procedural.ts';
import { renderMesh, renderMeshes } from './render.ts';
import { builtinShapeDataset, gatherVoxels, gridOf, loadShapeDataset } from './shape-dataset.ts';
import { voxelIou } from './voxelize.ts';

const temporary = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'genloom-shape-data-'));
process.on('exit', () => fs.rmSync(temporary, { recursive: true, force: true }));

function expectError(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof GenloomError && error.code === code && pattern.test(error.message) && !error.message.includes('\n'));
}

const count = (values: ArrayLike<number>) => Array.from(values).reduce((sum, value) => sum + value, 0);

describe('procedural shapes', () => {
  it('are exact 0/1, reproducible by seed, and differ across labels and seeds', () => {
    const grids = shapeLabelNames.map((_, label) => proceduralShape(label, fromSeed(11).fork(label), 16));
    for (const [label, grid] of grids.entries()) {
      assert.ok(grid.values.every((value) => value === 0 || value === 1));
      assert.ok(count(grid.values) > 40, `${shapeLabelNames[label]} survives at 16³ (${count(grid.values)} voxels)`);
      assert.deepEqual(proceduralShape(label, fromSeed(11).fork(label), 16).values, grid.values);
      assert.notDeepEqual(proceduralShape(label, fromSeed(12).fork(label), 16).values, grid.values);
    }
    for (let a = 0; a < grids.length; a++) {
      for (let b = a + 1; b < grids.length; b++) assert.ok(voxelIou(grids[a], grids[b]) < 0.95, `${shapeLabelNames[a]} vs ${shapeLabelNames[b]}`);
    }
  });

  it('keep a one-voxel empty margin on every face of the grid', () => {
    const r = 16;
    for (let label = 0; label < shapeLabelNames.length; label++) {
      for (let seed = 0; seed < 5; seed++) {
        const { values } = proceduralShape(label, fromSeed(seed), r);
        for (let x = 0; x < r; x++) {
          for (let y = 0; y < r; y++) {
            for (let z = 0; z < r; z++) {
              if (x === 0 || y === 0 || z === 0 || x === r - 1 || y === r - 1 || z === r - 1) assert.equal(values[(x * r + y) * r + z], 0);
            }
          }
        }
      }
    }
  });

  it('reject an unknown label', () => {
    expectError(() => proceduralShape(7, fromSeed(1), 16), 'BAD_ARGUMENT', /0 to 6/);
  });
});

describe('shape datasets', () => {
  it("'shapes' cycles labels evenly, is reproducible by seed and split, and batches to [B, r, r, r, 1]", () => {
    const train = loadShapeDataset(builtinShapeDataset, { split: 'train', resolution: 16, count: 14, seed: 4 });
    assert.equal(train.count, 14);
    assert.deepEqual(Array.from(train.labels!), [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(train.labelNames, [...shapeLabelNames]);
    assert.equal(train.voxels.length, 14 * 16 ** 3);
    assert.deepEqual(gridOf(train, 3).values, proceduralShape(3, fromSeed(4).fork('train', 3), 16).values);
    const test = loadShapeDataset('shapes', { split: 'test', resolution: 16, count: 2, seed: 4 });
    assert.notDeepEqual(gridOf(test, 0).values, gridOf(train, 0).values);
    const before = tf.memory().numTensors;
    const batch = gatherVoxels(train, [2, 5]);
    assert.deepEqual(batch.shape, [2, 16, 16, 16, 1]);
    assert.deepEqual(batch.dataSync().slice(0, 16 ** 3), gridOf(train, 2).values);
    batch.dispose();
    assert.equal(tf.memory().numTensors, before);
    expectError(() => gridOf(train, 14), 'BAD_ARGUMENT', /out of range/);
  });

  it('defaults to 2000 train / 300 test shapes and checks the resolution first', () => {
    expectError(() => loadShapeDataset('shapes', { split: 'train', resolution: 4096 }), 'BAD_ARGUMENT', /GiB as float32/);
    expectError(() => loadShapeDataset('shapes', { split: 'train', resolution: 128 }), 'BAD_ARGUMENT', /2000 shapes .* lower --count/);
    expectError(() => loadShapeDataset('shapes', { split: 'test', resolution: 128, count: 600 }), 'BAD_ARGUMENT', /600 shapes/);
  });

  it('a folder of meshes: subfolders name labels; other files are skipped', () => {
    const root = nodePath.join(temporary, 'furniture');
    const sphere = marchingCubes(proceduralShape(0, fromSeed(1), 16));
    const cube = marchingCubes(proceduralShape(1, fromSeed(1), 16));
    fs.mkdirSync(nodePath.join(root, 'round'), { recursive: true });
    fs.mkdirSync(nodePath.join(root, 'square'), { recursive: true });
    fs.writeFileSync(nodePath.join(root, 'round', 'a.obj'), encodeObj(sphere));
    fs.writeFileSync(nodePath.join(root, 'round', 'a.mtl'), 'newmtl x\n');
    fs.writeFileSync(nodePath.join(root, 'square', 'b.ply'), encodePly(cube));
    fs.writeFileSync(nodePath.join(root, 'square', 'c.obj'), encodeObj(cube));
    const data = loadShapeDataset(root, { split: 'train', resolution: 16 });
    assert.equal(data.count, 3);
    assert.deepEqual(data.labelNames, ['round', 'square']);
    assert.deepEqual(Array.from(data.labels!), [0, 1, 1]);
    assert.ok(count(gridOf(data, 0).values) > 500, 'voxelized solid');
    const single = loadShapeDataset(nodePath.join(root, 'square', 'c.obj'), { split: 'test', resolution: 16 });
    assert.equal(single.count, 1);
    assert.equal(single.labels, undefined);
  });

  it('errors: an empty folder names the extensions; a bare word lists shapes', () => {
    const empty = nodePath.join(temporary, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    fs.writeFileSync(nodePath.join(empty, 'notes.txt'), 'nothing');
    expectError(() => loadShapeDataset(empty, { split: 'train', resolution: 16 }), 'EMPTY_DATASET', /empty has no mesh files \(\.obj, \.stl, \.ply\)/);
    expectError(() => loadShapeDataset('chairs', { split: 'train', resolution: 16 }), 'NOT_FOUND', /'chairs' is neither 'shapes'/);
  });
});

describe('renderMesh', () => {
  const cube = marchingCubes(proceduralShape(1, fromSeed(2), 16));
  const background = renderMesh({ positions: new Float32Array(0), faces: new Uint32Array(0) }, { size: 32 }).data[0];

  it('draws the shape in the centre and leaves the corners as background', () => {
    const size = 64;
    const image = renderMesh(cube, { size });
    assert.equal(image.channels, 3);
    assert.equal(image.data.length, size * size * 3);
    const pixel = (x: number, y: number) => image.data[(y * size + x) * 3];
    assert.notEqual(pixel(32, 32), background);
    for (const [x, y] of [[0, 0], [63, 0], [0, 63], [63, 63]]) assert.equal(pixel(x, y), background);
    assert.ok(image.data.every((value) => value >= 0 && value <= 1));
  });

  it('is deterministic, and yaw changes the view', () => {
    const first = renderMesh(cube, { size: 48, yaw: 0.3 });
    assert.deepEqual(renderMesh(cube, { size: 48, yaw: 0.3 }).data, first.data);
    assert.notDeepEqual(renderMesh(cube, { size: 48, yaw: 1.1 }).data, first.data);
  });

  it('an empty mesh renders the background; renderMeshes tiles previews', () => {
    const empty = renderMesh({ positions: new Float32Array(0), faces: new Uint32Array(0) }, { size: 16 });
    assert.ok(empty.data.every((value, index) => value === empty.data[index % 3]));
    const grid = renderMeshes([cube, cube, cube], { size: 20, columns: 2 });
    assert.equal(grid.width, 2 * 20 + 3 * 2);
    assert.equal(grid.height, 2 * 20 + 3 * 2);
    expectError(() => renderMesh(cube, { size: 0 }), 'BAD_ARGUMENT', /size/);
  });
});
