import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditContext } from '../audit/service.js';
import { AppError, ErrorCode, invalidField, notFound } from '../platform/problem.js';
import type { Database } from '../storage/schema.js';
import { type AuthDeps, iso } from './context.js';
import { passwordProblem } from './password-policy.js';
import type { Principal } from './principal.js';
import type { Role } from './roles.js';
import { SessionsStore } from './sessions-store.js';
import {
  type AuthSource,
  type HolderRecord,
  type Holders,
  type UserFilter,
  type UserRecord,
  UsersStore,
} from './users-store.js';

export interface NewUser {
  username: string;
  /** Needed for a local account; an account for single sign-on has none. */
  password?: string;
  /** Default local. */
  authSource?: AuthSource;
  fullName?: string | null;
  role: Role;
  groups?: readonly string[];
  mustChangePassword?: boolean;
}

export interface UserUpdate {
  fullName?: string | null;
  role?: Role;
  groups?: readonly string[];
  disabled?: boolean;
  /** A new password set by an admin; the user must change it at next sign-in unless told otherwise. */
  password?: string;
  mustChangePassword?: boolean;
}

/** Who asks for a change through the API. The command line (an operator at the server) is not one. */
export type Requester = Pick<Principal, 'userId' | 'apiKeyId'>;

function forbidden(detail: string): AppError {
  return new AppError(ErrorCode.forbidden, detail);
}

/**
 * What a credential may never do to accounts, whatever its role: an API key or a stolen access token must
 * not be able to turn itself into a password, and so into the account.
 */
function checkRequester(requester: Requester | undefined, targetId: string | null, change: UserUpdate): void {
  if (!requester) return;
  const byKey = requester.apiKeyId !== null;
  if (byKey && change.password !== undefined) {
    throw forbidden('API keys cannot set passwords; sign in as an admin to reset one');
  }
  if (byKey && change.role === 'admin') throw forbidden('API keys cannot make admins; sign in to do it');
  if (targetId !== requester.userId) return;
  if (change.password !== undefined || change.mustChangePassword !== undefined) {
    throw forbidden('change your own password with POST /api/v1/auth/password, which needs the current one');
  }
}

function lastAdmin(what: string): AppError {
  return new AppError(ErrorCode.conflict, `cannot ${what} the last admin; make another user admin first`);
}

/**
 * What another feature does when a user is deleted: inside the deleting transaction, before the user's row
 * goes (so what they own can still be read), returning what to do once it has committed (tell others).
 */
export type DeletionHook = (userId: string, executor: Kysely<Database>) => Promise<(() => void) | undefined>;

/** Local accounts and the rules around them: password policy, unique usernames, always one admin. */
export class UsersService {
  private readonly deletionHooks: DeletionHook[] = [];

  constructor(private readonly deps: AuthDeps) {}

  /** Runs `hook` in every user deletion, in the same transaction, so the user and what hangs on them go together. */
  onDelete(hook: DeletionHook): void {
    this.deletionHooks.push(hook);
  }

  /** Enabled users with any of these roles, groups or ids (who a grant reaches). */
  async holding(holders: Holders): Promise<HolderRecord[]> {
    return this.store().holding(holders);
  }

  private store(executor = this.deps.db): UsersStore {
    return new UsersStore(executor, this.deps.engine);
  }

  async create(input: NewUser, context: AuditContext, requester?: Requester): Promise<UserRecord> {
    checkRequester(requester, null, { role: input.role });
    const user = await this.prepare(input);
    await this.deps.db.transaction().execute(async (trx) => {
      if (await this.store(trx).usernameTaken(user.username)) {
        throw new AppError(ErrorCode.duplicate, `username "${user.username}" is taken`);
      }
      await this.store(trx).insert(user);
      await this.deps.audit.record(
        context,
        {
          type: 'user.created',
          outcome: 'success',
          target: { type: 'user', id: user.id },
          detail: { username: user.username, role: user.role, groups: user.groups },
        },
        trx,
      );
    });
    return { ...user, lastLoginAt: null };
  }

  /**
   * Creates the first admin only while no admin exists. Of concurrent callers exactly one wins (they race
   * for one primary key); the others, and every caller once an admin exists, get undefined.
   */
  async createFirstAdmin(
    input: Omit<NewUser, 'role'>,
    context: AuditContext,
    type: string,
  ): Promise<UserRecord | undefined> {
    if (await this.adminExists()) return undefined;
    const user = await this.prepare({ ...input, role: 'admin', mustChangePassword: false });
    const created = await this.deps.db.transaction().execute(async (trx) => {
      const store = this.store(trx);
      if ((await store.enabledAdminIds(true)).length > 0) return false;
      if (!(await store.claimFirstAdmin(user.id, user.createdAt))) return false;
      if (await store.usernameTaken(user.username)) {
        throw new AppError(ErrorCode.duplicate, `username "${user.username}" is taken`);
      }
      await store.insert(user);
      await this.deps.audit.record(
        { ...context, actor: context.actor ?? { id: user.id, username: user.username } },
        {
          type,
          outcome: 'success',
          target: { type: 'user', id: user.id },
          detail: { username: user.username },
        },
        trx,
      );
      return true;
    });
    return created ? { ...user, lastLoginAt: null } : undefined;
  }

  async adminExists(): Promise<boolean> {
    return (await this.store().enabledAdminIds()).length > 0;
  }

  async get(id: string): Promise<UserRecord> {
    const user = await this.store().findById(id);
    if (!user) throw notFound(`user ${id}`);
    return user;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    return this.store().findByUsername(username.trim().toLowerCase());
  }

  async list(filter: UserFilter, after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.store().list(filter, after, limit);
  }

  /**
   * Changes a user. A password set here is an admin's reset of someone else's: it ends their sessions and
   * they must change it at their next sign-in (the command line alone may set one that need not change).
   */
  async update(
    id: string,
    update: UserUpdate,
    context: AuditContext,
    requester?: Requester,
  ): Promise<UserRecord> {
    checkRequester(requester, id, update);
    if (requester && update.password !== undefined && update.mustChangePassword === false) {
      throw invalidField(
        '/must_change_password',
        'a password an admin sets must be changed by its user at the next sign-in; leave this out',
      );
    }
    const current = await this.get(id);
    if (
      (update.password !== undefined || update.mustChangePassword === true) &&
      current.authSource !== 'local'
    ) {
      throw new AppError(
        ErrorCode.conflict,
        `this account signs in with single sign-on (${current.authSource}) and has no local password`,
      );
    }
    if (update.password !== undefined) {
      const problem = passwordProblem(update.password, current.username);
      if (problem) throw invalidField('/password', problem);
    }
    const passwordHash =
      update.password === undefined ? undefined : await this.deps.hasher.hash(update.password);
    const now = iso(this.deps.now());
    const ended = await this.deps.db.transaction().execute(async (trx) => {
      const store = this.store(trx);
      const user = await store.findById(id);
      if (!user) throw notFound(`user ${id}`);
      const losesAdmin =
        user.role === 'admin' &&
        !user.disabled &&
        ((update.role !== undefined && update.role !== 'admin') || update.disabled === true);
      if (losesAdmin) {
        const admins = await store.enabledAdminIds(true);
        if (admins.length <= 1) throw lastAdmin(update.disabled ? 'disable' : 'demote');
      }
      await store.update(id, {
        fullName: update.fullName,
        role: update.role,
        disabled: update.disabled,
        passwordHash,
        mustChangePassword: update.mustChangePassword ?? (passwordHash !== undefined ? true : undefined),
        updatedAt: now,
      });
      if (update.groups !== undefined) await store.setGroups(id, update.groups);
      const endsSessions = update.disabled === true || passwordHash !== undefined;
      const revoked = endsSessions
        ? await new SessionsStore(trx).revokeAllOfUser(
            id,
            now,
            update.disabled ? 'user_disabled' : 'password_reset',
          )
        : [];
      await this.deps.audit.record(
        context,
        {
          type: passwordHash !== undefined ? 'user.password_reset' : 'user.updated',
          outcome: 'success',
          target: { type: 'user', id },
          detail: {
            username: user.username,
            changed: Object.keys(update).filter((k) => update[k as keyof UserUpdate] !== undefined),
            ...(update.role !== undefined ? { role: { from: user.role, to: update.role } } : {}),
            ...(update.groups !== undefined ? { groups: update.groups } : {}),
            ...(update.disabled !== undefined ? { disabled: update.disabled } : {}),
            ...(revoked.length > 0 ? { sessions_revoked: revoked.length } : {}),
          },
        },
        trx,
      );
      return revoked;
    });
    this.announce(id, update, ended);
    return this.get(id);
  }

  async delete(id: string, context: AuditContext): Promise<void> {
    const now = iso(this.deps.now());
    const afterwards: (() => void)[] = [];
    const ended = await this.deps.db.transaction().execute(async (trx) => {
      const store = this.store(trx);
      const user = await store.findById(id);
      if (!user) throw notFound(`user ${id}`);
      if (user.role === 'admin' && !user.disabled) {
        const admins = await store.enabledAdminIds(true);
        if (admins.length <= 1) throw lastAdmin('delete');
      }
      const revoked = await new SessionsStore(trx).revokeAllOfUser(id, now, 'user_deleted');
      for (const hook of this.deletionHooks) {
        const after = await hook(id, trx);
        if (after) afterwards.push(after);
      }
      await store.delete(id);
      await this.deps.audit.record(
        context,
        {
          type: 'user.deleted',
          outcome: 'success',
          target: { type: 'user', id },
          detail: { username: user.username },
        },
        trx,
      );
      return revoked;
    });
    for (const sessionId of ended)
      this.deps.events.emit('session.ended', { sessionId, userId: id, reason: 'user_deleted' });
    this.deps.events.emit('user.changed', { userId: id, change: 'deleted' });
    for (const after of afterwards) after();
  }

  async knownGroups(): Promise<string[]> {
    return this.store().knownGroups();
  }

  /** Validates and hashes; throws a 422 naming the field. */
  private async prepare(input: NewUser): Promise<Omit<UserRecord, 'lastLoginAt'>> {
    const username = input.username.trim().toLowerCase();
    const authSource = input.authSource ?? 'local';
    if (authSource !== 'local' && input.password !== undefined) {
      throw invalidField(
        '/password',
        `an account for single sign-on (${authSource}) has no local password; leave this out`,
      );
    }
    if (authSource !== 'local' && input.mustChangePassword === true) {
      throw invalidField('/must_change_password', 'an account for single sign-on has no password to change');
    }
    if (authSource === 'local' && input.password === undefined) {
      throw invalidField('/password', 'is required for a local account');
    }
    const problem = input.password === undefined ? undefined : passwordProblem(input.password, username);
    if (problem) throw invalidField('/password', problem);
    const now = iso(this.deps.now());
    return {
      id: randomUUID(),
      username,
      fullName: input.fullName ?? null,
      role: input.role,
      passwordHash: input.password === undefined ? null : await this.deps.hasher.hash(input.password),
      authSource,
      disabled: false,
      mustChangePassword: authSource === 'local' ? (input.mustChangePassword ?? true) : false,
      groups: [...new Set(input.groups ?? [])].sort(),
      createdAt: now,
      updatedAt: now,
    };
  }

  private announce(userId: string, update: UserUpdate, endedSessions: string[]): void {
    const reason = update.disabled ? 'user_disabled' : 'password_reset';
    for (const sessionId of endedSessions)
      this.deps.events.emit('session.ended', { sessionId, userId, reason });
    if (update.role !== undefined) this.deps.events.emit('user.changed', { userId, change: 'role' });
    if (update.groups !== undefined) this.deps.events.emit('user.changed', { userId, change: 'groups' });
    if (update.disabled !== undefined) this.deps.events.emit('user.changed', { userId, change: 'disabled' });
    if (update.password !== undefined) this.deps.events.emit('user.changed', { userId, change: 'password' });
    if (update.fullName !== undefined || update.mustChangePassword !== undefined)
      this.deps.events.emit('user.changed', { userId, change: 'profile' });
  }
}
