/**
 * Whether an error says a service the server depends on (its database) could not be reached or dropped
 * the connection, rather than that the request or the code was wrong. Such a failure passes once the
 * service is back: it is a 503 with Retry-After, not a 500.
 */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** PostgreSQL's SQLSTATEs for a lost or refused connection: class 08, and the server shutting down or starting. */
const SQLSTATE = /^(?:08...|57P0[123])$/;
/** What node-postgres says, without a code, when its connection goes away or never comes. */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];

export function isUnreachableService(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATE.test(code))) return true;
  if (DRIVER_MESSAGES.some((message) => error.message.startsWith(message))) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isUnreachableService(inner, depth + 1)))
    return true;
  return isUnreachableService(error.cause, depth + 1);
}
