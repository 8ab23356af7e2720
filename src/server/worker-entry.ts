/**
 * The file a worker thread runs, beside the module that starts it: `name.ts` when the server runs
 * from its TypeScript sources, `name.js` when it runs compiled (dist/, an installed package).
 */
export function workerEntry(name: string, startedFrom: string): URL {
  return new URL(`./${name}${startedFrom.endsWith('.ts') ? '.ts' : '.js'}`, startedFrom);
}
