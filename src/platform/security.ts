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

/** The security headers of every answer, whichever path writes it. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...helmetHeaders(HELMET_OPTIONS),
  // Answers are per caller and often personal; no shared or browser cache may keep them.
  'cache-control': 'no-store',
});

const SECURITY_ENTRIES = Object.entries(SECURITY_HEADERS);

/** Strict headers on every response, errors and 404s included; CORS only for listed origins. */
export async function registerSecurity(
  app: FastifyInstance,
  options: { corsOrigins: readonly string[]; corsCredentials: boolean },
): Promise<void> {
  // Set on the raw response as Node hands it over, before Fastify routes the request: a malformed URL, an
  // error thrown by an earlier hook or the 503 while closing carry them too. A route can still override
  // one (the docs UI sends its own Content-Security-Policy).
  app.server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    for (const [name, value] of SECURITY_ENTRIES) response.setHeader(name, value);
  });
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
      ],
      maxAge: 600,
    });
  }
}
