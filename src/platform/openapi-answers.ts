import type { FastifySchema, RouteOptions } from 'fastify';
import type { OpenApiObject, OpenApiOperation } from './openapi-components.js';
import {
  ERROR_RESPONSES,
  type ErrorStatus,
  RATE_LIMIT_HEADERS,
  SUCCESS_HEADERS,
} from './openapi-components.js';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * Success answers /openapi.json documents without a schema serializing them (a 204, a redirect, a
     * stream, a body Fastify must not reshape): merged into `response` for the document only.
     */
    answers?: Record<number, Record<string, unknown>>;
    /** Failures the handler itself answers, beyond those derived from access, input and limits. */
    errors?: readonly ErrorStatus[];
    /** Its success answers carry an ETag. */
    etag?: boolean;
    /** Set by the transform; read and removed by transformObject. */
    'x-switchboard-answers'?: DerivedAnswers;
  }
}

/** An answer without a body, for a route's `answers`: what a 204 of a deletion says. */
export const NO_CONTENT = { type: 'null', description: 'Done; no body' } as const;
/** The 304 of a route that honours If-None-Match, for its `answers`. */
export const NOT_MODIFIED = {
  type: 'null',
  description:
    'Not modified: If-None-Match names what you hold, which is current; the ETag header repeats it',
} as const;

/** What a route's options say about the answers it can give, carried from transform to transformObject. */
export interface DerivedAnswers {
  counted: boolean;
  errors: ErrorStatus[];
  etag: boolean;
}

/** Health checks are never rate limited (src/ratelimit/index.ts says why). */
const UNCOUNTED = new Set(['/healthz', '/readyz']);

/** The API's security schemes, each an alternative; `{}` first where no credential is needed. */
const CREDENTIALS: Record<string, string[]>[] = [{ session: [] }, { bearer: [] }];
const ANYONE: Record<string, string[]> = {};

/** `DELETE /api/v1/auth/sessions/{id}` → `deleteAuthSessionsById`: stable, unique per method and path. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1(?=\/|$)/, '')
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      if (segment === '*' || segment === '{*}') return 'By-path';
      const param = /^(?::(\w+)|\{(\w+)\})$/.exec(segment);
      return param ? `By-${param[1] ?? param[2]}` : segment;
    })
    .flatMap((segment) => segment.split(/[-_.]/))
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1));
  return method.toLowerCase() + words.join('');
}

/** Routes behind authentication and the rate limits (src/app.ts registers them so). */
const behindTheApi = (url: string) => url.startsWith('/api/') || url.startsWith('/widget-assets/');

/** The failures a route can answer, from what it declares. */
function errorsOf(route: RouteOptions, counted: boolean): ErrorStatus[] {
  // Outside the API only the health checks are documented: they fail as a whole or not at all.
  if (!behindTheApi(route.url)) return [500, 503];
  const schema = route.schema ?? {};
  const access = route.config?.access;
  const errors = new Set<ErrorStatus>([400, 500, 503]);
  if (!access?.public || access.sameOriginOnly || access.rule || access.sessionOnly) errors.add(403);
  if (!access?.public) errors.add(401);
  if (schema.body || schema.querystring || schema.params || schema.headers) errors.add(422);
  if (schema.params) errors.add(404);
  if (counted) errors.add(429);
  for (const status of schema.errors ?? []) errors.add(status);
  return [...errors].sort();
}

/**
 * @fastify/swagger's per-route transform: operationId and security derived from the route, the success
 * answers it documents without serializing them, and what transformObject needs to add its failures.
 */
export function transformRoute({
  schema,
  url,
  route,
}: {
  schema: FastifySchema;
  url: string;
  route: RouteOptions;
}): { schema: FastifySchema; url: string } {
  if (!schema || schema.hide) return { schema, url };
  const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
  // Fastify never reads these three; the document gets what they say, not the keys themselves.
  const { answers, errors: _errors, etag, ...rest } = schema;
  const counted = !UNCOUNTED.has(route.url);
  const derived: DerivedAnswers = { counted, errors: errorsOf(route, counted), etag: etag === true };
  return {
    url,
    schema: {
      ...rest,
      operationId: schema.operationId ?? operationIdOf(method, route.url),
      security: schema.security ?? (behindTheApi(route.url) ? [ANYONE, ...CREDENTIALS] : [ANYONE]),
      response: { ...(schema.response as object | undefined), ...answers },
      'x-switchboard-answers': derived,
    },
  };
}

/** Adds to every operation its failures and the headers of its answers (a second pass over the document). */
export function completeOperation(operation: OpenApiOperation): void {
  const derived = operation['x-switchboard-answers'] as DerivedAnswers | undefined;
  delete operation['x-switchboard-answers'];
  if (!derived) return;
  operation.responses ??= {};
  for (const [status, response] of Object.entries(operation.responses)) {
    // A 304 carries the headers of the answer it stands for.
    if (!(/^2/.test(status) || status === '304') || '$ref' in response) continue;
    if (response.description === PLACEHOLDER) response.description = SUCCESS[status] ?? 'Success';
    response.headers = {
      ...response.headers,
      ...(derived.counted && RATE_LIMIT_HEADERS),
      ...(derived.etag && SUCCESS_HEADERS),
    };
    if (Object.keys(response.headers).length === 0) delete response.headers;
  }
  for (const status of derived.errors) {
    if (operation.responses[status]) continue;
    operation.responses[status] = { $ref: `#/components/responses/${ERROR_RESPONSES[status].name}` };
  }
}

/** What the transport already bounds, whatever a route's schema says. */
export interface TransportLimits {
  /** The router's longest path parameter (Fastify's maxParamLength): a longer one matches no route. */
  maxParamLength: number;
  /** The most bytes of request line and headers Node reads (maxHeaderSize): no query or header is longer. */
  maxHeaderBytes: number;
}

const INT32 = 2_147_483_647;
/** What @fastify/swagger calls a response its schema does not describe. */
const PLACEHOLDER = 'Default Response';
const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

/**
 * Integers get the format their bounds fit; strings of the URL and headers that their schema leaves
 * unbounded get the bound the transport holds them to, which is what the server answers today.
 */
function boundParameter(parameter: Record<string, unknown>, limits: TransportLimits): void {
  const schema = parameter.schema as Record<string, unknown> | undefined;
  if (!schema) return;
  if (schema.type === 'integer' && schema.format === undefined) {
    const fits = (value: unknown) => typeof value === 'number' && Math.abs(value) <= INT32;
    schema.format = fits(schema.minimum) && fits(schema.maximum) ? 'int32' : 'int64';
  }
  if (schema.type !== 'string' || 'maxLength' in schema || 'enum' in schema || 'const' in schema) return;
  const wildcard = parameter.name === '*';
  schema.maxLength = parameter.in === 'path' && !wildcard ? limits.maxParamLength : limits.maxHeaderBytes;
}

/** @fastify/swagger's transformObject: each operation completed, and what the document as a whole needs. */
export function completeDocument(document: OpenApiObject, limits: TransportLimits): OpenApiObject {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item) as OpenApiOperation[]) {
      completeOperation(operation);
      for (const parameter of (operation.parameters ?? []) as Record<string, unknown>[]) {
        boundParameter(parameter, limits);
      }
    }
  }
  return document;
}
