/**
 * Running the real bin as a user does, for the CLI tests: a child process per command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../bin/genloom.js', import.meta.url));

export function genloom(...args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GENLOOM_BACKEND: '' } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function ok(...args: string[]): string {
  const result = genloom(...args);
  assert.equal(result.code, 0, `genloom ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** A failure ends with one error line that matches `pattern`, with no stack trace. */
export function fails(pattern: RegExp, ...args: string[]): void {
  const result = genloom(...args);
  assert.notEqual(result.code, 0, `genloom ${args.join(' ')} should fail`);
  const errorLines = result.stderr.trim().split('\n').filter((line) => /error|genloom: (?!training|resuming)/i.test(line));
  assert.equal(errorLines.length, 1, `one line of error, got:\n${result.stderr}`);
  assert.match(errorLines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}
