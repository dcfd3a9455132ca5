import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditContext } from '../audit/service.js';
import { unlessDiskFull } from '../platform/disk-full.js';
import { AppError, ErrorCode, invalidField, notFound } from '../platform/problem.js';
import { invalidToken } from './access-tokens.js';
import { type ApiKeyRecord, ApiKeysStore } from './api-keys-store.js';
import { type AuthDeps, iso } from './context.js';
import { digest, RememberedDigests } from './keys.js';
import type { Principal } from './principal.js';
import { lowerRole, type Role, roleLevel } from './roles.js';
import { isPublisher, PUBLISHER_ROLE } from './scopes.js';
import { type UserRecord, UsersStore } from './users-store.js';

/** Keys start with this, so secret scanners and people can tell them apart from other tokens. */
export const API_KEY_PREFIX = 'sbk_';

export interface NewApiKey {
  name: string;
  role: Role;
  expiresAt?: string | null;
  scopes?: readonly string[];
}

/** Long-lived credentials for machines, stored only as an HMAC, shown once. */
export class ApiKeysService {
  /** The stored form of presented keys, remembered once they have matched a record. */
  private readonly digests: RememberedDigests;

  constructor(private readonly deps: AuthDeps) {
    this.digests = new RememberedDigests(() => deps.keys().apiKey);
  }

  async create(
    owner: Principal,
    input: NewApiKey,
    context: AuditContext,
  ): Promise<{ record: ApiKeyRecord; key: string }> {
    if (roleLevel(input.role) > roleLevel(owner.role)) {
      throw new AppError(ErrorCode.forbidden, `a key cannot have a role above your own (${owner.role})`);
    }
    if ((input.scopes?.length ?? 0) > 0 && !isPublisher(owner)) {
      throw new AppError(
        ErrorCode.forbidden,
        `only users who may publish (${PUBLISHER_ROLE}s) can put publish scopes on a key`,
      );
    }
    const now = this.deps.now();
    if (input.expiresAt && Date.parse(input.expiresAt) <= now) {
      throw invalidField('/expires_at', 'must be in the future');
    }
    const name = input.name.trim();
    if (!name) throw invalidField('/name', 'must not be blank');
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id: randomUUID(),
      userId: owner.userId,
      name,
      role: input.role,
      scopes: [...new Set(input.scopes ?? [])].sort(),
      prefix: key.slice(0, API_KEY_PREFIX.length + 6),
      createdAt: iso(now),
      expiresAt: input.expiresAt ? iso(Date.parse(input.expiresAt)) : null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new ApiKeysStore(trx);
      if (await store.nameTaken(owner.userId, name)) {
        throw new AppError(ErrorCode.duplicate, `you already have a key named "${name}"`);
      }
      await store.insert(record, digest(this.deps.keys().apiKey, key));
      await this.deps.audit.record(
        context,
        {
          type: 'auth.api_key_created',
          outcome: 'success',
          target: { type: 'api_key', id: record.id },
          detail: { name, role: record.role, scopes: record.scopes, expires_at: record.expiresAt },
        },
        trx,
      );
    });
    return { record, key };
  }

  async list(
    userId: string | undefined,
    after: { createdAt: string; id: string } | undefined,
    limit: number,
  ): Promise<ApiKeyRecord[]> {
    return new ApiKeysStore(this.deps.db).list(userId, after, limit);
  }

  /** The owner or an admin may revoke; anyone else is told the key does not exist. */
  async revoke(actor: Principal, id: string, context: AuditContext): Promise<void> {
    const store = new ApiKeysStore(this.deps.db);
    const record = await store.find(id);
    if (!record || record.revokedAt !== null || (record.userId !== actor.userId && actor.role !== 'admin')) {
      throw notFound(`API key ${id}`);
    }
    await store.revoke(id, iso(this.deps.now()));
    await this.deps.audit.record(context, {
      type: 'auth.api_key_revoked',
      outcome: 'success',
      target: { type: 'api_key', id },
      detail: { name: record.name, owner_id: record.userId },
    });
    this.deps.events.emit('api_key.revoked', { keyId: id, userId: record.userId });
  }

  /** Revoked, expired, unknown keys and keys of disabled owners are all the same 401. */
  async authenticate(key: string): Promise<Principal> {
    const store = new ApiKeysStore(this.deps.db);
    const keyHash = this.digests.digest(key);
    const record = await this.deps.cache.apiKeys.get(keyHash, () => store.findByHash(keyHash));
    if (record) this.digests.remember(key, keyHash);
    const principal = await this.principalOf(record);
    const now = this.deps.now();
    if (record && this.useDue(record, now)) {
      this.deps.cache.apiKeys.update(keyHash, (seen) => ({ ...seen, lastUsedAt: iso(now) }));
      await store.touch(record.id, iso(now)).catch(unlessDiskFull);
    }
    return principal;
  }

  /**
   * `authenticate` without waiting, when the key and its owner are remembered from a moment ago and no use
   * is due to be written: the same checks, the same refusals. Undefined when it cannot tell without the
   * database (then ask `authenticate`); it writes nothing.
   */
  authenticateNow(key: string): Principal | undefined {
    const keyHash = this.digests.digest(key);
    const record = this.deps.cache.apiKeys.peek(keyHash);
    if (record === undefined) return undefined;
    this.digests.remember(key, keyHash);
    this.checkUsable(record);
    const owner = this.deps.cache.users.peek(record.userId);
    if (owner === undefined || this.useDue(record, this.deps.now())) return undefined;
    return this.ownedBy(record, owner);
  }

  /** Use is written at most once a minute, like session activity. */
  private useDue(record: ApiKeyRecord, now: number): boolean {
    return record.lastUsedAt === null || now - Date.parse(record.lastUsedAt) > 60_000;
  }

  /**
   * The key's principal as it is now, by id: what a live stream opened with the key re-reads when its
   * owner changes, and on its periodic re-check. Throws the same 401s as `authenticate`.
   */
  async authenticateById(id: string): Promise<Principal> {
    return this.principalOf(await new ApiKeysStore(this.deps.db).find(id));
  }

  private async principalOf(record: ApiKeyRecord | undefined): Promise<Principal> {
    this.checkUsable(record);
    const owner = await this.deps.cache.users.get(record.userId, () =>
      new UsersStore(this.deps.db, this.deps.engine).findById(record.userId),
    );
    return this.ownedBy(record, owner);
  }

  private checkUsable(record: ApiKeyRecord | undefined): asserts record is ApiKeyRecord {
    if (!record || record.revokedAt !== null) throw invalidToken('API key is not valid');
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= this.deps.now())
      throw invalidToken('API key has expired');
  }

  private ownedBy(record: ApiKeyRecord, owner: UserRecord | undefined): Principal {
    if (!owner || owner.disabled) throw invalidToken('API key is not valid');
    return {
      userId: owner.id,
      username: owner.username,
      fullName: owner.fullName,
      // A key never acts above its owner as the owner is now.
      role: lowerRole(record.role, owner.role),
      userRole: owner.role,
      groups: owner.groups,
      mustChangePassword: false,
      authMethod: 'api_key',
      credential: 'api_key',
      sessionId: null,
      apiKeyId: record.id,
      scopes: record.scopes,
      expiresAt: record.expiresAt === null ? null : Date.parse(record.expiresAt),
    };
  }
}
