import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemShape, startTestApp, type TestApp } from '../fixture.js';

let t: TestApp;
let pool: Pool;
beforeAll(async () => {
  t = await startTestApp({ env: { SWITCHBOARD_BODY_LIMIT_BYTES: '4096', SWITCHBOARD_LOG_LEVEL: 'silent' } });
  pool = new Pool(t.url, { connections: 4 });
});
afterAll(async () => {
  await pool.close();
  await t.close();
});

const segment = fc.oneof(
  fc.constantFrom(
    'api',
    'v1',
    'healthz',
    'readyz',
    'openapi.json',
    'metrics',
    '..',
    '.',
    '%',
    '%zz',
    '%00',
    '%2e%2e',
    'docs',
    'auth',
  ),
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
);
const path = fc
  .tuple(fc.array(segment, { maxLength: 6 }), fc.option(fc.string({ maxLength: 20 }).map(encodeURIComponent)))
  .map(([parts, query]) => `/${parts.join('/')}${query ? `?${query}=${query}` : ''}`);
const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  path,
  contentType: fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/merge-patch+json',
        'text/plain',
        'multipart/form-data',
        'application/json; charset=latin1',
      ),
      headerValue,
    ),
  ),
  accept: fc.option(
    fc.oneof(
      fc.constantFrom('application/problem+json', 'application/json', '*/*', 'text/html'),
      headerValue,
    ),
  ),
  origin: fc.option(headerValue),
  body: fc.option(
    fc.oneof(fc.json(), fc.string({ maxLength: 200 }), fc.string({ minLength: 5000, maxLength: 6000 })),
  ),
});

describe('random requests', () => {
  it('never get a 5xx, and every error is a problem document', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType !== null) headers['content-type'] = r.contentType;
        if (r.accept !== null) headers.accept = r.accept;
        if (r.origin !== null) headers.origin = r.origin;
        const hasBody = r.body !== null && !['GET', 'HEAD'].includes(r.method);
        const res = await pool.request({
          method: r.method as 'GET',
          path: r.path,
          headers,
          body: hasBody ? (r.body ?? undefined) : undefined,
        });
        const text = await res.body.text();
        expect(res.statusCode, `${r.method} ${r.path}`).toBeLessThan(500);
        if (res.statusCode >= 400 && r.method !== 'HEAD') {
          const parsed = JSON.parse(text);
          const problem = String(res.headers['content-type']).startsWith('application/problem+json');
          expect(problem ? problemShape.isProblem(parsed) : problemShape.isEnvelope(parsed), text).toBe(true);
        }
      }),
      { numRuns: 1200 },
    );
  }, 120_000);
});
