import { type CompiledQuery, type Kysely, sql } from 'kysely';
import type { Role } from '../auth/roles.js';
import type { Engine } from '../storage/database.js';
import type { Database } from '../storage/schema.js';

export type PrincipalType = 'role' | 'group' | 'user';
export type Access = 'view' | 'edit';

/** A grant as stored: `principal` is a role, group or username; a user grant also holds the grantee's id. */
export interface GrantRow {
  ownerId: string;
  ownerUsername: string;
  workspace: string;
  principalType: PrincipalType;
  principal: string;
  granteeId: string | null;
  access: Access;
  createdAt: string;
}

/** A compiled `sharingState` query: the generation (id '') and the reader's version (their id). */
export type SharingStateQuery = CompiledQuery<{ id: string; version: number }>;

export interface StoredDocument {
  /** JSON text. */
  document: string;
  version: number;
}

/** A grant someone else made that reaches the reader, with the owner's document version now. */
export interface VisibleGrant {
  ownerId: string;
  ownerUsername: string;
  workspace: string;
  access: Access;
  ownerVersion: number;
}

/** The principals a reader holds, which grants are matched against. */
export interface Holder {
  userId: string;
  /** Every role at or below the reader's: a grant to `viewer` reaches editors and admins too. */
  roles: readonly Role[];
  groups: readonly string[];
}

/** Read back as text on both engines (PostgreSQL's `json` column would arrive parsed). */
const documentText = sql<string>`cast(document as text)`.as('document');

function grantRow(row: Database['workspace_grants']): GrantRow {
  return {
    ownerId: row.owner_id,
    ownerUsername: row.owner_username,
    workspace: row.workspace,
    principalType: row.principal_type as PrincipalType,
    principal: row.principal,
    granteeId: row.grantee_id,
    access: row.access as Access,
    createdAt: row.created_at,
  };
}

/** The preferences and workspace_grants tables. */
export class WorkspacesStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
  ) {}

  async read(userId: string): Promise<StoredDocument | undefined> {
    return this.db
      .selectFrom('preferences')
      .select([documentText, 'version'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }

  /**
   * The document to change, held until the transaction ends: the row is made first if there is none, so
   * PostgreSQL has a row to lock and two first writes cannot both insert (SQLite serialises transactions).
   */
  async lock(userId: string, at: string): Promise<StoredDocument> {
    await this.db
      .insertInto('preferences')
      .values({ user_id: userId, document: '{}', version: 0, updated_at: at })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    return (await this.lockExisting(userId)) as StoredDocument;
  }

  /** The document held until the transaction ends, if the user has one (one deleted meanwhile is not). */
  async lockExisting(userId: string): Promise<StoredDocument | undefined> {
    let query = this.db
      .selectFrom('preferences')
      .select([documentText, 'version'])
      .where('user_id', '=', userId);
    if (this.engine === 'postgres') query = query.forUpdate();
    return query.executeTakeFirst();
  }

  async write(userId: string, document: string, version: number, at: string): Promise<void> {
    await this.db
      .updateTable('preferences')
      .set({ document, version, updated_at: at })
      .where('user_id', '=', userId)
      .execute();
  }

  /** Current versions of these users' documents (users without one are left out). */
  async versions(userIds: readonly string[]): Promise<Map<string, number>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('preferences')
      .select(['user_id', 'version'])
      .where('user_id', 'in', [...userIds])
      .execute();
    return new Map(rows.map((row) => [row.user_id, row.version]));
  }

  async documents(userIds: readonly string[]): Promise<Map<string, StoredDocument>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('preferences')
      .select(['user_id', documentText, 'version'])
      .where('user_id', 'in', [...userIds])
      .execute();
    return new Map(rows.map((row) => [row.user_id, { document: row.document, version: row.version }]));
  }

  async deleteDocument(userId: string): Promise<void> {
    await this.db.deleteFrom('preferences').where('user_id', '=', userId).execute();
  }

  async grantsOf(ownerId: string, workspace?: string): Promise<GrantRow[]> {
    let query = this.db
      .selectFrom('workspace_grants')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .orderBy('workspace')
      .orderBy('principal_type')
      .orderBy('principal');
    if (workspace !== undefined) query = query.where('workspace', '=', workspace);
    return (await query.execute()).map(grantRow);
  }

  async replaceGrants(ownerId: string, workspace: string, grants: readonly GrantRow[]): Promise<void> {
    await this.deleteGrants(ownerId, workspace);
    if (grants.length === 0) return;
    await this.db
      .insertInto('workspace_grants')
      .values(
        grants.map((grant) => ({
          owner_id: grant.ownerId,
          owner_username: grant.ownerUsername,
          workspace: grant.workspace,
          principal_type: grant.principalType,
          principal: grant.principal,
          grantee_id: grant.granteeId,
          access: grant.access,
          created_at: grant.createdAt,
        })),
      )
      .execute();
  }

  async deleteGrants(ownerId: string, workspace?: string): Promise<void> {
    let query = this.db.deleteFrom('workspace_grants').where('owner_id', '=', ownerId);
    if (workspace !== undefined) query = query.where('workspace', '=', workspace);
    await query.execute();
    await this.sharingChanged();
  }

  async renameGrants(ownerId: string, from: string, to: string): Promise<void> {
    await this.db
      .updateTable('workspace_grants')
      .set({ workspace: to })
      .where('owner_id', '=', ownerId)
      .where('workspace', '=', from)
      .execute();
    await this.sharingChanged();
  }

  /** Grants that name this user as the grantee. */
  async grantsTo(userId: string): Promise<GrantRow[]> {
    const rows = await this.db
      .selectFrom('workspace_grants')
      .selectAll()
      .where('grantee_id', '=', userId)
      .execute();
    return rows.map(grantRow);
  }

  async deleteGrantsTo(userId: string): Promise<void> {
    await this.db.deleteFrom('workspace_grants').where('grantee_id', '=', userId).execute();
    await this.sharingChanged();
  }

  /**
   * Raised in every transaction that changes what some reader's library shows: grants (by the store methods
   * that change them) and the content or variables of a shared workspace (by the service). Always taken
   * after the documents a change locks, so it cannot close a cycle of waits.
   */
  async sharingChanged(): Promise<void> {
    await this.db
      .updateTable('sharing_state')
      .set((eb) => ({ generation: eb('generation', '+', 1) }))
      .where('name', '=', 'grants')
      .execute();
  }

  /** The query of `sharingState` for this reader, compiled (it holds its values) to be run on every read. */
  sharingStateQuery(userId: string): SharingStateQuery {
    return this.db
      .selectFrom('sharing_state')
      .select([sql<string>`''`.as('id'), 'generation as version'])
      .where('name', '=', 'grants')
      .unionAll(
        this.db.selectFrom('preferences').select(['user_id as id', 'version']).where('user_id', '=', userId),
      )
      .compile();
  }

  /** How many times what libraries show has changed, and the reader's document version (0 without one). */
  async sharingState(query: SharingStateQuery): Promise<{ generation: number; version: number }> {
    const { rows } = await this.db.executeQuery(query);
    let generation = -1;
    let version = 0;
    for (const row of rows) {
      if (row.id === '') generation = Number(row.version);
      else version = Number(row.version);
    }
    return { generation, version };
  }

  /**
   * Every grant of someone else's that reaches `holder`, with the owner's current document version (the
   * library puts them in its order).
   */
  async visibleTo(holder: Holder): Promise<VisibleGrant[]> {
    const rows = await this.db
      .selectFrom('workspace_grants as g')
      .innerJoin('preferences as p', 'p.user_id', 'g.owner_id')
      .select(['g.owner_id', 'g.owner_username', 'g.workspace', 'g.access', 'p.version'])
      .where('g.owner_id', '<>', holder.userId)
      .where((eb) => {
        const reaches = [
          eb.and([eb('g.principal_type', '=', 'user'), eb('g.grantee_id', '=', holder.userId)]),
        ];
        if (holder.roles.length > 0) {
          reaches.push(
            eb.and([eb('g.principal_type', '=', 'role'), eb('g.principal', 'in', [...holder.roles])]),
          );
        }
        if (holder.groups.length > 0) {
          reaches.push(
            eb.and([eb('g.principal_type', '=', 'group'), eb('g.principal', 'in', [...holder.groups])]),
          );
        }
        return eb.or(reaches);
      })
      .execute();
    return rows.map((row) => ({
      ownerId: row.owner_id,
      ownerUsername: row.owner_username,
      workspace: row.workspace,
      access: row.access as Access,
      ownerVersion: row.version,
    }));
  }
}
