import { type Kysely, type Selectable, sql } from 'kysely';
import type { Engine } from '../storage/database.js';
import type { Database, UsersTable } from '../storage/schema.js';
import type { Role } from './roles.js';

/** Where an account signs in: a local password, or a single sign-on provider (no local password). */
export type AuthSource = 'local' | 'oidc' | 'msal';

export interface UserRecord {
  id: string;
  username: string;
  fullName: string | null;
  role: Role;
  passwordHash: string | null;
  authSource: AuthSource;
  disabled: boolean;
  mustChangePassword: boolean;
  groups: string[];
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

export interface UserFilter {
  role?: Role;
  group?: string;
  disabled?: boolean;
  /** Part of the username. */
  q?: string;
}

/** Who `holding` looks for: users with any of these roles, groups or ids. */
export interface Holders {
  roles: readonly Role[];
  groups: readonly string[];
  ids: readonly string[];
}

export interface HolderRecord {
  id: string;
  role: Role;
  groups: string[];
}

export interface UserChanges {
  fullName?: string | null;
  role?: Role;
  disabled?: boolean;
  mustChangePassword?: boolean;
  passwordHash?: string;
  updatedAt: string;
}

function toRecord(row: Selectable<UsersTable>, groups: string[]): UserRecord {
  return {
    id: row.id,
    username: row.username,
    fullName: row.full_name,
    role: row.role as Role,
    passwordHash: row.password_hash,
    authSource: row.auth_source as AuthSource,
    disabled: row.disabled === 1,
    mustChangePassword: row.must_change_password === 1,
    groups,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLoginAt: row.last_login_at,
  };
}

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The users and user_groups tables. Pass a transaction to make several calls one unit. */
export class UsersStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
  ) {}

  async insert(user: Omit<UserRecord, 'lastLoginAt'>): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        full_name: user.fullName,
        role: user.role,
        password_hash: user.passwordHash,
        auth_source: user.authSource,
        disabled: user.disabled ? 1 : 0,
        must_change_password: user.mustChangePassword ? 1 : 0,
        created_at: user.createdAt,
        updated_at: user.updatedAt,
      })
      .execute();
    await this.setGroups(user.id, user.groups);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row, await this.groupsOf(row.id)) : undefined;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? toRecord(row, await this.groupsOf(row.id)) : undefined;
  }

  async usernameTaken(username: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', username)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Ordered by username, resuming after `after`; one row more than `limit` tells whether more follow. */
  async list(filter: UserFilter, after: string | undefined, limit: number): Promise<UserRecord[]> {
    let query = this.db.selectFrom('users').selectAll().orderBy('username').limit(limit);
    if (filter.role) query = query.where('role', '=', filter.role);
    if (filter.disabled !== undefined) query = query.where('disabled', '=', filter.disabled ? 1 : 0);
    // SQLite has no default LIKE escape character; name one for both engines.
    if (filter.q)
      query = query.where(sql<boolean>`username like ${likePattern(filter.q.toLowerCase())} escape '\\'`);
    if (filter.group) {
      const group = filter.group;
      query = query.where('id', 'in', (eb) =>
        eb.selectFrom('user_groups').select('user_id').where('group_name', '=', group),
      );
    }
    if (after !== undefined) query = query.where('username', '>', after);
    const rows = await query.execute();
    const groups = await this.groupsOfMany(rows.map((r) => r.id));
    return rows.map((row) => toRecord(row, groups.get(row.id) ?? []));
  }

  async update(id: string, changes: UserChanges): Promise<void> {
    await this.db
      .updateTable('users')
      .set({
        ...(changes.fullName !== undefined ? { full_name: changes.fullName } : {}),
        ...(changes.role !== undefined ? { role: changes.role } : {}),
        ...(changes.disabled !== undefined ? { disabled: changes.disabled ? 1 : 0 } : {}),
        ...(changes.mustChangePassword !== undefined
          ? { must_change_password: changes.mustChangePassword ? 1 : 0 }
          : {}),
        ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
        updated_at: changes.updatedAt,
      })
      .where('id', '=', id)
      .execute();
  }

  async recordLogin(id: string, at: string): Promise<void> {
    await this.db.updateTable('users').set({ last_login_at: at }).where('id', '=', id).execute();
  }

  async setGroups(id: string, groups: readonly string[]): Promise<void> {
    await this.db.deleteFrom('user_groups').where('user_id', '=', id).execute();
    if (groups.length === 0) return;
    await this.db
      .insertInto('user_groups')
      .values([...new Set(groups)].map((group_name) => ({ user_id: id, group_name })))
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Ids of enabled admins. With `lock`, PostgreSQL holds their rows until the transaction ends, so two
   * admins demoting each other at once cannot both succeed (SQLite serialises transactions anyway).
   */
  async enabledAdminIds(lock = false): Promise<string[]> {
    let query = this.db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('disabled', '=', 0);
    if (lock && this.engine === 'postgres') query = query.forUpdate();
    return (await query.execute()).map((r) => r.id);
  }

  /** True for the one caller that claims first-run setup; every later or concurrent caller gets false. */
  async claimFirstAdmin(userId: string, at: string): Promise<boolean> {
    const claimed = await this.db
      .insertInto('setup_claims')
      .values({ name: 'first_admin', user_id: userId, claimed_at: at })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('name')
      .execute();
    return claimed.length > 0;
  }

  /** Enabled users who hold any of these roles or groups, or have one of these ids; with their groups. */
  async holding(holders: Holders): Promise<HolderRecord[]> {
    const { roles, groups, ids } = holders;
    if (roles.length === 0 && groups.length === 0 && ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'role'])
      .where('disabled', '=', 0)
      .where((eb) => {
        const any = [];
        if (roles.length > 0) any.push(eb('role', 'in', [...roles]));
        if (ids.length > 0) any.push(eb('id', 'in', [...ids]));
        if (groups.length > 0) {
          any.push(
            eb(
              'id',
              'in',
              eb
                .selectFrom('user_groups')
                .select('user_id')
                .where('group_name', 'in', [...groups]),
            ),
          );
        }
        return eb.or(any);
      })
      .execute();
    const groupsById = await this.groupsOfMany(rows.map((row) => row.id));
    return rows.map((row) => ({ id: row.id, role: row.role as Role, groups: groupsById.get(row.id) ?? [] }));
  }

  async knownGroups(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('user_groups')
      .select('group_name')
      .distinct()
      .orderBy('group_name')
      .execute();
    return rows.map((r) => r.group_name);
  }

  private async groupsOf(id: string): Promise<string[]> {
    return (await this.groupsOfMany([id])).get(id) ?? [];
  }

  private async groupsOfMany(ids: string[]): Promise<Map<string, string[]>> {
    const byUser = new Map<string, string[]>();
    if (ids.length === 0) return byUser;
    const rows = await this.db
      .selectFrom('user_groups')
      .select(['user_id', 'group_name'])
      .where('user_id', 'in', ids)
      .orderBy('group_name')
      .execute();
    for (const row of rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row.group_name]);
    return byUser;
  }
}
