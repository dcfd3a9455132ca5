import SwaggerParser from '@apidevtools/swagger-parser';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { withTimeout } from '../../src/platform/health.js';
import { DOCS_CSP } from '../../src/platform/openapi.js';
import { startTestApp } from '../fixture.js';

describe('health and metrics', () => {
  it('bounds a check that never answers', async () => {
    await expect(withTimeout(new Promise(() => {}), 50, 'database')).rejects.toThrow(/within 50 ms/);
  });

  it('serve /healthz and the OpenAPI document', async () => {
    const t = await startTestApp();
    try {
      const health = await request(`${t.url}/healthz`);
      expect(await health.body.json()).toMatchObject({
        status: 'ok',
        version: '0.1.0',
        uptime_seconds: expect.any(Number),
      });
      const spec = (await (await request(`${t.url}/openapi.json`)).body.json()) as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      expect(spec.openapi).toBe('3.1.0');
      expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz']));
      const metrics = await request(`${t.url}/metrics`);
      await metrics.body.text();
      expect(metrics.statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });

  it('expose metrics only with the bearer token', async () => {
    const token = 'metrics-token-0123456789';
    const t = await startTestApp({ env: { SWITCHBOARD_METRICS_TOKEN: token } });
    try {
      await (await request(`${t.url}/healthz`)).body.text();
      const denied = await request(`${t.url}/metrics`, { headers: { authorization: 'Bearer wrong' } });
      await denied.body.text();
      expect(denied.statusCode).toBe(401);
      const res = await request(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1/,
      );
    } finally {
      await t.close();
    }
  });
});

describe('API documentation', () => {
  it('is a valid OpenAPI 3.1 document, with interactive docs under a CSP that admits only their own files', async () => {
    const t = await startTestApp();
    try {
      const spec = (await (await request(`${t.url}/openapi.json`)).body.json()) as Parameters<
        typeof SwaggerParser.validate
      >[0];
      await expect(SwaggerParser.validate(structuredClone(spec))).resolves.toBeTruthy();
      const page = await request(`${t.url}/docs/`);
      const html = await page.body.text();
      expect(page.statusCode).toBe(200);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toBe(DOCS_CSP);
      expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
      for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        expect(src[1], 'same-origin asset').not.toMatch(/^(https?:)?\/\//);
        const asset = await request(new URL(src[1] ?? '', `${t.url}/docs/`).toString());
        await asset.body.text();
        expect(asset.statusCode, src[1]).toBe(200);
      }
      const api = await request(`${t.url}/healthz`);
      await api.body.text();
      expect(String(api.headers['content-security-policy'])).toContain("default-src 'none'");
      const errors = await request(`${t.url}/docs/errors`);
      expect(await errors.body.text()).toContain('| 3002 | 404 |');
    } finally {
      await t.close();
    }
  });
});
