import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/** OpenAPI 3.1 generated from the route schemas, served at /openapi.json. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Switchboard API', version, description: 'Backend for live operations dashboards.' },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
