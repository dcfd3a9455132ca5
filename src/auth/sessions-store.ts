import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, SessionsTable } from '../storage/schema.js';
import type { AuthMethod } from './principal.js';

export interface SessionRecord {
  id: string;
  userId: string;
  authMethod: AuthMethod;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  revokedAt: string | null;
  revokedReason: string | null;
}

export interface RefreshRecord {
  tokenHash: string;
  sessionId: string;
  expiresAt: string;
  usedAt: string | null;
}

function toRecord(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    authMethod: row.auth_method as AuthMethod,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    ip: row.ip,
    userAgent: row.user_agent,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
  };
}

/** The sessions and refresh_tokens tables. */
export class SessionsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(session: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id: session.id,
        user_id: session.userId,
        auth_method: session.authMethod,
        created_at: session.createdAt,
        last_seen_at: session.lastSeenAt,
        expires_at: session.expiresAt,
        ip: session.ip,
        user_agent: session.userAgent,
        revoked_at: null,
        revoked_reason: null,
      })
      .execute();
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** Sessions not revoked, not past their end and not idle since `idleSince`, newest first. */
  async listLive(
    filter: { userId?: string; now: string; idleSince: string },
    after: { createdAt: string; id: string } | undefined,
    limit: number,
  ): Promise<SessionRecord[]> {
    let query = this.db
      .selectFrom('sessions')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', filter.now)
      .where('last_seen_at', '>', filter.idleSince)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    // Row-value comparison, newest first: both engines support it and use the (…, created_at) index.
    if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.createdAt}, ${after.id})`);
    return (await query.execute()).map(toRecord);
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
  }

  /** Revokes the session if still live; true when this call revoked it. */
  async revoke(id: string, at: string, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Revokes every live session of the user but `except`; returns the ids it revoked. */
  async revokeAllOfUser(userId: string, at: string, reason: string, except?: string): Promise<string[]> {
    let query = this.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null);
    if (except) query = query.where('id', '!=', except);
    const ids = (await query.execute()).map((r) => r.id);
    if (ids.length > 0) {
      await this.db
        .updateTable('sessions')
        .set({ revoked_at: at, revoked_reason: reason })
        .where('id', 'in', ids)
        .where('revoked_at', 'is', null)
        .execute();
    }
    return ids;
  }

  async insertRefresh(record: Omit<RefreshRecord, 'usedAt'> & { createdAt: string }): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: record.tokenHash,
        session_id: record.sessionId,
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        used_at: null,
      })
      .execute();
  }

  async findRefresh(tokenHash: string): Promise<RefreshRecord | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row
      ? {
          tokenHash: row.token_hash,
          sessionId: row.session_id,
          expiresAt: row.expires_at,
          usedAt: row.used_at,
        }
      : undefined;
  }

  /** Marks the token spent; false when another request spent it first. */
  async spendRefresh(tokenHash: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Forgets the session's refresh tokens, so older ones read as unknown rather than as replays. */
  async deleteRefreshOfSession(sessionId: string): Promise<void> {
    await this.db.deleteFrom('refresh_tokens').where('session_id', '=', sessionId).execute();
  }

  /**
   * Drops refresh tokens past their end (a spent one is kept until then, to recognise its replay) and
   * sessions that ended before `endedBefore`.
   */
  async prune(now: string, endedBefore: string): Promise<void> {
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).execute();
    await this.db
      .deleteFrom('sessions')
      .where((eb) =>
        eb.or([
          eb('expires_at', '<', endedBefore),
          eb.and([eb('revoked_at', 'is not', null), eb('revoked_at', '<', endedBefore)]),
        ]),
      )
      .execute();
  }
}
