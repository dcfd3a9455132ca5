import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

type Operation = { security?: unknown[]; tags?: string[] };

describe('OpenAPI document of identity routes', () => {
  it('lists every identity route (docs/auth.md) and marks which need credentials', async () => {
    const spec = (await (await request(`${t.url}/openapi.json`)).body.json()) as {
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, { type: string }> };
    };
    expect(Object.keys(spec.components.securitySchemes).sort()).toEqual(['bearer', 'session']);
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
    const routes = operations.map((o) => o.route);
    for (const route of [
      'POST /api/v1/auth/setup',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/refresh',
      'POST /api/v1/auth/logout',
      'GET /api/v1/auth/me',
      'GET /api/v1/auth/validate',
      'POST /api/v1/auth/password',
      'GET /api/v1/auth/sessions',
      'DELETE /api/v1/auth/sessions/{id}',
      'GET /api/v1/auth/api-keys',
      'POST /api/v1/auth/api-keys',
      'DELETE /api/v1/auth/api-keys/{id}',
      'POST /api/v1/auth/ws-ticket',
      'GET /api/v1/auth/roles',
      'GET /api/v1/auth/providers',
      'GET /api/v1/auth/oidc/login',
      'GET /api/v1/auth/oidc/callback',
      'POST /api/v1/auth/msal',
      'GET /api/v1/users',
      'POST /api/v1/users',
      'GET /api/v1/users/{id}',
      'PATCH /api/v1/users/{id}',
      'DELETE /api/v1/users/{id}',
      'GET /api/v1/audit',
    ]) {
      expect(routes).toContain(route);
    }
    const open = new Set([
      'POST /api/v1/auth/setup',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/refresh',
      'POST /api/v1/auth/logout',
      'GET /api/v1/auth/validate',
      'GET /api/v1/auth/providers',
      'GET /api/v1/auth/oidc/login',
      'GET /api/v1/auth/oidc/callback',
      'POST /api/v1/auth/msal',
    ]);
    for (const { route, op } of operations.filter((o) => o.route.includes(' /api/v1/'))) {
      // `{}` among the alternatives: no credential needed (src/platform/openapi-answers.ts).
      const anonymous = (op.security ?? []).some((entry) => Object.keys(entry as object).length === 0);
      expect(anonymous, route).toBe(open.has(route));
      expect(op.security?.length, route).toBeGreaterThan(0);
    }
  });
});
