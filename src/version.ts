import { createRequire } from 'node:module';

/** The package version, recorded in every checkpoint. */
export const genloomVersion: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
