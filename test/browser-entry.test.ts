/**
 * `genloom/browser` must stay browser-safe: no module it reaches imports `node:*` or a Node builtin.
 * The walk follows the imports that survive compilation: each source is transpiled as tsc emits it
 * (type-only imports and re-exports are erased), then its static and dynamic imports are read.
 * Transpiling one file at a time keeps an import whose names are all types but that is not marked
 * `import type`, so the walk is stricter than the emitted dist/, never looser.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Packages that may be reached: only ones known to run in a browser (the studio bundles them). */
// zod validates the families' configs (and the HTTP contract the studio compiles against).
const browserPackages = new Set(['@tensorflow/tfjs', '@tensorflow/tfjs-core', 'zod']);

function runtimeImports(file: string): string[] {
  const emitted = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, allowImportingTsExtensions: true },
  }).outputText;
  return ts.preProcessFile(emitted, true, true).importedFiles.map((imported) => imported.fileName);
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Every module `entry` reaches at run time, and what in that graph is not browser-safe. */
function walk(entry: string): { modules: string[]; problems: string[] } {
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const from = relative(root, file);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else if (specifier.startsWith('node:') || builtinModules.includes(packageName(specifier))) problems.push(`${from} imports the Node builtin ${specifier}`);
      else if (!browserPackages.has(packageName(specifier))) problems.push(`${from} imports ${specifier}, not known to be browser-safe`);
    }
  };
  visit(resolve(root, entry));
  return { modules: [...seen].map((file) => relative(root, file)).sort(), problems };
}

test('src/browser.ts reaches no Node builtin and no package outside the browser list', () => {
  const { modules, problems } = walk('src/browser.ts');
  assert.deepEqual(problems, []);
  // The families' builders too (src/models/builders.ts): the studio bundles the networks loadModel builds.
  for (const module of ['src/core/random.ts', 'src/core/errors.ts', 'src/io/checkpoint-format.ts', 'src/io/safetensors-format.ts', 'src/models/builders.ts', 'src/models/vae/build.ts', 'src/models/gan/build.ts', 'src/models/diffusion/build.ts', 'src/models/transformer/build.ts']) {
    assert.ok(modules.includes(module), `the walk reaches ${module} (got ${modules.join(', ')})`);
  }
  // Type-only imports are not followed: the contract's types name Node-side modules (checkpoint.ts).
  assert.ok(!modules.includes('src/io/checkpoint.ts') && !modules.includes('src/models/family.ts'));
});

test('the walk catches Node imports where they exist: the Node entry src/index.ts reaches node:fs', () => {
  const { problems } = walk('src/index.ts');
  assert.ok(problems.some((problem) => /src\/io\/checkpoint\.ts imports the Node builtin node:fs/.test(problem)), problems.join('\n'));
});
