import fc from 'fast-check';
import type { Operation, Parameter } from './contract.js';
import {
  arbitraryOf,
  DeepJson,
  type Hint,
  type JsonSchema,
  jsonText,
  type Mutation,
  mutate,
  mutationArbitrary,
  PoolRef,
  prng,
  ref,
} from './schema-arbitrary.js';
import type { World } from './world.js';

/**
 * Requests for one operation of the OpenAPI document: its parameters and body drawn from their schemas
 * (with ids and names that exist, from the world's pools), then, for half of them, broken in one place.
 */

/** What fast-check draws for one request; turned into a request by `build` against the world of the time. */
export interface Plan {
  identity: number;
  values: Record<string, unknown>;
  body: unknown;
  hasBody: boolean;
  breakage: Breakage | null;
  accept: 'json' | 'problem' | 'any' | 'none' | 'html';
}

export type Breakage =
  | { target: 'body' | 'query' | 'path' | 'header'; m: Mutation }
  | { target: 'raw body'; m: Mutation }
  | { target: 'content type'; m: Mutation }
  | { target: 'no csrf'; m: Mutation }
  | { target: 'no body'; m: Mutation };

/**
 * Bodies the OpenAPI document leaves open (any JSON): the schema a valid one follows. The configuration
 * routes take the configuration document, whose JSON Schema the server serves at /config/schema.
 */
export function bodySchemas(configSchema: JsonSchema): Record<string, JsonSchema> {
  const workspace: JsonSchema = {
    type: 'object',
    properties: {
      panels: {
        type: 'array',
        items: { type: 'object', properties: { id: { type: 'string' }, widget: { type: 'string' } } },
      },
      layout: { type: 'object', properties: { columns: { type: 'integer', minimum: 1, maximum: 12 } } },
      title: { type: 'string', maxLength: 200 },
    },
  };
  const preferences: JsonSchema = {
    type: 'object',
    properties: {
      theme: { enum: ['dark', 'light', null] },
      timeRange: { type: 'string', maxLength: 20 },
      currentWorkspace: { anyOf: [{ type: 'string', maxLength: 100 }, { type: 'null' }] },
      workspaces: {
        type: 'object',
        patternProperties: { '^[a-z][a-z -]{0,20}$': { anyOf: [workspace, { type: 'null' }] } },
      },
      density: { type: 'string' },
    },
  };
  return {
    'POST /api/v1/config': {
      anyOf: [
        configSchema,
        {
          type: 'object',
          required: ['config'],
          properties: {
            config: configSchema,
            version: { type: 'string', pattern: '^[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,3}$' },
            activate: { type: 'boolean' },
            message: { type: 'string', maxLength: 200 },
          },
        },
      ],
    },
    'POST /api/v1/config/diff': {
      type: 'object',
      required: ['config'],
      additionalProperties: false,
      properties: { config: configSchema, base_version: { type: 'string', maxLength: 64 } },
    },
    'PATCH /api/v1/preferences': preferences,
    'PUT /api/v1/workspaces/{name}': workspace,
    'PATCH /api/v1/shared/{owner}/{name}': workspace,
    'POST /api/v1/streams/{channel}/publish': {},
  };
}

/** Which pool a field draws from, by operation, where it is and its name. */
function poolFor(op: Operation, where: string, name: string): string | undefined {
  const p = op.path;
  if (where === 'path') {
    if (name === 'id') {
      if (p.includes('/sessions/')) return 'sessionIds';
      if (p.includes('/api-keys/')) return 'apiKeyIds';
      return 'userIds';
    }
    if (name === 'version') return 'versions';
    if (name === 'name') return p.includes('/functions/') ? 'functionNames' : 'workspaceNames';
    if (name === 'owner') return 'sharedOwners';
    if (name === 'channel') return 'channels';
    if (name === '*') return p.startsWith('/widget-assets') ? 'widgetFiles' : 'widgetPaths';
  }
  if (where === 'query') {
    const byName: Record<string, string> = {
      cursor: `cursors:${p}`,
      version: 'versions',
      from: 'versions',
      to: 'versions',
      group: 'groups',
      q: 'usernames',
      actor: 'usernames',
      ticket: 'tickets',
      last_event_id: p === '/api/v1/events' ? 'resumeIds' : 'eventIds',
      channel: 'channels',
      items: p === '/api/v1/audit' ? 'auditTypes' : 'channels',
      next: 'workspaceNames',
      return_to: 'returnTo',
    };
    return byName[name];
  }
  if (where === 'header') {
    if (name === 'if-match') return 'etags';
    if (name === 'x-setup-token') return 'setupTokens';
    if (name === 'last-event-id') return p === '/api/v1/events' ? 'resumeIds' : 'eventIds';
  }
  if (where === 'body') {
    const byName: Record<string, string> = {
      username: 'usernames',
      password: 'passwords',
      current_password: 'passwords',
      new_password: 'passwords',
      refresh_token: 'refreshTokens',
      setup_token: 'setupTokens',
      principal: 'principals',
      package: 'widgetPackages',
      base_version: 'versions',
    };
    if (name === 'items' && p.includes('api-keys')) return 'scopes';
    if (name === 'items' && p.startsWith('/api/v1/users')) return 'groups';
    if (name === 'version' && p === '/api/v1/widgets') return 'widgetVersions';
    if (name === 'version' && p === '/api/v1/config') return 'versions';
    if (name === 'name' && p === '/api/v1/workspaces/current') return 'sharedOrOwn';
    if (name === 'name' && p.endsWith('/rename')) return 'workspaceNames';
    return byName[name];
  }
  return undefined;
}

const hintFor =
  (op: Operation, where: string): Hint =>
  (name) => {
    const pool = poolFor(op, where, name);
    return pool ? ref(pool) : undefined;
  };

/** Schemas of one place, as an object schema, for drawing and breaking them together. */
function placeSchema(params: Parameter[]): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
  };
}

export interface Shaped {
  op: Operation;
  arbitrary: fc.Arbitrary<Plan>;
  /** The schema each place's values are drawn from and broken against. */
  schemas: Record<'path' | 'query' | 'header' | 'body', JsonSchema>;
}

export function shape(op: Operation, overrides: Record<string, JsonSchema>, identities: number[]): Shaped {
  const byPlace = (where: 'path' | 'query' | 'header') => op.parameters.filter((p) => p.in === where);
  const schemas = {
    path: placeSchema(byPlace('path')),
    query: placeSchema(byPlace('query')),
    header: placeSchema(byPlace('header')),
    body: overrides[op.id] ?? op.body?.schema ?? {},
  };
  const values = fc.record({
    path: arbitraryOf(schemas.path, hintFor(op, 'path')),
    query: arbitraryOf(schemas.query, hintFor(op, 'query')),
    header: arbitraryOf(schemas.header, hintFor(op, 'header')),
  });
  const takesBody = op.body !== undefined;
  const breakage: fc.Arbitrary<Breakage> = fc.oneof(
    { weight: 6, arbitrary: mutationArbitrary.map((m) => ({ target: 'body' as const, m })) },
    { weight: 3, arbitrary: mutationArbitrary.map((m) => ({ target: 'query' as const, m })) },
    { weight: 2, arbitrary: mutationArbitrary.map((m) => ({ target: 'path' as const, m })) },
    { weight: 1, arbitrary: mutationArbitrary.map((m) => ({ target: 'header' as const, m })) },
    { weight: 2, arbitrary: mutationArbitrary.map((m) => ({ target: 'raw body' as const, m })) },
    { weight: 1, arbitrary: mutationArbitrary.map((m) => ({ target: 'content type' as const, m })) },
    { weight: 1, arbitrary: mutationArbitrary.map((m) => ({ target: 'no csrf' as const, m })) },
    { weight: 1, arbitrary: mutationArbitrary.map((m) => ({ target: 'no body' as const, m })) },
  );
  const arbitrary = fc.record({
    identity: fc.constantFrom(...identities),
    values: values as fc.Arbitrary<Record<string, unknown>>,
    body: takesBody ? arbitraryOf(schemas.body, hintFor(op, 'body')) : fc.constant(undefined),
    hasBody: fc.constant(takesBody),
    breakage: fc.option(breakage, { freq: 2 }),
    accept: fc.constantFrom(
      'json' as const,
      'problem' as const,
      'any' as const,
      'none' as const,
      'html' as const,
    ),
  });
  return { op, arbitrary, schemas };
}

/** A request as sent. */
export interface Built {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** How it was broken, if it was. */
  how: string | null;
  /** Its body is larger than any limit the server sets (then the connection may close under it). */
  oversized: boolean;
  /** Whether a write by cookie sends its CSRF token (false: the plan broke that). */
  csrf: boolean;
  identity: number;
}

/** PoolRef values replaced by what the world holds now. */
export function resolve(value: unknown, world: World): unknown {
  if (value instanceof PoolRef) {
    if (value.pool === 'sharedOrOwn') {
      return value.k % 2
        ? world.pick('sharedNames', value.k >> 1)
        : world.pick('workspaceNames', value.k >> 1);
    }
    return world.pick(value.pool, value.k);
  }
  if (value instanceof DeepJson) return value;
  if (Array.isArray(value)) return value.map((v) => resolve(v, world));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, resolve(v, world)])
        .filter(([, v]) => v !== undefined),
    );
  }
  return value;
}

const RAW_BODIES = [
  '{',
  '{"a":1,}',
  'nul',
  '\ufeff{"a":1}',
  '{"a":1}{"b":2}',
  '[1,2',
  '"unterminated',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '1e999999',
  '-',
  '\u0000',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  ' ',
  '',
];
const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/merge-patch+json',
  'application/jsonx',
  'APPLICATION/JSON',
  '',
  'application/json, text/plain',
  '*/*',
];
const PATH_BREAKS = [
  '',
  '%zz',
  '%',
  '..',
  '%2e%2e',
  '%2F',
  '%00',
  'a/b',
  'é',
  '\u{1F600}',
  ' ',
  'x'.repeat(5000),
];
const QUERY_BREAKS = [
  'abc',
  '1.5',
  '-1',
  '0',
  '999999999999',
  '',
  '%zz',
  'true',
  '[]',
  '{}',
  'x'.repeat(5000),
];
const ACCEPT = {
  json: 'application/json',
  problem: 'application/problem+json',
  any: '*/*',
  html: 'text/html',
  none: undefined,
} as const;

/** A broken text value, sent as it is rather than percent-encoded. */
class RawText {
  constructor(readonly text: string) {}
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,200}$/;

/**
 * Whether a segment is already percent-encoded UTF-8. Generated text such as `h99%DE` has the form but not
 * the content (a lone byte of a multi-byte character), which the server rightly refuses as a malformed URL.
 */
function isPercentEncoded(segment: string): boolean {
  if (!segment.includes('%') || !/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(segment)) return false;
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/** Lone surrogates as U+FFFD: a URL carries UTF-8, which has no form for them (encodeURIComponent throws). */
export const wellFormed = (text: string) =>
  text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/** A value as one percent-encoded component of a URL. */
export function encode(value: unknown): string {
  return encodeURIComponent(wellFormed(typeof value === 'string' ? value : (JSON.stringify(value) ?? '')));
}

/** Whether a value is a plain object, after breaking (a mutation may replace a place with anything). */
const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof DeepJson);

/** The request for `plan`: values resolved against the world, then broken as the plan says. */
/** Rules between fields that no schema of the document states, applied to the values of valid requests. */
function crossFieldRules(op: Operation, values: Record<string, unknown>): Record<string, unknown> {
  const query = values.query as Record<string, unknown> | undefined;
  // GET /audit: `since` before `until` (docs/api.md, Audit), else a 422.
  if (op.id === 'GET /api/v1/audit' && typeof query?.since === 'string' && typeof query.until === 'string') {
    if (query.since >= query.until)
      return { ...values, query: { ...query, since: query.until, until: query.since } };
  }
  return values;
}

export function build(shaped: Shaped, plan: Plan, world: World, hugeBytes: number): Built {
  const { op, schemas } = shaped;
  let values = crossFieldRules(op, resolve(plan.values, world) as Record<string, unknown>);
  let body = resolve(plan.body, world);
  let hasBody = plan.hasBody;
  let how: string | null = null;
  let contentType: string | undefined = hasBody ? 'application/json' : undefined;
  let rawBody: string | undefined;
  let csrf = true;
  const b = plan.breakage;
  const random = prng(b?.m.seed ?? 0);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  if (b) {
    switch (b.target) {
      case 'body': {
        const mutated = mutate(schemas.body, body ?? {}, b.m, hugeBytes);
        body = mutated.value;
        hasBody = true;
        contentType ??= 'application/json';
        how = `body: ${mutated.how}`;
        break;
      }
      case 'query':
      case 'path':
      case 'header': {
        const place = b.target;
        const current = (values[place] ?? {}) as Record<string, unknown>;
        const params = op.parameters.filter((p) => p.in === place);
        if (params.length > 0 && random() < 0.5) {
          // Text places break as text: a value no schema reading would take.
          const param = pick(params);
          const broken = pick(place === 'path' ? PATH_BREAKS : QUERY_BREAKS);
          values = { ...values, [place]: { ...current, [param.name]: new RawText(broken) } };
          how = `${place} ${param.name}: ${JSON.stringify(broken).slice(0, 40)}`;
        } else {
          const mutated = mutate(schemas[place], current, b.m, 20_000);
          values = { ...values, [place]: mutated.value };
          how = `${place}: ${mutated.how}`;
        }
        break;
      }
      case 'raw body':
        hasBody = true;
        rawBody = pick(RAW_BODIES);
        contentType = 'application/json';
        how = `raw body ${JSON.stringify(rawBody)}`;
        break;
      case 'content type':
        hasBody = true;
        contentType = pick(CONTENT_TYPES);
        how = `content type ${JSON.stringify(contentType)}`;
        if (contentType === 'application/x-www-form-urlencoded') rawBody = 'username=a&password=b&x[y]=1';
        break;
      case 'no csrf':
        csrf = false;
        how = 'no CSRF token';
        break;
      case 'no body':
        hasBody = false;
        contentType = random() < 0.5 ? 'application/json' : undefined;
        how = `no body${contentType ? ' (JSON content type)' : ''}`;
        break;
    }
  }
  // The path: each {param} filled, percent-encoded, unless breaking it left something else there.
  const pathValues = isRecord(values.path) ? values.path : {};
  let path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = pathValues[name];
    if (value === undefined) return '';
    // The wildcard of widget routes spans segments: its slashes stay, and a segment already percent-encoded
    // (`@acme%2Fgauge`, from the pools) is left as it is.
    if (name === '*') {
      return String(value)
        .split('/')
        .map((s) => (isPercentEncoded(s) ? s : encode(s)))
        .join('/');
    }
    // Kept as they are (a client may send `%zz` or `..`), but for what no request line may hold raw.
    if (value instanceof RawText) return value.text.replace(/[^\x21-\x7e]/gu, (c) => encode(c));
    return encode(value);
  });
  const query = isRecord(values.query)
    ? values.query
    : values.query === undefined
      ? {}
      : { broken: values.query };
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) parts.push(`${encode(name)}=${encode(item)}`);
    else if (value instanceof RawText) parts.push(`${encode(name)}=${value.text}`);
    else parts.push(`${encode(name)}=${encode(value)}`);
  }
  if (parts.length) path += `?${parts.join('&')}`;
  const headers: Record<string, string> = {};
  const headerValues = isRecord(values.header) ? values.header : {};
  for (const [name, value] of Object.entries(headerValues)) {
    // A name that is not an HTTP token cannot be sent (and undici's pool stalls on one it refuses).
    if (value === undefined || value instanceof DeepJson || !HEADER_NAME.test(name)) continue;
    // Header values are Latin-1 text without controls; anything else would not leave the client.
    const raw =
      value instanceof RawText ? value.text : typeof value === 'string' ? value : JSON.stringify(value);
    const text = raw.replace(/[^\x20-\x7e]/g, '?');
    headers[name] = text.slice(0, 8000);
  }
  const accept = ACCEPT[plan.accept];
  if (accept) headers.accept = accept;
  let text: string | undefined;
  if (hasBody) {
    text = rawBody ?? (body === undefined ? undefined : jsonText(body));
    if (contentType) headers['content-type'] = contentType;
  }
  return {
    method: op.method,
    path,
    headers,
    body: text,
    how,
    oversized: text !== undefined && Buffer.byteLength(text) > 1024 * 1024,
    csrf,
    identity: plan.identity,
  };
}
