import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { LoggerOptions } from 'pino';
import { isLevelEnabled } from './request-logger.js';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The id of an answer that has no request to take one from (HTTP the server could not parse). */
export function newRequestId(): string {
  return randomUUID();
}

// Fastify, the raw response and the WebSocket upgrade each ask for a request's id; they must agree. Kept
// on the request itself: a WeakMap entry per request cost more, in the map and in the collector.
const REQUEST_ID = Symbol('switchboard.requestId');
type WithId = IncomingMessage & { [REQUEST_ID]?: string };

/** A caller's X-Request-Id is kept when it is a plain token (for tracing across services), else one is made. */
export function requestIdOf(request: IncomingMessage): string {
  let id = (request as WithId)[REQUEST_ID];
  if (id === undefined) {
    const given = request.headers['x-request-id'];
    id = typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : newRequestId();
    (request as WithId)[REQUEST_ID] = id;
  }
  return id;
}

/** Query parameters whose values are credentials, by name as the query parser reads it. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set([
  'token',
  'ticket',
  'access_token',
  'refresh_token',
  'api_key',
  'password',
  'setup_token',
  // What an identity provider sends back to a sign-in's callback.
  'code',
  'state',
  'id_token',
]);

/** A parameter name decoded as the query parser decodes it (`%74oken` is `token`); undefined if it cannot be. */
function parameterName(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' ')).toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The URL as logs may show it: the value of every credential parameter replaced, matched by its decoded
 * name, so that an encoding the parser undoes cannot smuggle one past. A name that cannot be decoded is
 * redacted too.
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  // Everything after the `?`, a stray `#` included: what a parser might read as a parameter is checked.
  const redacted = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const name = parameterName(pair.slice(0, eq));
      return name === undefined || SECRET_PARAMS.has(name) ? `${pair.slice(0, eq)}=[REDACTED]` : pair;
    });
  return `${url.slice(0, start + 1)}${redacted.join('&')}`;
}

/** Structured JSON logs; credentials never reach them. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-csrf-token"]',
        'req.headers["x-setup-token"]',
        'res.headers["set-cookie"]',
        '*.password',
        '*.new_password',
        '*.current_password',
        '*.token',
        '*.access_token',
        '*.refresh_token',
        '*.setup_token',
        '*.id_token',
        '*.secret',
      ],
      censor: '[REDACTED]',
    },
  };
}

export function registerRequestContext(app: FastifyInstance): void {
  // Below info the line is never written: no hook, and no URL redacted for nothing, on every request.
  if (!isLevelEnabled(app.log, 'info')) return;
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request completed',
    );
  });
}
