// Worker threads start here with the entry named in workerData.entry: a TypeScript entry (a
// checkout run from its sources, or a test's stand-in) goes through tsx's loader, as bin/genloom.js
// does; a compiled one (dist/, an installed package) is imported as it is. scripts/build.mjs copies
// this file into dist/server/.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
