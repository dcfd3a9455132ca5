import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** Swagger UI loads only its own same-origin files: no inline script, no third-party host. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The two kinds of OpenAPI security scheme Switchboard uses. */
export type SecurityScheme =
  | { type: 'http'; scheme: 'bearer'; description?: string }
  | { type: 'apiKey'; in: 'cookie' | 'header' | 'query'; name: string; description?: string };

const errorsReference = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** OpenAPI 3.1 generated from the route schemas at /openapi.json, interactive docs at /docs. */
export async function registerOpenApi(
  app: FastifyInstance,
  version: string,
  securitySchemes: Record<string, SecurityScheme> = {},
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Switchboard API', version, description: 'Backend for live operations dashboards.' },
      components: { securitySchemes },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    uiConfig: { validatorUrl: null },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // The `type` of every problem document points here.
  app.get('/docs/errors', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/markdown; charset=utf-8').send(errorsReference),
  );
}
