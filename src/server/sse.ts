/**
 * Server-Sent Events on a Fastify reply: `event: NAME\ndata: JSON\n\n` frames, a comment every 15 s
 * so proxies and browsers keep the connection, and one place that notices the client leaving.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Ends the stream (idempotent). */
  close(): void;
  /** True once the client has gone or close() ran. */
  readonly closed: boolean;
  /** Runs when the client disconnects or the stream is closed. */
  onClose(listener: () => void): void;
}

const closedStream: EventStream = { send() {}, close() {}, closed: true, onClose: (listener) => listener() };

export function openEventStream(request: FastifyRequest, reply: FastifyReply): EventStream {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // HEAD (Fastify answers it with the GET handler) asks for the headers alone: a stream that never ends would hold it forever.
  if (request.method === 'HEAD') {
    response.end();
    return closedStream;
  }
  response.write(': genloom\n\n');
  const scrub = request.server?.scrubPaths ?? ((text: string) => text);
  const listeners: (() => void)[] = [];
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const listener of listeners.splice(0)) listener();
  };
  const heartbeat = setInterval(() => {
    if (!closed) response.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();
  // The response's close is the client leaving (the request's fires as soon as its body is read).
  response.on('close', finish);
  return {
    send(event, data) {
      if (closed) return;
      response.write(`event: ${event}\ndata: ${scrub(JSON.stringify(data))}\n\n`);
    },
    close() {
      if (!closed) response.end();
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}
