import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { completeDocument, type TransportLimits, transformRoute } from './openapi-answers.js';
import { type OpenApiObject, sharedParts } from './openapi-components.js';

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
  limits: Pick<TransportLimits, 'maxHeaderBytes'> = { maxHeaderBytes: 16_384 },
): Promise<void> {
  const transport: TransportLimits = {
    maxParamLength: app.initialConfig.routerOptions?.maxParamLength ?? 100,
    maxHeaderBytes: limits.maxHeaderBytes,
  };
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Switchboard API', version, description: 'Backend for live operations dashboards.' },
      components: { securitySchemes },
    },
    // What every route's options already say (access, limits, input) becomes its operationId, security and
    // failures here, once, rather than repeated in each route's schema.
    transform: transformRoute,
    transformObject: (documentObject) => {
      const document = (documentObject as { openapiObject: unknown }).openapiObject as OpenApiObject;
      sharedParts(document);
      return completeDocument(document, transport);
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
