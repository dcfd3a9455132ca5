import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
  hsts: { maxAge: 31_536_000, includeSubDomains: true },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
};

/**
 * The headers helmet sets for these options, read once from a response that is never sent: none of them
 * depends on the request, so one table serves Fastify's answers and those written on a bare socket alike.
 */
function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const response = new ServerResponse(new IncomingMessage(new Socket()));
  let applied = false;
  helmet(options)(response.req, response, (error) => {
    if (error) throw error;
    applied = true;
  });
  if (!applied) throw new Error('helmet did not set its headers synchronously');
  return Object.fromEntries(
    Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)]),
  );
}

const HSTS = 'strict-transport-security';
const HELMET_HEADERS = helmetHeaders(HELMET_OPTIONS);

/**
 * Those of helmet's headers that protect any answer, JSON included (the OWASP REST Security Cheat Sheet's
 * list): a JSON answer opened as a page can load, run and frame nothing; nothing of it is sniffed into
 * another type or fetched by another site without CORS; HSTS holds on every answer. The rest only mean
 * something to a page (its opener, referrers, DNS prefetching, legacy browser switches), so they go out
 * on pages alone (HTML, SVG, XML; answer-headers.ts tells them by type): each header is validated and
 * written on every answer, and seven that a JSON answer does not need cost more than the authentication
 * of a request.
 */
const EVERY_ANSWER = new Set([
  'content-security-policy',
  'cross-origin-resource-policy',
  'x-content-type-options',
  'x-frame-options',
  HSTS,
]);

/** A server's security headers: those of every answer, and those added to HTML answers (pages). */
export interface SecurityHeaders {
  readonly everyAnswer: Readonly<Record<string, string>>;
  readonly pages: Readonly<Record<string, string>>;
}

/**
 * The security headers of a server, whichever path writes its answers. Strict-Transport-Security only when
 * the public URL is https: over plain HTTP it asks browsers for what the server does not serve (and they
 * ignore it there anyway).
 */
export function securityHeaders(publicUrl: string): SecurityHeaders {
  const https = publicUrl.toLowerCase().startsWith('https:');
  const helmet = Object.entries(HELMET_HEADERS).filter(([name]) => https || name !== HSTS);
  return Object.freeze({
    everyAnswer: Object.freeze({
      ...Object.fromEntries(helmet.filter(([name]) => EVERY_ANSWER.has(name))),
      // Answers are per caller and often personal; no shared or browser cache may keep them.
      'cache-control': 'no-store',
    }),
    pages: Object.freeze(Object.fromEntries(helmet.filter(([name]) => !EVERY_ANSWER.has(name)))),
  });
}

const WITHOUT_HSTS = securityHeaders('http:').everyAnswer;
/** The headers of the server each connection came in on, for answers written on the socket itself. */
const headersOfSocket = new WeakMap<object, Readonly<Record<string, string>>>();

/** The security headers for an answer written on `socket` (socket-answer.ts). */
export function securityHeadersOf(socket: object): Readonly<Record<string, string>> {
  return headersOfSocket.get(socket) ?? WITHOUT_HSTS;
}

/**
 * Strict headers on every answer (the server's response class adds them: answer-headers.ts), on those
 * written on a bare socket too; CORS only for listed origins.
 */
export async function registerSecurity(
  app: FastifyInstance,
  options: {
    /** The headers of every answer of the server (`securityHeaders(…).everyAnswer`), as its response class adds them. */
    headers: Readonly<Record<string, string>>;
    corsOrigins: readonly string[];
    corsCredentials: boolean;
  },
): Promise<void> {
  const { headers } = options;
  app.server.prependListener('connection', (socket: Socket) => headersOfSocket.set(socket, headers));
  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: options.corsOrigins.includes('*') ? '*' : [...options.corsOrigins],
      credentials: options.corsCredentials,
      exposedHeaders: [
        'x-request-id',
        'etag',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'end-session-url',
      ],
      maxAge: 600,
    });
  }
}
