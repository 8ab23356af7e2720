/**
 * The layering the code keeps (../shared/CONVENTIONS.md): the shells (CLI, server, studio) reach
 * families only through the registry and their declarations, so adding a family touches its folder
 * and one registry line. These checks read the sources: a family name matched as a string in a
 * shell, or the server importing the CLI, fails here with the file and line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { families } from '../src/models/registry.ts';

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ts$/.test(entry.name) && !/\.test(-util)?\.ts$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** Lines of `file` that match `pattern`, outside comments, as "file:line: text". */
function matches(file: string, pattern: RegExp): string[] {
  return readFileSync(join(root, file), 'utf8')
    .split('\n')
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => !/^\s*(\/\/|\*|\/\*)/.test(line) && pattern.test(line))
    .map(({ line, index }) => `${file}:${index + 1}: ${line.trim()}`);
}

test('src/server imports nothing from src/cli', () => {
  const found = sources('src/server').flatMap((file) => matches(file, /from '\.\.\/cli\//));
  assert.deepEqual(found, []);
});

// Commands that are about one family by nature: importing GPT-2 weights, DPO (text preferences).
const familySpecificCommands = new Set(['src/cli/import.ts']);

test('no family name is matched as a string in the server, the studio or the generic CLI commands', () => {
  const names = Object.keys(families).join('|');
  // "music" is also a modality and "video" an HTML element: a name counts where the line is about
  // families (entry.family === 'gan', family: 'vae', const families = ['vae', …]), or as a key of a
  // per-family table (vae: ['images', …]).
  const aboutFamilies = new RegExp(`family.*['"\`](${names})['"\`]|['"\`](${names})['"\`].*family`, 'i');
  const tableKey = new RegExp(`^\\s*['"]?(${names})['"]?\\s*:\\s*[\\[{]`);
  const shells = [...sources('src/server'), ...sources('src/cli'), ...sources('web/src')].filter((file) => !familySpecificCommands.has(file));
  const found = shells.flatMap((file) => [...matches(file, aboutFamilies), ...matches(file, tableKey)]);
  assert.deepEqual(found, []);
});
