import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { addressKey } from '../platform/client-ip.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { auditContext } from './request.js';

/** The refusals worth a record: what a probing caller, or a stolen credential, runs into. */
const AUDITED = new Map<number, string>([
  [ErrorCode.csrfRejected, 'auth.csrf_refused'],
  [ErrorCode.forbidden, 'auth.access_denied'],
  [ErrorCode.rateLimited, 'ratelimit.refused'],
  [ErrorCode.operationRateLimited, 'ratelimit.refused'],
  [ErrorCode.concurrencyCap, 'ratelimit.refused'],
]);

/**
 * An onError hook that records CSRF refusals, access denials and the rate-limit refusals of signed-in
 * users in the audit log, with who and what route, sampled per type and caller (the user, else the
 * client's address block) so that provoking them cannot flood the table. Anonymous rate-limit refusals
 * say nothing about an account and are left to the metrics.
 */
export function refusalAudit(audit: AuditService, log: { warn(obj: object, msg: string): void }) {
  return async (request: FastifyRequest, _reply: FastifyReply, error: Error): Promise<void> => {
    if (!(error instanceof AppError)) return;
    const type = AUDITED.get(error.code);
    const principal = request.principal;
    if (type === undefined || (type === 'ratelimit.refused' && !principal)) return;
    const caller = principal ? `user:${principal.userId}` : `ip:${addressKey(request.ip ?? '')}`;
    try {
      await audit.recordSampled(caller, auditContext(request), {
        type,
        outcome: 'failure',
        detail: {
          method: request.method,
          route: request.routeOptions.url ?? null,
          status: error.status,
          code: error.code,
          credential: principal?.credential ?? null,
          ...(principal?.apiKeyId ? { api_key_id: principal.apiKeyId } : {}),
        },
      });
    } catch (failure) {
      // The refusal goes out whatever happens to its record.
      log.warn({ err: failure }, 'could not record a refusal in the audit log');
    }
  };
}
