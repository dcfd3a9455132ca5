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
