/**
 * A fuzz of every route /openapi.json describes, generated from its own schemas: for each route a
 * valid-looking request, then every field in turn set to a wrong type, a huge or negative number, a
 * long string, a path-like or prototype name, removed; every path parameter set to traversal and
 * prototype names; bodies that are not JSON, not objects, too large or too deep. Whatever comes
 * back must be a 2xx or a 4xx in genloom's one error shape, `{ error: { code, message } }` with a
 * one-line message that names no folder of the server — never a 5xx — and the server must still
 * answer afterwards. A tight per-request budget keeps the valid requests among them cheap.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../../src/io/image.ts';
import { resolveServerOptions, startServer, type StudioServer } from '../../src/server/app.ts';
import { tempDir } from '../fixtures.ts';

const shippedModels = fileURLToPath(new URL('../../models/', import.meta.url));
let server: StudioServer;
let runsDir: string;
let modelsDir: string;

before(async () => {
  runsDir = tempDir('genloom-fuzz-runs-');
  modelsDir = tempDir('genloom-fuzz-models-');
  for (const name of ['vae-mnist', 'transformer-kjv', 'pixelcnn-mnist']) cpSync(join(shippedModels, name), join(modelsDir, name), { recursive: true });
  server = await startServer(resolveServerOptions({
    modelsDir,
    runsDir,
    port: 0,
    limits: { maxBodyBytes: 64 * 1024, maxRequestGmac: 50, maxRequestSeconds: 20, maxTrainingSteps: 2, jobQueueDepth: 1, queueDepth: 4 },
  }));
});

after(async () => {
  await server.close();
  rmSync(runsDir, { recursive: true, force: true });
  rmSync(modelsDir, { recursive: true, force: true });
});

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  default?: unknown;
  $ref?: string;
}

const tinyPng = encodePng({ width: 28, height: 28, channels: 1, data: new Float32Array(784).fill(0.5) }).toString('base64');

/** A value the schema accepts, as plainly as possible (the start every mutation changes one thing of). */
function sample(schema: JsonSchema, key = ''): unknown {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return sample(options[0]!, key);
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1, schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'string':
      return key === 'png' ? tinyPng : 'x';
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items ?? {}, key));
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const required of schema.required ?? []) value[required] = sample(schema.properties?.[required] ?? {}, required);
      return value;
    }
    default:
      return null;
  }
}

const longString = 'é'.repeat(20_000);
/** What each field is set to in turn. */
const hostileValues: unknown[] = [
  null, true, 'x', '', -1, 0, 1e308, -1e308, 2 ** 53 + 1, 0.5, [], [1, 2, 3], {}, longString,
  '../../../etc/passwd', '/etc/passwd', '__proto__', 'constructor', 'upload:../../x', 'upload:000000000000', { __proto__: { polluted: 1 } }, Array.from({ length: 5000 }, () => 1),
];
/** What each path parameter is set to in turn (already URL-encoded where it matters). */
const hostileNames = ['..', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2Fetc%2Fpasswd', 'a'.repeat(300), '__proto__', 'constructor', 'toString', '%00', '%E0%A4%A', encodeURIComponent('😀'), '.', 'vae-mnist%2F..', 'vae-mnist.old', 'feedback.db'];

interface Case {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
}

function deepNesting(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

function casesOf(document: { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema?: JsonSchema }> } }>> }): Case[] {
  const cases: Case[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const pathParams = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
      const validName = (param: string) => (param === 'name' ? 'vae-mnist' : param === 'file' ? 'config.json' : 'no-such-job');
      const fill = (values: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, param: string) => values[param] ?? validName(param));
      const json = operation.requestBody?.content['application/json']?.schema;
      const base = json ? (sample(json) as Record<string, unknown>) : undefined;
      const send = (path: string, body?: unknown) => cases.push({ method: method.toUpperCase(), path, ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' }) });

      send(fill({}), base);
      for (const param of pathParams) for (const name of hostileNames) send(fill({ [param]: name }), base);
      if (operation.parameters?.some((parameter) => parameter.in === 'query')) {
        for (const value of hostileNames) cases.push({ method: method.toUpperCase(), path: `${fill({})}?model=${value}&token=${value}` });
      }
      if (!json || !base) {
        if (method !== 'get') cases.push({ method: method.toUpperCase(), path: fill({}), body: '{"unexpected": true}', contentType: 'application/json' });
        continue;
      }
      // The models whose generation is slow (PixelCNN) and text: the same fields, other code paths.
      if (template.includes('{name}')) for (const model of ['pixelcnn-mnist', 'transformer-kjv']) send(fill({ name: model }), base);
      for (const key of Object.keys(json.properties ?? {})) {
        for (const value of hostileValues) send(fill({}), { ...base, [key]: value });
        const { [key]: _removed, ...without } = base;
        send(fill({}), without);
      }
      for (const body of [{}, [], null, 'text', 42, { ...base, extra: 1 }, JSON.parse('{"__proto__": {"polluted": true}}'), { constructor: { prototype: { polluted: true } } }]) send(fill({}), body);
      const raw = (body: string, contentType?: string) => cases.push({ method: method.toUpperCase(), path: fill({}), body, ...(contentType ? { contentType } : {}) });
      raw('{', 'application/json');
      raw('', 'application/json');
      raw('{"n": 1}', 'text/plain');
      raw(deepNesting(5000), 'application/json');
      raw(`{"x":"${'a'.repeat(70 * 1024)}"}`, 'application/json');
      raw('\u0000\u0001binary', 'application/octet-stream');
    }
  }
  return cases;
}

async function send(item: Case): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${item.path}`, {
    method: item.method,
    headers: item.contentType ? { 'content-type': item.contentType } : {},
    ...(item.body !== undefined && item.method !== 'GET' && item.method !== 'HEAD' ? { body: item.body } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, text: await response.text() };
}

test('every route of /openapi.json, fuzzed from its schemas, answers 2xx or a 4xx in the one error shape, naming no server folder', { timeout: 300_000 }, async () => {
  const document = await (await fetch(`${server.url}/openapi.json`)).json();
  const cases = casesOf(document);
  assert.ok(cases.length > 1500, `only ${cases.length} cases`);
  const routes = new Set(cases.map((item) => `${item.method} ${item.path.split('?')[0]!.replace(/\/(vae-mnist|pixelcnn-mnist|transformer-kjv|no-such-job|config\.json)(?=\/|$)/g, '/{}')}`));
  assert.ok(routes.size >= 27, `cases reach ${routes.size} routes`);
  const failures: string[] = [];
  const started = Date.now();
  // Four at a time, as a few clients would.
  for (let index = 0; index < cases.length; index += 4) {
    await Promise.all(cases.slice(index, index + 4).map(async (item) => {
      const { status, text } = await send(item);
      if (process.env["FUZZ_LOG"]) console.error(status, item.method, item.path.slice(0, 60), (item.body ?? "").slice(0, 50), text.slice(0, 120));
      const shown = `${item.method} ${item.path.slice(0, 80)} ${item.body?.slice(0, 60) ?? ''} → ${status} ${text.slice(0, 160)}`;
      if (status >= 500) failures.push(shown);
      else if (status >= 400 && !item.path.includes('/events')) {
        let body: { error?: { code?: unknown; message?: unknown } } | undefined;
        try {
          body = JSON.parse(text);
        } catch {
          failures.push(`not JSON: ${shown}`);
          return;
        }
        if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string' || body.error.message.includes('\n')) failures.push(`not { error: { code, message } }: ${shown}`);
      }
      if (text.includes(runsDir) || text.includes(modelsDir) || text.includes(process.cwd())) failures.push(`names a server folder: ${shown}`);
    }));
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} cases failed`);
  const health = await send({ method: 'GET', path: '/api/health' });
  assert.equal(health.status, 200);
  assert.ok(Date.now() - started < 240_000, 'the fuzz ran in bounded time');
});
