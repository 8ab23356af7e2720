/**
 * The genloom studio server: the HTTP API under /api, its OpenAPI description at /openapi.json,
 * and the built web studio at /. One Fastify instance; tensor work runs in worker threads
 * (generation, training) so the server keeps answering while a model computes.
 */
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { genloomVersion } from '../version.ts';
import { ModelCatalog } from './catalog.ts';
import { defaultLimits, type ServerContext, type ServerLimits, type ServerOptions } from './context.ts';
import { describeError, HttpError } from './http-errors.ts';
import { Api } from './routes.ts';
import { pathScrubber, type PathScrubber } from './display-paths.ts';
import { registerFeedbackRoutes } from './feedback-routes.ts';
import { registerJobRoutes } from './jobs-routes.ts';
import { registerModelRoutes } from './model-routes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Says the server's absolute folders as "models", "runs", "." (see display-paths.ts). */
    scrubPaths: PathScrubber;
  }
}

export interface StudioServer {
  app: FastifyInstance;
  context: ServerContext;
  /** The address it listens on, e.g. http://127.0.0.1:8080 (after start). */
  url: string;
  close(): Promise<void>;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

export function isLoopback(host: string): boolean {
  // 127.0.0.0/8 as an address: a name like 127.evil.example is not loopback.
  return loopbackHosts.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

export function resolveServerOptions(partial: Partial<Omit<ServerOptions, 'limits'>> & Pick<ServerOptions, 'modelsDir'> & { limits?: Partial<ServerLimits> }): ServerOptions {
  const runsDir = partial.runsDir ?? 'runs';
  const host = partial.host ?? '127.0.0.1';
  if (!isLoopback(host) && !partial.token) {
    throw new HttpError(400, 'BAD_REQUEST', `serving on ${host} (not loopback) needs a token: pass --token SECRET (or set GENLOOM_TOKEN)`);
  }
  return {
    modelsDir: partial.modelsDir,
    runsDir,
    dbPath: partial.dbPath ?? join(runsDir, 'feedback.db'),
    host,
    port: partial.port ?? 8080,
    ...(partial.token ? { token: partial.token } : {}),
    limits: { ...defaultLimits, ...partial.limits },
    ...(partial.webDir ? { webDir: partial.webDir } : {}),
    ...(partial.backend ? { backend: partial.backend } : {}),
  };
}

export async function buildServer(options: ServerOptions): Promise<StudioServer> {
  const app = Fastify({
    bodyLimit: options.limits.maxBodyBytes,
    logger: false,
    forceCloseConnections: true,
    // A body that stops arriving (a Content-Length larger than what is sent) is given up on, not held open.
    requestTimeout: options.limits.requestArrivalSeconds * 1000,
    // URLs Fastify refuses before routing (bad percent-encoding, over-long path parameters): the same error shape as every other refusal.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const { status, body } = describeError(error);
      void reply.status(status).send(body);
    },
    // HTTP that does not parse (or headers too large) never reaches a route: answered in the same shape, on the socket.
    clientErrorHandler: answerClientError,
  });
  const cleanups: (() => void | Promise<void>)[] = [];
  const context: ServerContext = {
    options,
    api: new Api(app),
    catalog: new ModelCatalog(options.modelsDir, options.runsDir),
    onClose: (cleanup) => cleanups.push(cleanup),
  };

  const scrubPaths = pathScrubber(options);
  app.decorate('scrubPaths', scrubPaths);
  app.addHook('onSend', async (_request, _reply, payload) => (typeof payload === 'string' ? scrubPaths(payload) : payload));

  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = describeError(error);
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  app.addHook('onRequest', async (request) => {
    // A page on another site can make the browser send requests to 127.0.0.1, and DNS rebinding can
    // make them look same-origin: on loopback only loopback Host names are answered.
    const hostName = (request.headers.host ?? '').replace(/:\d+$/, '');
    if (isLoopback(options.host) && !isLoopback(hostName)) throw new HttpError(403, 'FORBIDDEN', `requests must be addressed to 127.0.0.1 or localhost, not "${hostName}"`);
    // A page elsewhere can still send "simple" cross-origin requests (a multipart upload needs no
    // preflight); browsers name their page in Origin, and only the studio's own page is answered.
    const origin = request.headers.origin;
    if (origin !== undefined && hostOf(origin) !== request.headers.host) {
      throw new HttpError(403, 'FORBIDDEN', `requests from another site's page (${origin}) are refused`);
    }
    // Judged by the route matched, not the URL as sent: /%61pi/… is routed to /api/… too. Only the
    // page's own files (static routes) load without the token; the page passes it on from ?token=.
    const route = request.routeOptions.url;
    if (options.token && (route === undefined || route.startsWith('/api/') || route === '/openapi.json')) {
      const header = request.headers.authorization;
      const given = header?.startsWith('Bearer ') ? header.slice(7) : new URL(request.url, 'http://x').searchParams.get('token');
      if (given !== options.token) throw new HttpError(401, 'UNAUTHORIZED', 'this server needs its token: send "Authorization: Bearer TOKEN" or ?token=TOKEN');
    }
  });

  app.get('/openapi.json', async () => context.api.document(genloomVersion));
  const { samples } = registerModelRoutes(context);
  registerFeedbackRoutes(context, samples);
  registerJobRoutes(context);

  if (options.webDir && existsSync(join(options.webDir, 'index.html'))) {
    // With wildcard: false, @fastify/static declares a route per built file, '/' (index.html) included.
    await app.register(fastifyStatic, { root: options.webDir, prefix: '/', index: ['index.html'], wildcard: false });
  }

  let url = '';
  return {
    app,
    context,
    get url() {
      return url;
    },
    set url(value: string) {
      url = value;
    },
    async close() {
      await app.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  } as StudioServer;
}

/** The raw answer to a request Node's HTTP parser refused (see Fastify's clientErrorHandler). */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'the request took too long to arrive']
    : error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'the request headers are too large']
    : [400, `the request is not valid HTTP (${error.code ?? 'parse error'})`];
  const body = JSON.stringify({ error: { code: status === 408 ? 'TIMEOUT' : 'BAD_REQUEST', message } });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy(error);
}

/** Builds and starts the server; `port: 0` picks a free port (tests). */
export async function startServer(options: ServerOptions): Promise<StudioServer> {
  const server = await buildServer(options);
  const address = await server.app.listen({ host: options.host, port: options.port });
  const port = Number(new URL(address.replace('[::1]', 'localhost')).port);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  (server as { url: string }).url = `http://${host}:${port}`;
  return server;
}
