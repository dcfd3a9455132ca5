/**
 * The baseline of bench/widgets: a bare Fastify 5 with @fastify/static 8 and nothing else (no logger, no
 * hooks, no authentication), serving the files of BENCH_STATIC_ROOT under the URL prefix
 * BENCH_STATIC_PREFIX. @fastify/static keeps nothing in memory: each request stats the file and streams it
 * from disk (the page cache). Files are sent as immutable for a year, as Switchboard sends widget files.
 * GET /readyz answers 200 for the bench's readiness check. Listens on HOST:PORT (127.0.0.1 only); SIGTERM
 * stops it.
 */
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
await app.register(fastifyStatic, {
  root: resolve(process.env.BENCH_STATIC_ROOT ?? '.'),
  prefix: process.env.BENCH_STATIC_PREFIX ?? '/',
  maxAge: '365d',
  immutable: true,
});
app.get('/readyz', async () => ({ status: 'ok' }));

process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
