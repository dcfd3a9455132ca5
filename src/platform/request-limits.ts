import type { Server, ServerResponse } from 'node:http';
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
  app.addHook('onRequest', async (request) => {
    if (request.raw.rawHeaders.length / 2 > maxHeaders) {
      throw new AppError(ErrorCode.headersTooLarge, `too many header fields (at most ${maxHeaders})`);
    }
  });
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
