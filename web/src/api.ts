/**
 * The typed client of the studio API. Every request carries the page's `?token=` (as a Bearer
 * header, or as a `token` query where a header cannot be set: EventSource, <img src>); every failure
 * becomes an ApiError whose message is the server's one line.
 */
import type {
  Attention, CompleteRequest, FamilyInfo, CompletionResult, FeedbackStats, GenerateRequest, GenerateResult, Health, Interpolation, Job, JobRequest,
  LatentMap, ModelInfo, ModelSummary, StreamHandlers, Upload,
} from './types.ts';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

const token = new URLSearchParams(location.search).get('token') ?? undefined;

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** A URL for places that cannot send headers (EventSource, img src, downloads): the token as a query. */
export function withToken(path: string): string {
  if (!token) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function failure(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(response.status, body.error.code ?? 'ERROR', body.error.message);
  } catch {
    // Not JSON (a proxy's page, a dropped connection): fall through to the status line.
  }
  return new ApiError(response.status, 'HTTP_' + response.status, `${response.status} ${response.statusText || 'request failed'}`);
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'the studio server cannot be reached: is `genloom serve` still running?');
  }
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal);
const post = <T>(path: string, body: unknown, signal?: AbortSignal) => request<T>('POST', path, body, signal);
const model = (name: string) => `/api/models/${encodeURIComponent(name)}`;

/** One server-sent event: its name and its parsed JSON data. */
export interface ServerEvent { event: string; data: unknown }

/** Splits a text/event-stream body into events (comments and unnamed keep-alives are dropped). */
export async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { event, data: JSON.parse(data.join('\n')) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** POSTs `body` with `stream: true` and reads its Server-Sent Events until `result` or `error`. */
async function streamPost<T>(path: string, body: object, handlers: StreamHandlers, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify({ ...body, stream: true }),
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await failure(response);
  if (!response.body) throw new ApiError(0, 'STREAM', 'the browser gave no response stream');
  for await (const { event, data } of readEventStream(response.body)) {
    if (event === 'result') return data as T;
    if (event === 'error') {
      const { error } = data as { error: { code: string; message: string } };
      throw new ApiError(500, error.code, error.message);
    }
    if (event === 'progress') handlers.progress?.(data as { done: number; total: number });
    else if (event === 'step') handlers.step?.(data as Parameters<NonNullable<StreamHandlers['step']>>[0]);
    else if (event === 'token') handlers.token?.(data as { text: string });
  }
  throw new ApiError(0, 'STREAM', 'the stream ended without a result');
}

export const api = {
  health: () => get<Health>('/api/health'),
  models: () => get<{ models: ModelSummary[] }>('/api/models').then((body) => body.models),
  model: (name: string) => get<ModelInfo>(model(name)),

  async fetchFile(name: string, file: string): Promise<ArrayBuffer> {
    const response = await fetch(`${model(name)}/files/${encodeURIComponent(file)}`, { headers: headers() });
    if (!response.ok) throw await failure(response);
    return response.arrayBuffer();
  },

  generate: <T extends GenerateResult = GenerateResult>(name: string, body: GenerateRequest, signal?: AbortSignal) =>
    post<T>(`${model(name)}/generate`, { ...body, stream: false }, signal),

  /**
   * A streamed generate: POST with `stream: true`, read the event stream over fetch (EventSource
   * only does GET), call the handlers as events come, and resolve with the `result` event.
   * Aborting the signal closes the connection, which cancels the work on the server.
   */
  generateStream: <T extends GenerateResult = GenerateResult>(name: string, body: GenerateRequest, handlers: StreamHandlers, signal?: AbortSignal) =>
    streamPost<T>(`${model(name)}/generate`, body, handlers, signal),

  /** PixelCNN completion of an image's top rows, streamed (progress, then the result) like generateStream. */
  completeStream: (name: string, body: CompleteRequest, handlers: StreamHandlers, signal?: AbortSignal) =>
    streamPost<CompletionResult>(`${model(name)}/complete`, body, handlers, signal),

  decode: (name: string, z: number[][], label?: string, signal?: AbortSignal) =>
    post<{ images: { png: string; sampleKey: string }[] }>(`${model(name)}/decode`, label ? { z, label } : { z }, signal),
  latent: (name: string, seed: number, n = 1) => post<{ z: number[][] }>(`${model(name)}/latent`, { seed, n }),
  interpolate: (name: string, body: { from: { seed: number }; to: { seed: number }; frames: number; method: string; label?: string }) =>
    post<Interpolation>(`${model(name)}/interpolate`, body),
  latentMap: (name: string, count = 1000) => post<LatentMap>(`${model(name)}/latent-map`, { count }),
  attributes: (name: string) => post<{ attributes: { name: string; vector: number[] }[] }>(`${model(name)}/attributes`, {}),
  attention: (name: string, prompt: string) => post<Attention>(`${model(name)}/attention`, { prompt }),
  search: (name: string, text: string, n: number) =>
    post<{ hits: { rank: number; index: number; score: number; caption?: string; label?: string; png: string }[] }>(`${model(name)}/search`, { text, n }),

  rate: (sampleKey: string, kind: 'thumbs' | 'stars', score: number) =>
    post<{ sampleId: number; ratingId: number }>('/api/feedback/ratings', { sampleKey, kind, score }),
  prefer: (chosen: string, rejected: string) =>
    post<{ chosenId: number; rejectedId: number; preferenceId: number }>('/api/feedback/preferences', { chosen, rejected }),
  feedbackStats: (modelName?: string) =>
    get<FeedbackStats>(`/api/feedback/stats${modelName ? `?model=${encodeURIComponent(modelName)}` : ''}`),

  families: () => get<{ families: FamilyInfo[] }>('/api/families').then((body) => body.families),
  jobs: () => get<{ jobs: Job[] }>('/api/jobs').then((body) => body.jobs),
  job: (id: string) => get<{ job: Job }>(`/api/jobs/${encodeURIComponent(id)}`).then((body) => body.job),
  createJob: (body: JobRequest) => post<{ job: Job }>('/api/jobs', body).then((result) => result.job),
  stopJob: (id: string) => post<{ job: Job }>(`/api/jobs/${encodeURIComponent(id)}/stop`, {}).then((body) => body.job),
  resumeJob: (id: string) => post<{ job: Job }>(`/api/jobs/${encodeURIComponent(id)}/resume`, {}).then((body) => body.job),
  jobMetrics: (id: string) => get<{ lines: Record<string, unknown>[] }>(`/api/jobs/${encodeURIComponent(id)}/metrics`).then((body) => body.lines),
  jobFileUrl: (id: string, file: string, bust?: string | number) =>
    withToken(`/api/jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(file)}${bust === undefined ? '' : `?v=${bust}`}`),
  jobEvents: (id: string) => new EventSource(withToken(`/api/jobs/${encodeURIComponent(id)}/events`)),

  async upload(files: File[], paths: string[]): Promise<Upload> {
    const form = new FormData();
    files.forEach((file, index) => form.append('file', file, paths[index] ?? file.name));
    const response = await fetch('/api/uploads', { method: 'POST', headers: headers(), body: form });
    if (!response.ok) throw await failure(response);
    return ((await response.json()) as { upload: Upload }).upload;
  },
};
