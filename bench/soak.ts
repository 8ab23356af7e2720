/**
 * `npm run bench -- soak [--quick]`: does the studio server's memory stay flat under a long mix of
 * good and hostile requests? The real `genloom serve` runs as a child process on loopback (port 0)
 * against the repo's models/ folder (read only; runs and feedback go to a temporary folder), and
 * its resident memory is read from /proc/<pid>/status (VmRSS) every few seconds. A child, not the
 * server in this process: the clients' own buffers would otherwise be counted, and the generation
 * worker is a thread of the server, so the child's RSS is the server's whole footprint.
 *
 * For about 3 minutes (`--quick`: 30 s) a few clients generate with every model that generates
 * (small n, few steps), decode and draw latents where a model has them, and encode a small image
 * where it has an encoder; one more client sends what must be refused: a ~70-byte PNG whose header
 * declares 30000×30000 pixels, a JSON body over the server's limit, unknown models and routes, a
 * rating of an unknown sample. The models are taken from the catalog's capabilities, not by name.
 *
 * The 30000×30000 PNG is first sent once on its own, with the RSS watched every 200 ms: a server
 * that decodes it instead of refusing it takes well over 10 GB, so past a ceiling it is killed,
 * restarted, and the soak runs without that request (and says so), rather than take the machine
 * down with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/io/image.ts';
import { defaultLimits } from '../src/server/context.ts';
import { shapeImage, tempDir } from '../test/fixtures.ts';
import { ihdr, pngFile } from '../test/png-bytes.ts';
import type { BenchOptions, BenchRow } from './run.ts';

const bin = fileURLToPath(new URL('../bin/genloom.js', import.meta.url));
const modelsDir = fileURLToPath(new URL('../models/', import.meta.url));
const mebibyte = 2 ** 20;
/** Past this much above its starting RSS during the oversized-PNG probe, the server is killed. */
const probeCeilingBytes = 3 * 2 ** 30;

interface Probe {
  label: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** The statuses that are a right answer (a refusal for the hostile ones). */
  expected: (status: number) => boolean;
  /** A reset before any answer is a refusal too (an over-limit body: see hostileRequests). */
  resetIsRefusal?: boolean;
}

interface Answer {
  label: string;
  status: number | 'none';
  ms: number;
  unexpected: boolean;
}

/** Resident memory of a process in bytes, from /proc (Linux). */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A PNG whose IHDR declares `width`×`height` RGBA pixels, with a few bytes of image data. */
export function oversizedPng(width: number, height: number): Buffer {
  return pngFile(ihdr(width, height, 8, 6), new Uint8Array(16));
}

/** Every file under models/ with its size and modification time, to show the soak left it alone. */
function listing(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const stat = statSync(path);
    files.set(path, `${stat.size}:${stat.mtimeMs}`);
  }
  return files;
}

interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

async function startServer(runsDir: string, backend: string): Promise<Server> {
  const child = spawn(process.execPath, [bin, '--quiet', '--backend', backend, 'serve', '--port', '0', '--no-web', '--models', modelsDir, '--runs', runsDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`genloom serve did not start in 60 s:\n${output}`)), 60_000);
    const read = (data: Buffer) => {
      output += data.toString();
      const match = /genloom studio: (http:\/\/[^/\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`genloom serve exited (${code}) before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// node:http rather than fetch: a server that refuses an over-limit body answers 413 and closes the
// socket while the body is still being sent, and fetch then reports only the broken upload.
const agent = new Agent({ keepAlive: true });

function send(url: string, probe: Probe, timeoutMs = 120_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let status: number | undefined;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      const answered = status ?? 'none';
      // No answer at all (reset before a status line, timeout) is right only where it is a refusal.
      resolve({ label: probe.label, status: answered, ms: performance.now() - started, unexpected: answered === 'none' ? !probe.resetIsRefusal : !probe.expected(answered) });
    };
    const headers = probe.body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(probe.body) } : {};
    const request = httpRequest(`${url}${probe.path}`, { method: probe.method, headers, agent, timeout: timeoutMs }, (response) => {
      status = response.statusCode;
      response.resume();
      response.on('end', done);
      response.on('close', done);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', done);
    request.end(probe.body);
  });
}

async function json(url: string, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

const served = (status: number) => status === 200 || status === 429;
const refused = (status: number) => status >= 400 && status < 500 && status !== 429;

/** The good requests, from what each model says it can do. */
async function goodRequests(url: string): Promise<{ probes: Probe[]; encodeModel?: string }> {
  const { models } = (await json(url, '/api/models')) as { models: { name: string; capabilities: string[] }[] };
  const probes: Probe[] = [];
  let encodeModel: string | undefined;
  const post = (label: string, path: string, body: unknown): Probe => ({ label, method: 'POST', path, body: JSON.stringify(body), expected: served });
  const smallImage = encodePng(shapeImage(1, 7)).toString('base64');
  for (const { name, capabilities } of models) {
    const info = (await json(url, `/api/models/${name}`)) as { generationFields: string[]; slowGeneration: boolean; latentDim?: number; encoder?: boolean };
    const fields = new Set(info.generationFields);
    const body: Record<string, unknown> = {};
    if (fields.has('n')) body['n'] = info.slowGeneration ? 1 : 4;
    if (fields.has('steps')) body['steps'] = 4;
    if (fields.has('sampler')) body['sampler'] = 'ddim';
    if (fields.has('maxTokens')) Object.assign(body, { prompt: 'And', maxTokens: 16 });
    if (fields.has('bars')) body['bars'] = 2;
    if (['images', 'text', 'music', 'clips', 'shapes'].some((modality) => capabilities.includes(modality))) probes.push(post(`generate ${name}`, `/api/models/${name}/generate`, body));
    if (capabilities.includes('latent') && info.latentDim) {
      probes.push(post(`decode ${name}`, `/api/models/${name}/decode`, { z: [Array.from({ length: info.latentDim }, (_, i) => Math.sin(i))] }));
      probes.push(post(`latent ${name}`, `/api/models/${name}/latent`, { seed: 1, n: 2 }));
    }
    if (capabilities.includes('encode')) {
      encodeModel ??= name;
      probes.push(post(`encode ${name}`, `/api/models/${name}/encode`, { png: smallImage }));
    }
  }
  return { probes, ...(encodeModel ? { encodeModel } : {}) };
}

function hostileRequests(generatePath: string, encodeModel: string | undefined, withOversizedPng: boolean): Probe[] {
  const probes: Probe[] = [
    // The server answers 413 on the Content-Length alone and closes the connection while the body
    // is still arriving; unread data makes the close a TCP reset, which can reach the client before
    // the 413 does. Refused either way (a client sending Expect: 100-continue would get the 413).
    { label: 'body over the limit', method: 'POST', path: generatePath, body: JSON.stringify({ prompt: 'x'.repeat(defaultLimits.maxBodyBytes + 1024) }), expected: (status) => status === 413, resetIsRefusal: true },
    { label: 'unknown model', method: 'POST', path: '/api/models/no-such-model/generate', body: '{}', expected: (status) => status === 404 },
    { label: 'unknown route', method: 'GET', path: '/api/no/such/route', expected: (status) => status === 404 },
    { label: 'unknown sample rated', method: 'POST', path: '/api/feedback/ratings', body: JSON.stringify({ sampleKey: 'never-made', kind: 'thumbs', score: 1 }), expected: (status) => status === 410 },
  ];
  if (encodeModel && withOversizedPng) probes.push(oversizedPngProbe(encodeModel));
  return probes;
}

function oversizedPngProbe(encodeModel: string): Probe {
  return { label: 'PNG declaring 30000×30000', method: 'POST', path: `/api/models/${encodeModel}/encode`, body: JSON.stringify({ png: oversizedPng(30000, 30000).toString('base64') }), expected: refused };
}

/** Sends the oversized PNG once with the RSS watched; kills the server if it passes the ceiling. */
async function probeOversizedPng(server: Server, encodeModel: string): Promise<{ answer: Answer; peak: number; killed: boolean }> {
  const base = rssOf(server.pid);
  let peak = base;
  let killed = false;
  const watch = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(server.pid));
    } catch {
      return;
    }
    if (peak - base > probeCeilingBytes && !killed) {
      killed = true;
      server.child.kill('SIGKILL');
    }
  }, 200);
  const answer = await send(server.url, oversizedPngProbe(encodeModel), 60_000);
  clearInterval(watch);
  return { answer, peak, killed };
}

/** A least-squares line through (t, rss) for the samples after `from`: its rise over that span. */
function growthAfter(series: { t: number; rss: number }[], from: number): number {
  const points = series.filter((point) => point.t >= from);
  if (points.length < 2) return Number.NaN;
  const meanT = points.reduce((sum, p) => sum + p.t, 0) / points.length;
  const meanRss = points.reduce((sum, p) => sum + p.rss, 0) / points.length;
  const slope = points.reduce((sum, p) => sum + (p.t - meanT) * (p.rss - meanRss), 0) / points.reduce((sum, p) => sum + (p.t - meanT) ** 2, 0);
  return slope * (points.at(-1)!.t - points[0]!.t);
}

function sparkline(values: number[]): string {
  const bars = '▁▂▃▄▅▆▇█';
  const low = Math.min(...values);
  const high = Math.max(...values);
  return values.map((value) => bars[high === low ? 0 : Math.round(((value - low) / (high - low)) * (bars.length - 1))]).join('');
}

export async function benchSoak({ quick, backends }: BenchOptions): Promise<BenchRow[]> {
  const seconds = quick ? 30 : 180;
  const sampleEveryMs = quick ? 1000 : 3000;
  const goodClients = 3;
  const runsDir = tempDir('genloom-soak-runs-');
  const before = listing(modelsDir);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let server = await startServer(runsDir, backends[0]!);
  try {
    const readyRss = rssOf(server.pid);
    const { probes: good, encodeModel } = await goodRequests(server.url);
    log(`soak: ${good.length} kinds of good request over ${new Set(good.map((probe) => probe.path.split('/')[3])).size} models, ${goodClients} clients + 1 hostile, ${seconds} s`);

    // The oversized PNG alone first: refused, it joins the mix; decoded, the server is replaced.
    let probeNote = 'no model with an encoder';
    let withOversizedPng = false;
    let probeRow: BenchRow | undefined;
    if (encodeModel) {
      const { answer, peak, killed } = await probeOversizedPng(server, encodeModel);
      withOversizedPng = !answer.unexpected;
      probeNote = killed
        ? `NOT refused: the server passed ${(peak / mebibyte).toFixed(0)} MB decoding it and was killed; the soak goes on without it`
        : answer.unexpected
          ? `NOT refused: answered ${answer.status} in ${(answer.ms / 1000).toFixed(1)} s, RSS peak ${(peak / mebibyte).toFixed(0)} MB; the soak goes on without it`
          : `refused with ${answer.status} in ${answer.ms.toFixed(0)} ms, RSS peak ${(peak / mebibyte).toFixed(0)} MB; in the mix`;
      probeRow = { name: 'oversized PNG probe (30000×30000 header)', value: answer.status === 'none' ? Number.NaN : answer.status, unit: 'status', note: probeNote };
      log(`soak: oversized PNG ${probeNote}`);
      if (answer.unexpected) {
        await server.stop();
        server = await startServer(runsDir, backends[0]!);
      }
    }
    const hostile = hostileRequests(good[0]!.path, encodeModel, withOversizedPng);

    // Every good request once, in order, before the start and after the end: the first samples are
    // of serving, not of first loads, and the worker holds the same recently used models both
    // times, so its live tensors can be compared.
    const settle = async () => {
      for (const probe of good) await send(server.url, probe);
      return ((await json(server.url, '/api/health')) as { generation: { worker?: { numTensors: number } } }).generation.worker?.numTensors ?? Number.NaN;
    };
    const tensorsBefore = await settle();
    const startRss = rssOf(server.pid);

    const answers: Answer[] = [];
    const series: { t: number; rss: number }[] = [];
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const sampler = setInterval(() => {
      const t = (performance.now() - started) / 1000;
      const rss = rssOf(server.pid);
      series.push({ t, rss });
      if (series.length % Math.round(15_000 / sampleEveryMs) === 0) log(`soak: ${t.toFixed(0).padStart(4)} s  RSS ${(rss / mebibyte).toFixed(0)} MB  ${answers.length} answered`);
    }, sampleEveryMs);
    series.push({ t: 0, rss: startRss });
    const client = async (probes: Probe[], offset: number, pauseMs: number) => {
      for (let turn = offset; performance.now() < deadline; turn++) {
        const answer = await send(server.url, probes[turn % probes.length]!);
        answers.push(answer);
        // A refused client backs off as a polite one would; the hostile one paces itself so it
        // does not merely measure how fast Fastify says 404.
        if (answer.status === 429) await new Promise((resolve) => setTimeout(resolve, 100));
        else if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    };
    await Promise.all([...Array.from({ length: goodClients }, (_, i) => client(good, i * 3, 0)), client(hostile, 0, 50)]);
    clearInterval(sampler);
    const elapsed = (performance.now() - started) / 1000;
    const endRss = rssOf(server.pid);
    series.push({ t: elapsed, rss: endRss });
    const tensorsAfter = await settle();

    const after = listing(modelsDir);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((path) => before.get(path) !== after.get(path));
    const peakRss = Math.max(...series.map((point) => point.rss));
    const classes = new Map<string, number>();
    for (const { status } of answers) {
      const name = status === 'none' ? 'no answer' : `${String(status)[0]}xx`;
      classes.set(name, (classes.get(name) ?? 0) + 1);
    }
    const codes = (filter: (answer: Answer) => boolean) => {
      const counts = new Map<string, number>();
      for (const answer of answers.filter(filter)) counts.set(String(answer.status), (counts.get(String(answer.status)) ?? 0) + 1);
      return [...counts].sort().map(([code, count]) => `${count}× ${code}`).join(', ');
    };
    const latencies = (filter: (answer: Answer) => boolean) => answers.filter((answer) => filter(answer) && answer.status !== 'none').map((answer) => answer.ms).sort((a, b) => a - b);
    const goodLabels = new Set(good.map((probe) => probe.label));
    const served200 = latencies((answer) => answer.status === 200);
    const refusals = latencies((answer) => !goodLabels.has(answer.label));
    const unexpected = answers.filter((answer) => answer.unexpected);
    const unexpectedNote = [...new Set(unexpected.map((answer) => `${answer.label} → ${answer.status}`))].slice(0, 4).join('; ');

    // The RSS over time, for people: a sparkline in the row, a table on stderr.
    const table = series.filter((_, i) => i % Math.max(1, Math.ceil(series.length / 20)) === 0 || i === series.length - 1);
    log('\nsoak: server RSS over time');
    const tableHigh = Math.max(...table.map((point) => point.rss));
    for (const point of table) log(`  ${point.t.toFixed(0).padStart(5)} s  ${(point.rss / mebibyte).toFixed(0).padStart(6)} MB  ${'#'.repeat(Math.max(1, Math.round((point.rss / tableHigh) * 40)))}`);
    log('\nsoak: answers by request');
    for (const label of [...new Set(answers.map((answer) => answer.label))]) {
      const mine = answers.filter((answer) => answer.label === label);
      const times = mine.map((answer) => answer.ms).sort((a, b) => a - b);
      log(`  ${label.padEnd(34)} ${String(mine.length).padStart(5)}  p50 ${percentile(times, 50).toFixed(0).padStart(6)} ms  max ${times.at(-1)!.toFixed(0).padStart(6)} ms  ${codes((answer) => answer.label === label)}`);
    }
    log('');

    const rows: BenchRow[] = [
      { name: 'RSS when listening', value: readyRss / mebibyte, unit: 'MB', note: `genloom serve child process, /proc/${server.pid}/status VmRSS` },
      { name: 'RSS at start (after warm-up)', value: startRss / mebibyte, unit: 'MB', note: 'every kind of good request answered once' },
      { name: 'RSS peak', value: peakRss / mebibyte, unit: 'MB', note: `${series.length} samples every ${sampleEveryMs / 1000} s: ${sparkline(series.map((point) => point.rss))}` },
      { name: 'RSS at end', value: endRss / mebibyte, unit: 'MB' },
      { name: 'RSS growth over the last half', value: growthAfter(series, elapsed / 2) / mebibyte, unit: 'MB', note: 'least-squares line through the samples after the midpoint' },
      ...(probeRow ? [probeRow] : []),
      ...['2xx', '4xx', '5xx', 'no answer'].map((name) => ({ name: `answered ${name}`, value: classes.get(name) ?? 0, unit: 'requests', ...(name === '2xx' ? { note: `${(answers.length / elapsed).toFixed(1)} requests/s in all over ${elapsed.toFixed(0)} s` } : name === '4xx' ? { note: codes((answer) => answer.status !== 'none' && answer.status >= 400 && answer.status < 500) } : {}) })),
      { name: 'over-limit bodies reset before the 413', value: answers.filter((answer) => answer.status === 'none' && answer.label === 'body over the limit').length, unit: 'requests', note: 'refused, but the client never read why (see hostileRequests)' },
      { name: 'answers not as expected', value: unexpected.length, unit: 'requests', ...(unexpectedNote ? { note: unexpectedNote } : { note: 'good: 200 or 429; hostile: refused with its 4xx' }) },
      { name: 'latency p50 (200)', value: percentile(served200, 50), unit: 'ms' },
      { name: 'latency p99 (200)', value: percentile(served200, 99), unit: 'ms' },
      { name: 'latency p50 (hostile)', value: percentile(refusals, 50), unit: 'ms', note: codes((answer) => !goodLabels.has(answer.label)) },
      { name: 'latency p99 (hostile)', value: percentile(refusals, 99), unit: 'ms' },
      { name: 'worker live tensors, end − start', value: tensorsAfter - tensorsBefore, unit: 'tensors', note: `${tensorsBefore} → ${tensorsAfter}` },
      { name: 'files in models/ changed', value: changed.length, unit: 'files', ...(changed.length ? { note: changed.slice(0, 3).join(', ') } : {}) },
    ];
    return rows;
  } finally {
    await server.stop();
    rmSync(runsDir, { recursive: true, force: true });
  }
}
