import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import { failure } from './envelope.js';
import { AppError, buildProblem, ErrorCode } from './problem.js';

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
  app.addHook('onRequest', async (request) => {
    if (request.raw.rawHeaders.length / 2 > maxHeaders) {
      throw new AppError(431, ErrorCode.malformedRequest, `too many header fields (at most ${maxHeaders})`);
    }
  });
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    detail: 'request headers are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    reason: 'Request Timeout',
    detail: 'the request took too long to arrive',
  },
};

/** Malformed or too-slow HTTP that never reaches a route still gets a problem document, then the socket closes. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy(error);
    return;
  }
  const known = CLIENT_ERRORS[error.code ?? ''] ?? {
    status: 400,
    reason: 'Bad Request',
    detail: 'malformed HTTP request',
  };
  const problem = buildProblem(new AppError(known.status, ErrorCode.malformedRequest, known.detail), 'none');
  const body = JSON.stringify(failure(problem));
  socket.end(
    `HTTP/1.1 ${known.status} ${known.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
