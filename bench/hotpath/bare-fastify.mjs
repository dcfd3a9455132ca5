/**
 * The baseline of bench/hotpath: a bare Fastify 5 hello-world, no plugins, no hooks, no logger. GET /
 * answers `{"hello":"world"}`; GET /readyz answers 200 for the bench's readiness check. Listens on
 * HOST:PORT (127.0.0.1 only); SIGTERM stops it.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
app.get('/readyz', async () => ({ status: 'ok' }));

process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
