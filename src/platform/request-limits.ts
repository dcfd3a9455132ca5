import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import { AppError, ErrorCode, type ErrorCodeValue } from './problem.js';
import { newRequestId } from './request-context.js';
import { answerOnSocket } from './socket-answer.js';

export interface RequestLimits {
  readonly bodyLimitBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
}

/**
 * How much a client may send and how slowly. Node checks the header and request deadlines on a timer, every
 * 30 s by default; checking every second cuts a client that trickles its headers off within a second of
 * its deadline, and the event loop never waits on it meanwhile.
 */
export function requestLimitOptions(limits: RequestLimits): FastifyHttpOptions<Server> {
  return {
    bodyLimit: limits.bodyLimitBytes,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    clientErrorHandler: answerClientError,
  };
}

/** Refuses a request with more header fields than allowed (Node would silently drop the surplus). */
export function registerHeaderCountLimit(app: FastifyInstance, maxHeaders: number): void {
  // One more than allowed is parsed, so a request over the limit can be told from one at it.
  app.server.maxHeadersCount = maxHeaders + 1;
  // Callback style, as the other hooks every request takes: no promise per request.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.rawHeaders.length / 2 > maxHeaders) {
      done(new AppError(ErrorCode.headersTooLarge, `too many header fields (at most ${maxHeaders})`));
    } else done();
  });
}

/**
 * Only JSON bodies reach the routes (and forms where a route adds their parser: the sign-in). Fastify
 * reads text/plain as a string by default, which a route's schema then refused as a 422; without the
 * parser it is a 415 (code 2004), as is every other type.
 */
export function acceptJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
}

/**
 * How long and how much of a refused body is still read, and thrown away, after the answer that refuses it.
 * Closing at once while the client is still sending makes the kernel reset the connection, and a reset can
 * take the answer with it: the client sees ECONNRESET or EPIPE, not the 413. Reading on for a while (a
 * lingering close, as nginx does) lets the answer arrive; the bounds cut off a client that sends forever.
 */
export const LINGER = { totalMs: 5000, idleMs: 1000, bytes: 64 * 1024 * 1024 } as const;

/** The answers that refuse a body because of what it is (too large, not JSON), before it has all arrived. */
const BODY_REFUSALS = new Set([413, 415]);

/**
 * Whether an answer closes its connection: while `closing` (the server shutting down), or when it refuses
 * a body still arriving (nothing after that body can be trusted to start where it ends). Any answer that
 * closes a connection with its request's body still arriving (those, or one the client asked to close,
 * given by a route that never reads a body, as a GET's) lingers before the close (LINGER), which this
 * arms. For the response class's `closesConnection` (answer-headers.ts).
 */
export function closesConnection(response: ServerResponse, statusCode: number, closing: boolean): boolean {
  if (response.req.complete) return closing;
  const closes = closing || BODY_REFUSALS.has(statusCode);
  if (closes || !response.shouldKeepAlive) lingerOnClose(response.req);
  return closes;
}

/**
 * Node closes a `Connection: close` answer's socket with `destroySoon()` as soon as the answer is out. Here
 * it ends the sending side instead, so the client reads the answer to its end, and goes on reading what
 * the client still sends (Node's parser throws the rest of the body away: `request` gives it here only to
 * be counted). It closes once the body or the client's side has ended, or at the first of LINGER's bounds.
 */
function lingerOnClose(request: IncomingMessage): void {
  const socket = request.socket as Socket & { destroySoon?: () => void };
  if (typeof socket.destroySoon !== 'function') return;
  socket.destroySoon = () => {
    socket.end();
    const cutOff = () => socket.destroy();
    const total = setTimeout(cutOff, LINGER.totalMs).unref();
    let idle = setTimeout(cutOff, LINGER.idleMs).unref();
    socket.once('close', () => {
      clearTimeout(total);
      clearTimeout(idle);
    });
    let read = 0;
    request.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > LINGER.bytes) return cutOff();
      clearTimeout(idle);
      idle = setTimeout(cutOff, LINGER.idleMs).unref();
    });
    // Closed before the answer is all out, the connection would lose its end.
    const closeOnceAnswered = () => {
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', cutOff);
    };
    if (request.readableEnded) closeOnceAnswered();
    request.once('end', closeOnceAnswered);
    socket.once('end', closeOnceAnswered);
    request.resume();
  };
}

const CLIENT_ERRORS: Record<string, { code: ErrorCodeValue; detail: string }> = {
  HPE_HEADER_OVERFLOW: { code: ErrorCode.headersTooLarge, detail: 'request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: ErrorCode.requestTimeout, detail: 'the request took too long to arrive' },
};

/**
 * Malformed or too-slow HTTP that never reaches a route still gets a problem document, then the socket
 * closes. No request was parsed, so its id is a new one.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A response already going out on this socket cannot be followed by another one (Node's own rule).
  if ((socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent) {
    socket.destroy(error);
    return;
  }
  const known = CLIENT_ERRORS[error.code ?? ''] ?? {
    code: ErrorCode.malformedRequest,
    detail: 'malformed HTTP request',
  };
  answerOnSocket(socket, new AppError(known.code, known.detail), newRequestId());
}
