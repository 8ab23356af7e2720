/**
 * One way to declare an API route: its zod schemas validate the request (a failure is a 400 that
 * names the field) and, through zod's JSON Schema output, become the route's entry in
 * /openapi.json. The description cannot drift from what the server checks.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from './http-errors.ts';

export interface RouteSpec<Body extends z.ZodType, Query extends z.ZodType, Params extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  body?: Body;
  query?: Query;
  params?: Params;
  /** What a success returns, for the description: a media type and, for JSON, an optional schema. */
  responses?: Record<string, { description: string; contentType?: string; schema?: z.ZodType }>;
}

export interface ValidatedRequest<Body, Query, Params> {
  body: Body;
  query: Query;
  params: Params;
  raw: FastifyRequest;
}

interface OpenApiOperation {
  method: string;
  path: string;
  operation: Record<string, unknown>;
}

/** Parses `value` with `schema`, or throws a 400 naming the first bad field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.join('.') : where;
  throw new HttpError(400, 'BAD_REQUEST', `${where === path ? where : `${where} field "${path}"`}: ${issue.message}`);
}

/** The server's routes and their OpenAPI description, kept together. */
export class Api {
  private readonly operations: OpenApiOperation[] = [];
  constructor(readonly app: FastifyInstance) {}

  route<Body extends z.ZodType = z.ZodUndefined, Query extends z.ZodType = z.ZodObject, Params extends z.ZodType = z.ZodObject>(
    spec: RouteSpec<Body, Query, Params>,
    handler: (request: ValidatedRequest<z.infer<Body>, z.infer<Query>, z.infer<Params>>, reply: FastifyReply) => unknown,
  ): void {
    this.describe(spec.method, spec.url, describeOperation(spec));
    this.app.route({
      method: spec.method,
      url: spec.url,
      handler: async (request, reply) => {
        const body = spec.body ? validate(spec.body, request.body ?? {}, 'body') : undefined;
        const query = spec.query ? validate(spec.query, request.query ?? {}, 'query') : request.query;
        const params = spec.params ? validate(spec.params, request.params ?? {}, 'path') : request.params;
        return handler({ body, query, params, raw: request } as ValidatedRequest<z.infer<Body>, z.infer<Query>, z.infer<Params>>, reply);
      },
    });
  }

  /** Routes that are not JSON-bodied (uploads, files) describe themselves here and register with `app` directly. */
  describe(method: string, url: string, operation: Record<string, unknown>): void {
    this.operations.push({ method: method.toLowerCase(), path: url.replace(/:(\w+)/g, '{$1}'), operation });
  }

  document(version: string): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { method, path, operation } of this.operations) (paths[path] ??= {})[method] = operation;
    return {
      openapi: '3.1.0',
      info: { title: 'genloom studio API', version, description: 'Generate with, explore, rate and train genloom models. Errors are `{ error: { code, message } }` with a 4xx or 5xx status.' },
      paths,
      components: {
        schemas: { Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } } },
        securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'required when the server is bound to a non-loopback address' } },
      },
    };
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function describeOperation(spec: RouteSpec<z.ZodType, z.ZodType, z.ZodType>): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  for (const [where, schema] of [['path', spec.params], ['query', spec.query]] as const) {
    if (!schema) continue;
    const described = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, property] of Object.entries(described.properties ?? {})) {
      parameters.push({ name, in: where, required: where === 'path' || (described.required ?? []).includes(name), schema: property });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses ?? { 200: { description: 'success' } })) {
    const contentType = response.contentType ?? 'application/json';
    responses[status] = { description: response.description, content: { [contentType]: response.schema ? { schema: jsonSchema(response.schema) } : {} } };
  }
  responses['4XX'] = { description: 'a bad request: `{ error: { code, message } }`', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return {
    summary: spec.summary,
    tags: [spec.tag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body) } } } } : {}),
    responses,
  };
}
