import type { Kysely, Selectable } from 'kysely';
import type { AuditEventsTable, Database } from '../storage/schema.js';

export interface AuditRow {
  id: number;
  at: string;
  type: string;
  outcome: string;
  actorId: string | null;
  actorUsername: string | null;
  ip: string | null;
  userAgent: string | null;
  targetType: string | null;
  targetId: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  types?: string[];
  /** A user id or a username. */
  actor?: string;
  since?: string;
  until?: string;
  beforeId?: number;
  limit: number;
}

function toRow(row: Selectable<AuditEventsTable>): AuditRow {
  return {
    id: Number(row.id),
    at: row.at,
    type: row.type,
    outcome: row.outcome,
    actorId: row.actor_id,
    actorUsername: row.actor_username,
    ip: row.ip,
    userAgent: row.user_agent,
    targetType: row.target_type,
    targetId: row.target_id,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

/** The audit_events table: inserts and reads only (the database refuses updates and deletes). */
export class AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(row: Omit<AuditRow, 'id'>): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        at: row.at,
        type: row.type,
        outcome: row.outcome,
        actor_id: row.actorId,
        actor_username: row.actorUsername,
        ip: row.ip,
        user_agent: row.userAgent,
        target_type: row.targetType,
        target_id: row.targetId,
        detail: row.detail === null ? null : JSON.stringify(row.detail),
      })
      .execute();
  }

  /** Newest first. */
  async list(query: AuditQuery): Promise<AuditRow[]> {
    let select = this.db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(query.limit);
    if (query.types && query.types.length > 0) select = select.where('type', 'in', query.types);
    if (query.actor) {
      const actor = query.actor;
      select = select.where((eb) => eb.or([eb('actor_id', '=', actor), eb('actor_username', '=', actor)]));
    }
    if (query.since) select = select.where('at', '>=', query.since);
    if (query.until) select = select.where('at', '<', query.until);
    if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
    return (await select.execute()).map(toRow);
  }
}
