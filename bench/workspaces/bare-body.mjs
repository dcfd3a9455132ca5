/**
 * The floor of bench/workspaces: a bare Fastify 5 server, no plugins, no hooks, no logger, whose GET /
 * answers the bytes of the file BENCH_BODY_FILE (read once, kept as a Buffer) as application/json: what
 * sending a body of that size costs on this machine, whatever builds it. GET /readyz answers 200 for the
 * bench's readiness check. Listens on HOST:PORT (127.0.0.1 only); SIGTERM stops it.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const body = readFileSync(process.env.BENCH_BODY_FILE ?? '');
const app = Fastify({ logger: false });
app.get('/', (_request, reply) => {
  reply.type('application/json; charset=utf-8').send(body);
});
app.get('/readyz', () => ({ ready: true }));
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
