import { type Kysely, type Selectable, sql } from 'kysely';
import type { ApiKeysTable, Database } from '../storage/schema.js';
import type { Role } from './roles.js';

export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  role: Role;
  scopes: string[];
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    role: row.role as Role,
    scopes: JSON.parse(row.scopes) as string[],
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** The api_keys table; keys themselves are never stored, only their HMAC. */
export class ApiKeysStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(key: ApiKeyRecord, keyHash: string): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        user_id: key.userId,
        name: key.name,
        role: key.role,
        scopes: JSON.stringify(key.scopes),
        key_hash: keyHash,
        prefix: key.prefix,
        created_at: key.createdAt,
        expires_at: key.expiresAt,
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async nameTaken(userId: string, name: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('api_keys')
      .select('id')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Unrevoked keys, newest first, resuming after `after`. */
  async list(
    userId: string | undefined,
    after: { createdAt: string; id: string } | undefined,
    limit: number,
  ): Promise<ApiKeyRecord[]> {
    let query = this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit);
    if (userId) query = query.where('user_id', '=', userId);
    // Row-value comparison, newest first: both engines support it and use the (…, created_at) index.
    if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.createdAt}, ${after.id})`);
    return (await query.execute()).map(toRecord);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
