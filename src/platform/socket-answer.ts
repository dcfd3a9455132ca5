import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { failure } from './envelope.js';
import { type AppError, buildProblem } from './problem.js';
import { securityHeadersOf } from './security.js';

/** How the answer is framed is this writer's alone: an error's headers never turn it into an upgrade. */
const FRAMING = new Set(['connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'content-length']);

/**
 * A problem answer on a socket Fastify never got to answer (HTTP it could not parse, a refused WebSocket
 * upgrade): the same envelope, security headers and request id as every other answer. The socket closes
 * after it: what follows on it is unparsed bytes or a protocol the server declined.
 */
export function answerOnSocket(socket: Duplex, error: AppError, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const problem = buildProblem(error, requestId);
  const body = JSON.stringify(failure(problem));
  // Keyed by lower-case name; a later entry replaces an earlier one, as reply.header does on Fastify's path.
  const headers = new Map<string, string>();
  const set = (name: string, value: string) => headers.set(name.toLowerCase(), `${name}: ${value}`);
  for (const [name, value] of Object.entries(securityHeadersOf(socket))) set(name, value);
  set('X-Request-Id', requestId);
  for (const [name, value] of Object.entries(error.options.headers ?? {})) {
    if (!FRAMING.has(name.toLowerCase())) set(name, value);
  }
  if (problem.retry_after !== null) set('Retry-After', String(problem.retry_after));
  set('Content-Type', 'application/json; charset=utf-8');
  set('Content-Length', String(Buffer.byteLength(body)));
  set('Connection', 'close');
  const statusLine = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`;
  socket.on('error', () => socket.destroy());
  socket.end(`${[statusLine, ...headers.values()].join('\r\n')}\r\n\r\n${body}`);
}
