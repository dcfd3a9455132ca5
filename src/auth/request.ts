import type { FastifyRequest } from 'fastify';
import type { AuditContext } from '../audit/service.js';
import type { ClientMeta } from './context.js';

export function clientMeta(request: FastifyRequest): ClientMeta {
  const agent = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: agent ? agent.slice(0, 512) : null };
}

export function auditContext(request: FastifyRequest): AuditContext {
  const principal = request.principal;
  return {
    actor: principal ? { id: principal.userId, username: principal.username } : null,
    ...clientMeta(request),
  };
}

/** The bearer credential of the Authorization header, if any. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
