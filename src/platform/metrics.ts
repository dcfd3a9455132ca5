import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';
import { bearerToken } from './bearer.js';
import { AppError, ErrorCode } from './problem.js';
import { sameSecret } from './secrets.js';

/**
 * Prometheus exposition at /metrics behind a bearer token; absent when no token is configured. Features
 * register their own metrics in `registry`.
 */
export function registerMetrics(app: FastifyInstance, token: string | undefined, registry: Registry): void {
  if (token === undefined) return;
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    const given = bearerToken(request.headers.authorization) ?? '';
    if (!sameSecret(given, token)) {
      throw new AppError(ErrorCode.unauthorized, 'a valid metrics bearer token is required', {
        headers: { 'www-authenticate': 'Bearer realm="metrics"' },
      });
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
