import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { AuditSampler, REFUSAL_SAMPLING, type SamplingPolicy } from './sampler.js';
import { type AuditQuery, type AuditRow, AuditStore } from './store.js';

export type AuditOutcome = 'success' | 'failure';

/** Who acted and from where; taken from the request, or `cli` for the command line. */
export interface AuditContext {
  actor: { id: string | null; username: string | null } | null;
  ip: string | null;
  userAgent: string | null;
}

export interface AuditEvent {
  type: string;
  outcome: AuditOutcome;
  target?: { type: string; id: string };
  /** Facts about the event; keys that look like secrets are masked whatever their value. */
  detail?: Record<string, unknown>;
}

const SECRET_KEY = /password|secret|token|hash|^key$/i;

function masked(detail: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!detail) return null;
  return Object.fromEntries(
    Object.entries(detail).map(([key, value]) => [key, SECRET_KEY.test(key) ? '[REDACTED]' : value]),
  );
}

/** The append-only record of security and configuration events. */
export class AuditService {
  private readonly sampler: AuditSampler;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
    sampling: SamplingPolicy = REFUSAL_SAMPLING,
  ) {
    this.sampler = new AuditSampler(sampling, now);
  }

  /** Pass the transaction that makes the change, so the change and its record commit together. */
  async record(
    context: AuditContext,
    event: AuditEvent,
    executor: Kysely<Database> = this.db,
  ): Promise<void> {
    await new AuditStore(executor).append({
      at: new Date(this.now()).toISOString(),
      type: event.type,
      outcome: event.outcome,
      actorId: context.actor?.id ?? null,
      actorUsername: context.actor?.username ?? null,
      ip: context.ip,
      userAgent: context.userAgent,
      targetType: event.target?.type ?? null,
      targetId: event.target?.id ?? null,
      detail: masked(event.detail),
    });
  }

  /**
   * Records events a caller can provoke at will (refusals) at most once a minute per `key`, with
   * `detail.left_out`: how many of that key went unrecorded before this one. True when it was recorded.
   */
  async recordSampled(key: string, context: AuditContext, event: AuditEvent): Promise<boolean> {
    const leftOut = this.sampler.admit(`${event.type}\u0000${key}`);
    if (leftOut === undefined) return false;
    await this.record(context, { ...event, detail: { ...event.detail, left_out: leftOut } });
    return true;
  }

  async list(query: AuditQuery): Promise<AuditRow[]> {
    return new AuditStore(this.db).list(query);
  }
}

export const CLI_CONTEXT: AuditContext = { actor: { id: null, username: 'cli' }, ip: null, userAgent: null };
