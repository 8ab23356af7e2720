#!/usr/bin/env node
// The genloom command. The TypeScript sources run through tsx's loader: no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
