/**
 * Triangle meshes: reading .obj/.stl/.ply with three's loaders, and writing OBJ (text) and binary
 * PLY. A `Mesh` is always indexed: STL and unindexed geometry are welded on read (vertices with
 * the same coordinates become one) so that edges can be counted for the manifold check and so
 * the written files stay small.
 */
import nodePath from 'node:path';
import type { BufferGeometry, Mesh as ThreeMesh } from 'three';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import { STLLoader } from 'three/examples/jsm/loaders/STLLoader.js';
import { GenloomError } from '../core/errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readRegularFile } from '../io/regular-file.ts';

export interface Mesh {
  /** x, y, z per vertex. */
  positions: Float32Array;
  /** Three vertex indices per triangle. */
  faces: Uint32Array;
}

export const meshExtensions = ['.obj', '.stl', '.ply'] as const;

/** One triangle soup (three's geometry) as flat positions and indices. */
interface Soup {
  positions: ArrayLike<number>;
  indices: ArrayLike<number> | null;
}

/**
 * Reads a mesh file, chosen by extension, into a welded, indexed Mesh without degenerate
 * triangles. Throws (one line, naming the file) for a missing file, an unknown extension, a FIFO
 * or other non-file, a file over `maxMeshBytes`, an empty file, a header that promises more than
 * the file holds (binary STL, PLY), a file with no triangles, a coordinate that is not a finite
 * number, a file whose triangles all have zero area, and a non-manifold mesh (an edge shared by
 * more than two triangles). Open boundaries (holes) are allowed.
 * @example
 * const mesh = readMesh('bunny.stl'); // mesh.faces.length / 3 triangles
 */
export function readMesh(path: string): Mesh {
  const extension = nodePath.extname(path).toLowerCase();
  if (!(meshExtensions as readonly string[]).includes(extension)) {
    throw new GenloomError('BAD_ARGUMENT', `${path}: unknown mesh extension '${extension || '(none)'}'; use ${meshExtensions.join(', ')}`);
  }
  // A regular file only (a FIFO would block forever), refused by its size before it is read.
  const bytes = readRegularFile(path, { maxBytes: maxMeshBytes, what: 'mesh files' });
  const format = extension.slice(1).toUpperCase();
  if (bytes.length === 0) throw new GenloomError('CORRUPT_FILE', `${path} is empty, not ${format === 'PLY' ? 'a' : 'an'} ${format} file`);
  // What the loaders would allocate from a header (a binary STL's triangle count, a PLY's element
  // counts) is checked against the file's size first: a lying header is refused, not allocated.
  if (extension === '.stl') checkStlSize(path, bytes);
  if (extension === '.ply') checkPlyHeader(path, bytes);
  let soups: Soup[];
  let complaint: string | undefined;
  try {
    // The loaders print a line per line they do not understand: garbage would flood stderr.
    ({ result: soups, complaint } = quietly(() => parseSoups(extension, bytes)));
  } catch (error) {
    // Loaders throw on some malformed input (bad PLY headers) and return nothing on other input.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    throw new GenloomError('CORRUPT_FILE', `${path}: no triangles: not a valid ${format} file? (${printable(reason)})`, { cause: error });
  }
  if (soups.length === 0 && complaint) throw new GenloomError('CORRUPT_FILE', `${path}: no triangles: not a valid ${format} file? (${printable(complaint)})`);
  if (!allFinite(soups)) {
    // three's OBJ loader gives a face's corner that names no vertex of the file NaN coordinates.
    const orMissing = extension === '.obj' ? ', or a face names a vertex the file does not have' : '';
    throw new GenloomError('CORRUPT_FILE', `${path}: a vertex coordinate is not a finite number (NaN, infinite, or beyond float32's ±3.4e38${orMissing})`);
  }
  const welded = weld(soups);
  if (welded.faces.length === 0) throw new GenloomError('CORRUPT_FILE', `${path}: no triangles: not a valid ${format} file?`);
  const mesh = dropDegenerate(welded);
  if (mesh.faces.length === 0) {
    throw new GenloomError('CORRUPT_FILE', `${path}: all ${welded.faces.length / 3} triangles are degenerate (zero area)`);
  }
  const overShared = countOverSharedEdges(mesh);
  if (overShared > 0) {
    throw new GenloomError('CORRUPT_FILE', `${path}: not a manifold mesh: ${overShared} edge${overShared === 1 ? ' is' : 's are'} shared by more than 2 triangles`);
  }
  return mesh;
}

/** The largest mesh file read: a 128 MiB binary STL is 2.7 million triangles, far more than a 128³ grid can show. */
export const maxMeshBytes = 128 * 2 ** 20;

/** Runs `work` with console.warn and console.error silenced; returns its result and the first line they would have printed. */
function quietly<T>(work: () => T): { result: T; complaint: string | undefined } {
  const { warn, error } = console;
  let complaint: string | undefined;
  const keep = (...parts: unknown[]) => {
    complaint ??= parts.map(String).join(' ');
  };
  console.warn = keep;
  console.error = keep;
  try {
    return { result: work(), complaint };
  } finally {
    console.warn = warn;
    console.error = error;
  }
}

/** Text from a file for a one-line message: control characters shown as '?', at most 80 characters. */
function printable(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

function allFinite(soups: Soup[]): boolean {
  for (const { positions } of soups) for (let i = 0; i < positions.length; i++) if (!Number.isFinite(positions[i])) return false;
  return true;
}

/**
 * A binary STL is an 80-byte header, a triangle count and 50 bytes per triangle; three reads a file
 * as ASCII when the count does not fit and "solid" starts it, else as binary, allocating the count's
 * arrays before it reads a triangle. The same rule here, and a count the file has no room for is refused.
 */
function checkStlSize(path: string, bytes: Buffer): void {
  const ascii = bytes.subarray(0, 10).toString('latin1').includes('solid');
  if (bytes.length < 84) {
    if (!ascii) throw new GenloomError('CORRUPT_FILE', `${path}: ${bytes.length} bytes, too short for a binary STL (an 84-byte header) and not ASCII STL ("solid …")`);
    return;
  }
  const triangles = bytes.readUInt32LE(80);
  const needed = 84 + 50 * triangles;
  if (needed === bytes.length || ascii) return;
  if (needed > bytes.length) {
    throw new GenloomError('CORRUPT_FILE', `${path}: its binary STL header promises ${triangles} triangles (${needed} bytes), but the file has ${bytes.length} bytes: it is truncated or not an STL file`);
  }
}

/** Bytes per value of each PLY scalar type. */
const plyTypeBytes: Record<string, number> = {
  char: 1, uchar: 1, int8: 1, uint8: 1, short: 2, ushort: 2, int16: 2, uint16: 2,
  int: 4, uint: 4, int32: 4, uint32: 4, float: 4, float32: 4, double: 8, float64: 8,
};

/**
 * A PLY header declares how many of each element follow; three loops that many times, so a header
 * declaring 2^31 vertices over a few bytes would read past the end or run for minutes. Each element
 * needs at least its row's bytes (binary: the scalar sizes and each list's count; ASCII: a digit and
 * a separator per value), and together they must fit in what follows the header.
 */
function checkPlyHeader(path: string, bytes: Buffer): void {
  const corrupt = (problem: string) => new GenloomError('CORRUPT_FILE', `${path}: ${problem}`);
  if (bytes.subarray(0, 3).toString('latin1') !== 'ply') throw corrupt('not a PLY file (it does not start with "ply")');
  const head = bytes.subarray(0, 65_536).toString('latin1');
  const end = /end_header[^\n]*\n/.exec(head);
  if (!end) throw corrupt('not a valid PLY file: no "end_header" line in its first 64 KiB');
  const lines = head.slice(0, end.index).split(/\r?\n/).map((line) => line.trim().split(/\s+/));
  const format = lines.find((words) => words[0] === 'format')?.[1];
  if (format !== 'ascii' && format !== 'binary_little_endian' && format !== 'binary_big_endian') throw corrupt(`not a valid PLY file: format "${printable(format ?? '(none)')}"`);
  const elements: { name: string; count: number; rowBytes: number }[] = [];
  for (const words of lines) {
    if (words[0] === 'element') {
      const count = Number(words[2]);
      if (!Number.isInteger(count) || count < 0) throw corrupt(`its header declares ${printable(words[2] ?? '(nothing)')} ${printable(words[1] ?? '')} elements, not a whole number`);
      elements.push({ name: words[1] ?? '', count, rowBytes: 0 });
    } else if (words[0] === 'property' && elements.length > 0) {
      const element = elements[elements.length - 1]!;
      const type = words[1] === 'list' ? words[2] : words[1];
      element.rowBytes += format === 'ascii' ? 2 : (plyTypeBytes[type ?? ''] ?? 1);
    }
  }
  const body = bytes.length - (end.index + end[0].length);
  let needed = 0;
  for (const element of elements) {
    needed += element.count * element.rowBytes;
    if (needed > body) {
      throw corrupt(`its header declares ${element.count} ${printable(element.name)} elements, which need at least ${needed} bytes, but ${body} follow the header: it is truncated or its header is wrong`);
    }
  }
}

function parseSoups(extension: string, bytes: Buffer): Soup[] {
  const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const fromGeometry = (geometry: BufferGeometry): Soup | null => {
    const position = geometry.getAttribute('position');
    if (!position || position.count === 0) return null;
    return { positions: position.array as ArrayLike<number>, indices: geometry.index ? (geometry.index.array as ArrayLike<number>) : null };
  };
  if (extension === '.obj') {
    const soups: Soup[] = [];
    // OBJLoader also yields Lines and Points for `l`/`p` records; only triangle meshes count.
    new OBJLoader().parse(bytes.toString('utf8')).traverse((object) => {
      // `isMesh`, not instanceof: three can load as both its ESM and CJS builds, two Mesh classes.
      if ((object as ThreeMesh).isMesh) {
        const soup = fromGeometry((object as ThreeMesh).geometry);
        if (soup) soups.push(soup);
      }
    });
    return soups;
  }
  const geometry = extension === '.stl' ? new STLLoader().parse(arrayBuffer) : new PLYLoader().parse(arrayBuffer);
  const soup = fromGeometry(geometry);
  return soup ? [soup] : [];
}

/** Merges vertices with identical coordinates (STL repeats them per triangle) into one index. */
function weld(soups: Soup[]): Mesh {
  const indexOf = new Map<string, number>();
  const positions: number[] = [];
  const faces: number[] = [];
  for (const soup of soups) {
    const vertexCount = Math.floor(soup.positions.length / 3);
    const remap = new Uint32Array(vertexCount);
    for (let v = 0; v < vertexCount; v++) {
      const x = Math.fround(soup.positions[3 * v]);
      const y = Math.fround(soup.positions[3 * v + 1]);
      const z = Math.fround(soup.positions[3 * v + 2]);
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) {
        remap[v] = 0xffffffff; // (readMesh refuses non-finite coordinates first) its triangles are dropped below
        continue;
      }
      const key = `${x},${y},${z}`;
      let index = indexOf.get(key);
      if (index === undefined) {
        index = positions.length / 3;
        indexOf.set(key, index);
        positions.push(x, y, z);
      }
      remap[v] = index;
    }
    const cornerCount = soup.indices ? soup.indices.length : vertexCount;
    for (let corner = 0; corner + 2 < cornerCount; corner += 3) {
      const a = remap[soup.indices ? soup.indices[corner] : corner];
      const b = remap[soup.indices ? soup.indices[corner + 1] : corner + 1];
      const c = remap[soup.indices ? soup.indices[corner + 2] : corner + 2];
      if (a === undefined || b === undefined || c === undefined) continue; // index out of range
      faces.push(a, b, c);
    }
  }
  return { positions: Float32Array.from(positions), faces: Uint32Array.from(faces) };
}

/** Removes triangles with a repeated, invalid (NaN) vertex or zero area. */
function dropDegenerate(mesh: Mesh): Mesh {
  const { positions, faces } = mesh;
  const kept: number[] = [];
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f];
    const b = faces[f + 1];
    const c = faces[f + 2];
    if (a === 0xffffffff || b === 0xffffffff || c === 0xffffffff || a === b || b === c || a === c) continue;
    const ux = positions[3 * b] - positions[3 * a];
    const uy = positions[3 * b + 1] - positions[3 * a + 1];
    const uz = positions[3 * b + 2] - positions[3 * a + 2];
    const vx = positions[3 * c] - positions[3 * a];
    const vy = positions[3 * c + 1] - positions[3 * a + 1];
    const vz = positions[3 * c + 2] - positions[3 * a + 2];
    const cx = uy * vz - uz * vy;
    const cy = uz * vx - ux * vz;
    const cz = ux * vy - uy * vx;
    if (cx * cx + cy * cy + cz * cz > 0) kept.push(a, b, c);
  }
  return { positions, faces: Uint32Array.from(kept) };
}

/** Number of edges used by more than two triangles (each such edge counted once). */
export function countOverSharedEdges(mesh: Mesh): number {
  const vertexCount = mesh.positions.length / 3;
  const uses = new Map<number, number>();
  const { faces } = mesh;
  for (let f = 0; f < faces.length; f += 3) {
    for (let k = 0; k < 3; k++) {
      const a = faces[f + k];
      const b = faces[f + ((k + 1) % 3)];
      // min·n + max is unique per undirected edge and exact below 2^53 (n < 9·10^7 vertices).
      const key = Math.min(a, b) * vertexCount + Math.max(a, b);
      uses.set(key, (uses.get(key) ?? 0) + 1);
    }
  }
  let count = 0;
  for (const value of uses.values()) if (value > 2) count++;
  return count;
}

/** Shortest decimal that reads back as the same float32, so files stay small but exact. */
function formatFloat(value: number): string {
  return String(Number(value.toPrecision(9)));
}

/**
 * The mesh as Wavefront OBJ text: a comment naming genloom, then `v x y z` and 1-based `f a b c`.
 * @example
 * fs.writeFileSync('shape.obj', encodeObj(marchingCubes(grid)));
 */
export function encodeObj(mesh: Mesh): string {
  const { positions, faces } = mesh;
  const lines = [`# written by genloom: ${positions.length / 3} vertices, ${faces.length / 3} triangles`];
  for (let v = 0; v < positions.length; v += 3) {
    lines.push(`v ${formatFloat(positions[v])} ${formatFloat(positions[v + 1])} ${formatFloat(positions[v + 2])}`);
  }
  for (let f = 0; f < faces.length; f += 3) lines.push(`f ${faces[f] + 1} ${faces[f + 1] + 1} ${faces[f + 2] + 1}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The mesh as binary little-endian PLY: `vertex` with float x, y, z and `face` with a uchar count
 * and int indices (the layout most tools, MeshLab and Blender included, read).
 * @example
 * fs.writeFileSync('shape.ply', encodePly(mesh));
 */
export function encodePly(mesh: Mesh): Buffer {
  const vertexCount = mesh.positions.length / 3;
  const faceCount = mesh.faces.length / 3;
  const header = [
    'ply',
    'format binary_little_endian 1.0',
    'comment written by genloom',
    `element vertex ${vertexCount}`,
    'property float x',
    'property float y',
    'property float z',
    `element face ${faceCount}`,
    'property list uchar int vertex_indices',
    'end_header',
    '',
  ].join('\n');
  const headerBytes = Buffer.from(header, 'ascii');
  const body = Buffer.alloc(vertexCount * 12 + faceCount * 13);
  let offset = 0;
  for (let i = 0; i < mesh.positions.length; i++, offset += 4) body.writeFloatLE(mesh.positions[i], offset);
  for (let f = 0; f < mesh.faces.length; f += 3) {
    body.writeUInt8(3, offset);
    body.writeInt32LE(mesh.faces[f], offset + 1);
    body.writeInt32LE(mesh.faces[f + 1], offset + 5);
    body.writeInt32LE(mesh.faces[f + 2], offset + 9);
    offset += 13;
  }
  return Buffer.concat([headerBytes, body]);
}

/**
 * Writes `${basePath}.obj` and `${basePath}.ply`. Both are encoded before either is written, and
 * each is written atomically, so a failure never leaves a half-written file.
 * @example
 * writeMeshFiles('out/chair-3', mesh); // → { obj: 'out/chair-3.obj', ply: 'out/chair-3.ply' }
 */
export function writeMeshFiles(basePath: string, mesh: Mesh): { obj: string; ply: string } {
  const objText = encodeObj(mesh);
  const plyBytes = encodePly(mesh);
  const paths = { obj: `${basePath}.obj`, ply: `${basePath}.ply` };
  writeFileAtomic(paths.obj, objText);
  writeFileAtomic(paths.ply, plyBytes);
  return paths;
}
