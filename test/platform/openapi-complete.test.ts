import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationIdOf } from '../../src/platform/openapi-answers.js';
import { startTestApp, type TestApp } from '../fixture.js';

/**
 * The completeness rules of /openapi.json (docs/api.md, "The OpenAPI document"), checked without Spectral so
 * that a route added without them fails the suite at once: `npm run lint:api` holds the same document to
 * the OWASP ruleset in CI.
 */

type Json = Record<string, any>;
type Doc = { paths: Record<string, Record<string, Json>>; components: Json; tags?: { name: string }[] };

/** The owner-only refusals (src/workspaces/routes.ts): they exist to answer a grantee's 403. */
const NEVER_SUCCEED = new Set([
  'DELETE /api/v1/shared/{owner}/{name}',
  'POST /api/v1/shared/{owner}/{name}/rename',
  'PUT /api/v1/shared/{owner}/{name}/grants',
]);

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

function operationsOf(doc: Doc): { id: string; op: Json }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })),
  );
}

/** Follows a local `$ref` (`#/components/…`) to what it names. */
function resolve(doc: Doc, node: Json): Json {
  let current = node;
  while (current && typeof current.$ref === 'string') {
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce((at: Json, key: string) => at?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
  }
  return current;
}

const typesOf = (schema: Json): string[] =>
  Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];

/** Every string, integer and array in an input schema that lacks its bounds, by where it is. */
function unbounded(doc: Doc, schema: Json, where: string, seen = new Set<Json>()): string[] {
  const node = resolve(doc, schema);
  if (!node || typeof node !== 'object' || seen.has(node)) return [];
  seen.add(node);
  const out: string[] = [];
  const types = typesOf(node);
  const fixed = 'enum' in node || 'const' in node;
  if (types.includes('string') && !fixed && node.maxLength === undefined) out.push(`${where}: string`);
  if (types.includes('integer') && !fixed) {
    const min = node.minimum ?? node.exclusiveMinimum;
    const max = node.maximum ?? node.exclusiveMaximum;
    if (min === undefined || max === undefined || !node.format) out.push(`${where}: integer`);
  }
  if (types.includes('array') && node.maxItems === undefined) out.push(`${where}: array`);
  for (const [key, child] of Object.entries(node)) {
    if (['properties', 'patternProperties', '$defs'].includes(key) && child && typeof child === 'object') {
      for (const [name, sub] of Object.entries(child as Json)) {
        out.push(...unbounded(doc, sub, `${where}/${name}`, seen));
      }
    } else if (
      ['items', 'additionalProperties', 'not', 'contains'].includes(key) &&
      typeof child === 'object'
    ) {
      out.push(...unbounded(doc, child, `${where}/${key}`, seen));
    } else if (['anyOf', 'oneOf', 'allOf', 'prefixItems'].includes(key) && Array.isArray(child)) {
      child.forEach((sub, i) => out.push(...unbounded(doc, sub, `${where}/${key}/${i}`, seen)));
    }
  }
  return out;
}

/** What a document breaks of the completeness rules, one line per fault. */
function faultsOf(doc: Doc): string[] {
  const faults: string[] = [];
  const ids = new Map<string, string>();
  const tags = new Set((doc.tags ?? []).map((tag) => tag.name));
  for (const { id, op } of operationsOf(doc)) {
    const fault = (what: string) => faults.push(`${id}: ${what}`);
    if (!op.operationId) fault('no operationId');
    else if (ids.has(op.operationId))
      fault(`operationId ${op.operationId} is also ${ids.get(op.operationId)}`);
    else ids.set(op.operationId, id);
    if (!(op.tags?.length > 0)) fault('no tag');
    for (const tag of op.tags ?? []) if (!tags.has(tag)) fault(`tag ${tag} is not in the document's tags`);
    if (!op.summary) fault('no summary');
    if (!(Array.isArray(op.security) && op.security.length > 0)) fault('no security');
    const responses: Record<string, Json> = op.responses ?? {};
    const statuses = Object.keys(responses);
    if (statuses.some((status) => responses[status]?.description === 'Default Response')) {
      fault("a placeholder response (@fastify/swagger's 200 for a route that declares none)");
    }
    if (!statuses.some((status) => Number(status) < 400) && !NEVER_SUCCEED.has(id)) {
      fault('no success answer');
    }
    const api = id.includes(' /api/') || id.includes(' /widget-assets');
    const needs = ['500', '503'];
    if (api) needs.push('400', '429');
    const anonymous = (op.security ?? []).some((entry: Json) => Object.keys(entry).length === 0);
    if (api && !anonymous) needs.push('401', '403');
    // A wildcard (`*`) is the rest of the path, never validated.
    const validated = (op.parameters ?? []).some((parameter: Json) => parameter.name !== '*');
    if (validated || op.requestBody) needs.push('422');
    for (const status of needs) if (!statuses.includes(status)) fault(`no ${status}`);
    for (const status of statuses) {
      const response = resolve(doc, responses[status] as Json);
      const headers = Object.keys(response.headers ?? {});
      if (Number(status) >= 400) {
        const content = response.content ?? {};
        if (!content['application/json'] || !content['application/problem+json']) {
          fault(`${status} is not a problem document in both media types`);
        }
      }
      if (api && /^[24]/.test(status)) {
        for (const name of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']) {
          if (!headers.includes(name)) fault(`${status} without ${name}`);
        }
      }
      if ((status === '429' || status === '503') && !headers.includes('Retry-After')) {
        fault(`${status} without Retry-After`);
      }
    }
    for (const parameter of op.parameters ?? []) {
      faults.push(
        ...unbounded(doc, parameter.schema ?? {}, `${parameter.in} ${parameter.name}`).map(
          (where) => `${id}: unbounded ${where}`,
        ),
      );
    }
    for (const [type, media] of Object.entries<Json>(op.requestBody?.content ?? {})) {
      faults.push(
        ...unbounded(doc, media.schema ?? {}, `body (${type})`).map((where) => `${id}: unbounded ${where}`),
      );
    }
  }
  return faults;
}

async function documentOf(t: TestApp): Promise<Doc> {
  const response = await fetch(`${t.url}/openapi.json`);
  expect(response.status).toBe(200);
  return (await response.json()) as Doc;
}

describe('/openapi.json is complete', () => {
  let t: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    t = await startTestApp({
      env: { SWITCHBOARD_METRICS_TOKEN: 'metrics-token-for-the-openapi-test' },
    });
    doc = await documentOf(t);
  });
  afterAll(async () => t?.close());

  it('gives every operation its operationId, tag, summary, security, failures, headers and input bounds', () => {
    expect(operationsOf(doc).length).toBeGreaterThan(50);
    expect(faultsOf(doc)).toEqual([]);
  });

  it('documents what the server answers: 204 for the deletes, 201 for a save', () => {
    const success = (path: string, method: string) =>
      Object.keys(doc.paths[path]?.[method]?.responses ?? {}).filter((status) => /^[23]/.test(status));
    expect(success('/api/v1/users/{id}', 'delete')).toEqual(['204']);
    expect(success('/api/v1/auth/sessions/{id}', 'delete')).toEqual(['204']);
    expect(success('/api/v1/auth/api-keys/{id}', 'delete')).toEqual(['204']);
    expect(success('/api/v1/config/versions/{version}', 'delete')).toEqual(['204']);
    expect(success('/api/v1/widgets/{*}', 'delete')).toEqual(['204']);
    expect(success('/api/v1/auth/logout', 'post')).toEqual(['204']);
    expect(success('/api/v1/config', 'post')).toEqual(['201']);
    expect(success('/api/v1/auth/oidc/login', 'get')).toEqual(['302']);
  });

  it('derives the failures from what each route declares', () => {
    const statuses = (path: string, method: string) =>
      Object.keys(doc.paths[path]?.[method]?.responses ?? {});
    // Public: no 401 from access, but its own wrong-password 401, the foreign-origin 403 and its windows.
    expect(statuses('/api/v1/auth/login', 'post')).toEqual(
      expect.arrayContaining(['401', '403', '422', '429']),
    );
    expect(statuses('/api/v1/auth/providers', 'get')).not.toContain('401');
    expect(statuses('/healthz', 'get')).not.toContain('429');
    expect(doc.paths['/api/v1/auth/login']?.post?.security).toEqual([{}, { session: [] }, { bearer: [] }]);
    expect(doc.paths['/api/v1/auth/me']?.get?.security).toEqual([{ session: [] }, { bearer: [] }]);
    expect(doc.paths['/api/v1/auth/sessions/{id}']?.delete?.operationId).toBe('deleteAuthSessionsById');
  });

  it('names operations after their method and path, one name each', () => {
    expect(operationIdOf('GET', '/api/v1/auth/api-keys')).toBe('getAuthApiKeys');
    expect(operationIdOf('POST', '/api/v1/config/versions/:version/activate')).toBe(
      'postConfigVersionsByVersionActivate',
    );
    expect(operationIdOf('DELETE', '/api/v1/widgets/*')).toBe('deleteWidgetsByPath');
    expect(operationIdOf('GET', '/healthz')).toBe('getHealthz');
  });

  it('fails a route added without bounds, summary or answers', async () => {
    const extra = await startTestApp({
      routes: async (api) => {
        api.post(
          '/unbounded/:name',
          {
            schema: {
              tags: ['nowhere'],
              params: Type.Object({ name: Type.String() }),
              querystring: Type.Object({ n: Type.Optional(Type.Integer()) }),
              body: Type.Object({ list: Type.Array(Type.String()) }),
            },
          },
          async () => ({}),
        );
      },
    });
    try {
      const faults = faultsOf(await documentOf(extra)).filter((fault) => fault.includes('/unbounded/'));
      expect(faults).toEqual(
        expect.arrayContaining([
          "POST /api/v1/unbounded/{name}: tag nowhere is not in the document's tags",
          'POST /api/v1/unbounded/{name}: no summary',
          'POST /api/v1/unbounded/{name}: unbounded query n: integer',
          'POST /api/v1/unbounded/{name}: unbounded body (application/json)/list: array',
          'POST /api/v1/unbounded/{name}: unbounded body (application/json)/list/items: string',
        ]),
      );
      // The path parameter is bounded by the router itself (maxParamLength), so it is not a fault.
      expect(faults.filter((fault) => fault.includes('path name'))).toEqual([]);
    } finally {
      await extra.close();
    }
  });
});
