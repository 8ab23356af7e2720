/**
 * Video and 3-D shapes as a user runs them: train tiny models, sample clips and meshes, morph
 * between two meshes, evaluate, and the bad input of issue 10.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fails, ok } from '../../test/cli.ts';
import { tempDir } from '../../test/fixtures.ts';
import { readImage } from '../io/image.ts';
import { readMesh } from '../shapes/mesh.ts';

const root = tempDir();
const out = (name: string) => join(root, name);

test('video: train a tiny clip model, sample clips of named digits as GIF + MP4 + strip, the same seed twice; wrong lengths and prompts fail', () => {
  const model = out('vid');
  ok('--quiet', 'train', 'video', '--dataset', 'moving-mnist', '--preset', 'tiny', '--frames', '4', '--steps', '2', '--batch-size', '2', '--out', model, '--seed', '1');
  const said = ok('--quiet', 'sample', model, '--prompt', 'a 3 and a 7 bouncing', '--n', '2', '--seed', '1', '--out', out('clips'));
  assert.match(said, /wrote 2 4-frame clips of 3 and 7/);
  const files = readdirSync(out('clips')).sort();
  assert.deepEqual(files, ['clip-000.gif', 'clip-000.mp4', 'clip-000.png', 'clip-001.gif', 'clip-001.mp4', 'clip-001.png']);
  assert.equal(readFileSync(out('clips/clip-000.gif')).subarray(0, 6).toString(), 'GIF89a');
  assert.equal(readFileSync(out('clips/clip-000.mp4')).subarray(4, 8).toString(), 'ftyp');
  assert.ok(readImage(out('clips/clip-000.png')).width > 4 * 64, 'a strip of four 64-pixel frames, side by side');
  ok('--quiet', 'sample', model, '--label', '3,7', '--n', '2', '--seed', '1', '--out', out('again'));
  assert.deepEqual(readFileSync(out('again/clip-001.gif')), readFileSync(out('clips/clip-001.gif')), '--label 3,7 is the prompt, and the same seed gives the same clip');

  fails(/trained for 4-frame clips; it cannot make --frames 16/, 'sample', model, '--frames', '16', '--out', out('z'));
  fails(/names 1 label \(3\); this model shows 2 per clip/, 'sample', model, '--prompt', 'a 3', '--out', out('z'));
  fails(/--label "3" names 1 digit; .* shows 2 per clip/, 'sample', model, '--label', '3', '--out', out('z'));
  fails(/--out is a folder/, 'sample', model, '--out', out('clip.gif'));
  fails(/--truncation is not for .*, a video model/, 'sample', model, '--truncation', '0.5', '--out', out('z'));
  fails(/moving-mnist/, 'train', 'video', '--dataset', 'mnist', '--steps', '1', '--out', out('vid-bad'));

  const report = JSON.parse(ok('--quiet', 'eval', model, '--json', '--limit', '4', '--samples', '100')) as Record<string, unknown>;
  assert.equal(report['family'], 'video');
  assert.ok(JSON.stringify(report).includes('psnr') || JSON.stringify(report).includes('PSNR'), 'per-frame image figures');
});

test('shapes: train tiny VAE and diffusion voxel models, sample labelled meshes that parse back, morph between two meshes; bad meshes and sizes fail', () => {
  const vae = out('shp');
  ok('--quiet', 'train', 'shape', '--dataset', 'shapes', '--family', 'vae', '--preset', 'tiny', '--resolution', '16', '--steps', '2', '--batch-size', '4', '--out', vae, '--seed', '1');
  assert.match(ok('--quiet', 'sample', vae, '--label', 'torus', '--n', '2', '--seed', '1', '--out', out('shapes')), /wrote 2 shapes \(torus\)/);
  for (const name of ['shape-000.obj', 'shape-000.ply', 'shape-001.obj', 'shape-001.ply', 'preview.png']) assert.ok(existsSync(out(`shapes/${name}`)), name);
  const obj = readFileSync(out('shapes/shape-000.obj'), 'utf8');
  if (/^f /m.test(obj)) {
    // An untrained model may decode to nothing above the threshold; when it makes a surface, it must read back.
    assert.equal(readMesh(out('shapes/shape-000.obj')).faces.length, readMesh(out('shapes/shape-000.ply')).faces.length, 'OBJ and PLY hold the same triangles');
  }
  fails(/unknown label "teapot"/, 'sample', vae, '--label', 'teapot', '--out', out('z'));

  // Two meshes of the user's: a tetrahedron (OBJ) and a cube (ASCII STL), morphed through the VAE.
  writeFileSync(out('a.obj'), 'v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n');
  writeFileSync(out('b.stl'), cubeStl());
  assert.match(ok('--quiet', 'interpolate', vae, '--from', out('a.obj'), '--to', out('b.stl'), '--label', 'cube', '--frames', '3', '--out', out('morph.gif')), /wrote 3 frames/);
  assert.equal(readFileSync(out('morph.gif')).subarray(0, 6).toString(), 'GIF89a');
  assert.ok(existsSync(out('morph.png')), 'a strip beside the GIF');

  writeFileSync(out('bad.obj'), 'this is not a mesh\n');
  fails(/bad\.obj.*no triangles/, 'interpolate', vae, '--from', out('bad.obj'), '--to', out('b.stl'), '--label', 'cube', '--out', out('z.gif'));
  writeFileSync(out('fin.obj'), 'v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 2 5\n');
  fails(/not a manifold mesh: 1 edge is shared by more than 2 triangles/, 'interpolate', vae, '--from', out('fin.obj'), '--to', out('b.stl'), '--label', 'cube', '--out', out('z.gif'));
  fails(/--resolution 512 needs .*MiB/, 'train', 'shape', '--dataset', 'shapes', '--resolution', '512', '--steps', '1', '--out', out('huge'));
  assert.ok(!existsSync(out('huge/config.json')), 'nothing written for a refused size');

  const diffusion = out('shp-diff');
  ok('--quiet', 'train', 'shape', '--dataset', 'shapes', '--family', 'diffusion', '--preset', 'tiny', '--resolution', '16', '--steps', '2', '--batch-size', '4', '--out', diffusion, '--seed', '1');
  ok('--quiet', 'sample', diffusion, '--label', 'sphere', '--n', '1', '--steps', '3', '--seed', '2', '--out', out('diff-shapes'));
  assert.ok(existsSync(out('diff-shapes/preview.png')));
  fails(/no encoder to interpolate through: train one with --family vae/, 'interpolate', diffusion, '--seed-from', '1', '--seed-to', '2', '--out', out('z.gif'));

  const report = JSON.parse(ok('--quiet', 'eval', vae, '--json', '--limit', '8', '--samples', '100')) as Record<string, unknown>;
  assert.equal(report['family'], 'shape');
  assert.match(JSON.stringify(report), /iou/i, 'reconstruction IoU');
  assert.match(JSON.stringify(report), /coverage/i);
});

function cubeStl(): string {
  const corners = [
    [0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1],
  ];
  const quads = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [2, 3, 7, 6], [1, 2, 6, 5], [0, 4, 7, 3]];
  const facets = quads.flatMap(([a, b, c, d]) => [[a, b, c], [a, c, d]]).map((triangle) =>
    `facet normal 0 0 0\nouter loop\n${triangle.map((i) => `vertex ${corners[i!]!.join(' ')}`).join('\n')}\nendloop\nendfacet`);
  return `solid cube\n${facets.join('\n')}\nendsolid cube\n`;
}
