import { createHmac, randomBytes } from 'node:crypto';
import type { AuditContext } from '../audit/service.js';
import { unlessDiskFull } from '../platform/disk-full.js';
import { AppError, ErrorCode, notFound } from '../platform/problem.js';
import { sameDigest, sameSecret } from '../platform/secrets.js';
import { type AccessClaims, AccessTokens, invalidToken } from './access-tokens.js';
import { type AuthDeps, type ClientMeta, iso } from './context.js';
import { digest } from './keys.js';
import type { AuthMethod, Credential, Principal } from './principal.js';
import { type SessionRecord, SessionsStore } from './sessions-store.js';
import { type UserRecord, UsersStore } from './users-store.js';

/** Credentials handed out when a session starts or refreshes. */
export interface IssuedSession {
  sessionId: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  csrfToken: string;
  user: UserRecord;
  authMethod: AuthMethod;
}

export function sessionEnded(detail: string): AppError {
  return new AppError(ErrorCode.sessionRevoked, detail, {
    headers: { 'www-authenticate': 'Bearer realm="switchboard", error="invalid_token"' },
  });
}

function refreshInvalid(detail = 'refresh token is not valid; sign in again'): AppError {
  return new AppError(ErrorCode.refreshInvalid, detail);
}

const newSecret = () => randomBytes(32).toString('base64url');

/**
 * Sessions from start to end: access tokens, single-use refresh rotation, idle and absolute lifetimes,
 * the per-user cap and revocation. Every "is this session still good?" question is answered here, so a
 * shared implementation (Redis, for a cluster) has one place to plug in.
 */
export class SessionsService {
  readonly tokens: AccessTokens;
  private readonly passwordSignatures = new WeakMap<object, string>();
  /** The instants of a session record, parsed once per record: a remembered one serves many requests. */
  private readonly instants = new WeakMap<SessionRecord, { expiresAt: number; lastSeenAt: number }>();

  constructor(private readonly deps: AuthDeps) {
    this.tokens = new AccessTokens({
      key: () => deps.keys().accessToken,
      algorithm: deps.settings.jwtAlgorithm,
      issuer: deps.settings.publicUrl,
      audience: 'switchboard',
      ttlMs: deps.settings.accessTokenTtlMs,
      now: deps.now,
    });
  }

  /** A fresh session id every time: a session id the client held before signing in is never reused. */
  async start(user: UserRecord, method: AuthMethod, client: ClientMeta): Promise<IssuedSession> {
    const now = this.deps.now();
    const session: SessionRecord = {
      id: randomBytes(18).toString('base64url'),
      userId: user.id,
      authMethod: method,
      createdAt: iso(now),
      lastSeenAt: iso(now),
      expiresAt: iso(now + this.deps.settings.sessionMaxAgeMs),
      ip: client.ip,
      userAgent: client.userAgent,
      revokedAt: null,
      revokedReason: null,
    };
    const refreshToken = newSecret();
    const refreshExpiresAt = Math.min(
      now + this.deps.settings.refreshTokenTtlMs,
      Date.parse(session.expiresAt),
    );
    const evicted = await this.deps.db.transaction().execute(async (trx) => {
      const store = new SessionsStore(trx);
      await store.insert(session);
      await store.insertRefresh({
        tokenHash: digest(this.deps.keys().refreshToken, refreshToken),
        sessionId: session.id,
        createdAt: iso(now),
        expiresAt: iso(refreshExpiresAt),
      });
      await new UsersStore(trx, this.deps.engine).recordLogin(user.id, iso(now));
      return this.evictBeyondCap(store, user.id, now);
    });
    for (const id of evicted) this.ended(id, user.id, 'session_limit');
    return this.issue(session.id, user, method, refreshToken, refreshExpiresAt);
  }

  /** The principal behind an access token, checked against the session and user as they are now. */
  async authenticateAccessToken(token: string, credential: 'cookie' | 'bearer'): Promise<Principal> {
    const claims = this.tokens.verify(token);
    return this.authenticateSession(claims.sessionId, credential, claims);
  }

  /**
   * `authenticateAccessToken` without waiting, when the session and user are remembered from a moment ago
   * and no activity is due to be written: the same checks, the same refusals. Undefined when it cannot
   * tell without the database (then ask `authenticateAccessToken`); it writes nothing.
   */
  authenticateAccessTokenNow(token: string, credential: 'cookie' | 'bearer'): Principal | undefined {
    const claims = this.tokens.verify(token);
    const now = this.deps.now();
    const session = this.deps.cache.sessions.peek(claims.sessionId);
    if (session === undefined) return undefined;
    this.checkLive(session, now);
    const user = this.deps.cache.users.peek(session.userId);
    if (user === undefined || this.activityDue(session, now)) return undefined;
    this.checkUser(user, claims);
    return this.principalOf(session, user, credential, claims);
  }

  /**
   * The principal of a live session (for a connect ticket, say); 401 code 1002 once it has ended. Given the
   * claims of an access token, also that the token is its user's and predates no password change, on the
   * same read of the user.
   */
  async authenticateSession(
    sessionId: string,
    credential: Credential,
    claims?: AccessClaims,
  ): Promise<Principal> {
    const now = this.deps.now();
    const store = new SessionsStore(this.deps.db);
    const session = await this.deps.cache.sessions.get(sessionId, () => store.find(sessionId));
    if (!session) throw invalidToken();
    this.checkLive(session, now);
    const user = await this.currentUser(session.userId);
    this.checkUser(user, claims);
    // The remembered session learns of the write first, so that the requests of the next moment do not
    // write it again.
    if (this.activityDue(session, now)) {
      this.deps.cache.sessions.update(session.id, (seen) => ({ ...seen, lastSeenAt: iso(now) }));
      await store.touch(session.id, iso(now)).catch(unlessDiskFull);
    }
    return this.principalOf(session, user, credential, claims);
  }

  private checkLive(session: SessionRecord, now: number): void {
    const problem = this.whyEnded(session, now);
    if (problem) throw sessionEnded(problem);
  }

  private checkUser(
    user: UserRecord | undefined,
    claims: AccessClaims | undefined,
  ): asserts user is UserRecord {
    if (!user || user.disabled) throw sessionEnded('the account is disabled; ask an admin');
    if (claims && claims.userId !== user.id) throw invalidToken();
    if (claims && !sameDigest(claims.passwordSignature, this.passwordSignature(user))) {
      throw invalidToken('access token was issued before a password change; sign in again');
    }
  }

  /** Activity is written at most once a minute: idle timeouts are far coarser than that. */
  private activityDue(session: SessionRecord, now: number): boolean {
    return now - this.instantsOf(session).lastSeenAt > 60_000;
  }

  private principalOf(
    session: SessionRecord,
    user: UserRecord,
    credential: Credential,
    claims: AccessClaims | undefined,
  ): Principal {
    return {
      userId: user.id,
      username: user.username,
      fullName: user.fullName,
      role: user.role,
      userRole: user.role,
      groups: user.groups,
      mustChangePassword: user.mustChangePassword,
      authMethod: session.authMethod,
      credential,
      sessionId: session.id,
      apiKeyId: null,
      scopes: [],
      expiresAt: claims?.expiresAt ?? null,
    };
  }

  /** Whether the session can still be used; the question live streams ask before each delivery. */
  async isLive(sessionId: string): Promise<boolean> {
    const session = await new SessionsStore(this.deps.db).find(sessionId);
    return session !== undefined && this.whyEnded(session, this.deps.now()) === undefined;
  }

  /**
   * Single-use rotation within the same session. Presenting a spent token revokes the whole session: the
   * token has leaked, and whoever holds the newer one may be the thief.
   */
  async refresh(refreshToken: string, client: ClientMeta): Promise<IssuedSession> {
    const now = this.deps.now();
    const tokenHash = digest(this.deps.keys().refreshToken, refreshToken);
    const next = newSecret();
    const outcome = await this.deps.db.transaction().execute(async (trx) => {
      const store = new SessionsStore(trx);
      const record = await store.findRefresh(tokenHash);
      if (!record) return { kind: 'unknown' as const };
      const session = await store.find(record.sessionId);
      if (!session) return { kind: 'unknown' as const };
      if (record.usedAt !== null || !(await store.spendRefresh(tokenHash, iso(now)))) {
        await store.revoke(session.id, iso(now), 'refresh_reuse');
        return { kind: 'reused' as const, session };
      }
      if (Date.parse(record.expiresAt) <= now) return { kind: 'expired' as const };
      const ended = this.whyEnded(session, now);
      if (ended) return { kind: 'ended' as const, detail: ended };
      const user = await new UsersStore(trx, this.deps.engine).findById(session.userId);
      if (!user || user.disabled) return { kind: 'ended' as const, detail: 'the account is disabled' };
      const expiresAt = Math.min(now + this.deps.settings.refreshTokenTtlMs, Date.parse(session.expiresAt));
      await store.insertRefresh({
        tokenHash: digest(this.deps.keys().refreshToken, next),
        sessionId: session.id,
        createdAt: iso(now),
        expiresAt: iso(expiresAt),
      });
      await store.touch(session.id, iso(now));
      return { kind: 'rotated' as const, session, user, expiresAt };
    });
    switch (outcome.kind) {
      case 'unknown':
        throw refreshInvalid();
      case 'expired':
        throw refreshInvalid('refresh token has expired; sign in again');
      case 'ended':
        throw refreshInvalid(`session has ended (${outcome.detail}); sign in again`);
      case 'reused': {
        const { session } = outcome;
        this.ended(session.id, session.userId, 'refresh_reuse');
        const user = await new UsersStore(this.deps.db, this.deps.engine).findById(session.userId);
        await this.deps.audit.record(
          { actor: { id: session.userId, username: user?.username ?? null }, ...client },
          {
            type: 'auth.refresh_reuse',
            outcome: 'failure',
            target: { type: 'session', id: session.id },
            detail: { reason: 'a spent refresh token was presented; the session is revoked' },
          },
        );
        throw refreshInvalid(
          'refresh token was already used; the session is revoked for safety, sign in again',
        );
      }
      case 'rotated':
        return this.issue(
          outcome.session.id,
          outcome.user,
          outcome.session.authMethod,
          next,
          outcome.expiresAt,
        );
    }
  }

  /** A new access token and refresh token for the same session, after its user's password changed. */
  async reissue(sessionId: string, user: UserRecord, method: AuthMethod): Promise<IssuedSession> {
    const now = this.deps.now();
    const session = await new SessionsStore(this.deps.db).find(sessionId);
    if (!session) throw invalidToken();
    const refreshToken = newSecret();
    const expiresAt = Math.min(now + this.deps.settings.refreshTokenTtlMs, Date.parse(session.expiresAt));
    await this.deps.db.transaction().execute(async (trx) => {
      const store = new SessionsStore(trx);
      await store.deleteRefreshOfSession(sessionId);
      await store.insertRefresh({
        tokenHash: digest(this.deps.keys().refreshToken, refreshToken),
        sessionId,
        createdAt: iso(now),
        expiresAt: iso(expiresAt),
      });
    });
    return this.issue(sessionId, user, method, refreshToken, expiresAt);
  }

  /** The session an access token names, even an expired one, if the token is ours (for logout). */
  async sessionIdOf(token: string): Promise<string | undefined> {
    try {
      return (await this.tokens.verify(token, { ignoreExpiry: true })).sessionId;
    } catch {
      return undefined;
    }
  }

  /** How a session was signed in to (password, oidc, msal), ended or not; undefined for no such session. */
  async methodOf(sessionId: string): Promise<AuthMethod | undefined> {
    return (await new SessionsStore(this.deps.db).find(sessionId))?.authMethod;
  }

  /** Ends one session. True when it was live; audited when a context is given. */
  async revoke(
    sessionId: string,
    reason: string,
    context?: AuditContext,
    auditType = 'auth.session_revoked',
  ): Promise<boolean> {
    const store = new SessionsStore(this.deps.db);
    const session = await store.find(sessionId);
    if (!session || !(await store.revoke(sessionId, iso(this.deps.now()), reason))) return false;
    this.ended(sessionId, session.userId, reason);
    if (context) {
      await this.deps.audit.record(context, {
        type: auditType,
        outcome: 'success',
        target: { type: 'session', id: sessionId },
        detail: { reason, user_id: session.userId },
      });
    }
    return true;
  }

  /** Ends a session on behalf of `actor`: their own, or anyone's for an admin; else it "does not exist". */
  async revokeAs(actor: Principal, sessionId: string, context: AuditContext): Promise<void> {
    const session = await this.find(sessionId);
    const mayRevoke = session !== undefined && (session.userId === actor.userId || actor.role === 'admin');
    if (!mayRevoke || !(await this.revoke(sessionId, 'revoked_by_user', context))) {
      throw notFound(`session ${sessionId}`);
    }
  }

  /** "Sign out everywhere else": ends every session of the actor but the one making the request. */
  async revokeOthers(actor: Principal, context: AuditContext): Promise<number> {
    const revoked = await this.revokeAllOfUser(actor.userId, 'revoked_by_user', actor.sessionId ?? undefined);
    await this.deps.audit.record(context, {
      type: 'auth.session_revoked',
      outcome: 'success',
      target: { type: 'user', id: actor.userId },
      detail: { reason: 'revoked_by_user', sessions_revoked: revoked },
    });
    return revoked;
  }

  /** Ends every session of the user but `except`; returns how many ended. */
  async revokeAllOfUser(userId: string, reason: string, except?: string): Promise<number> {
    const ids = await new SessionsStore(this.deps.db).revokeAllOfUser(
      userId,
      iso(this.deps.now()),
      reason,
      except,
    );
    for (const id of ids) this.ended(id, userId, reason);
    return ids.length;
  }

  async find(sessionId: string): Promise<SessionRecord | undefined> {
    return new SessionsStore(this.deps.db).find(sessionId);
  }

  /** Live sessions, newest first; all users' when `userId` is undefined. */
  async listLive(
    userId: string | undefined,
    after: { createdAt: string; id: string } | undefined,
    limit: number,
  ): Promise<SessionRecord[]> {
    const now = this.deps.now();
    return new SessionsStore(this.deps.db).listLive(
      { userId, now: iso(now), idleSince: iso(now - this.deps.settings.sessionIdleTimeoutMs) },
      after,
      limit,
    );
  }

  /** The CSRF token is bound to the session: a cookie planted by another site cannot match it. */
  csrfTokenFor(sessionId: string): string {
    return createHmac('sha256', this.deps.keys().csrf).update(sessionId).digest('base64url');
  }

  csrfTokenMatches(sessionId: string, presented: string): boolean {
    return sameSecret(presented, this.csrfTokenFor(sessionId));
  }

  passwordSignature(user: Pick<UserRecord, 'id' | 'passwordHash'>): string {
    // Once per user record: the cached record serves every request of the next moment, and the keys are
    // the instance's for its lifetime.
    let signature = this.passwordSignatures.get(user);
    if (signature === undefined) {
      signature = createHmac('sha256', this.deps.keys().passwordSignature)
        .update(user.passwordHash ?? `no-password:${user.id}`)
        .digest('base64url')
        .slice(0, 22);
      this.passwordSignatures.set(user, signature);
    }
    return signature;
  }

  async prune(): Promise<void> {
    const now = this.deps.now();
    await new SessionsStore(this.deps.db).prune(iso(now), iso(now - this.deps.settings.sessionMaxAgeMs));
  }

  /** The user as authentication sees it: a read of the last moment, or a fresh one (src/auth/auth-cache.ts). */
  private currentUser(userId: string): Promise<UserRecord | undefined> {
    return this.deps.cache.users.get(userId, () =>
      new UsersStore(this.deps.db, this.deps.engine).findById(userId),
    );
  }

  private instantsOf(session: SessionRecord): { expiresAt: number; lastSeenAt: number } {
    let instants = this.instants.get(session);
    if (instants === undefined) {
      instants = { expiresAt: Date.parse(session.expiresAt), lastSeenAt: Date.parse(session.lastSeenAt) };
      this.instants.set(session, instants);
    }
    return instants;
  }

  private whyEnded(session: SessionRecord, now: number): string | undefined {
    if (session.revokedAt !== null) return 'session was revoked; sign in again';
    const { expiresAt, lastSeenAt } = this.instantsOf(session);
    if (expiresAt <= now) return 'session reached its maximum age; sign in again';
    if (lastSeenAt + this.deps.settings.sessionIdleTimeoutMs <= now) {
      return 'session ended after being idle; sign in again';
    }
    return undefined;
  }

  private async evictBeyondCap(store: SessionsStore, userId: string, now: number): Promise<string[]> {
    const cap = this.deps.settings.maxSessionsPerUser;
    const live = await store.listLive(
      { userId, now: iso(now), idleSince: iso(now - this.deps.settings.sessionIdleTimeoutMs) },
      undefined,
      cap + 50,
    );
    const evicted = live.slice(cap).map((s) => s.id);
    for (const id of evicted) await store.revoke(id, iso(now), 'session_limit');
    return evicted;
  }

  private ended(sessionId: string, userId: string, reason: string): void {
    this.deps.events.emit('session.ended', { sessionId, userId, reason });
  }

  private async issue(
    sessionId: string,
    user: UserRecord,
    authMethod: AuthMethod,
    refreshToken: string,
    refreshExpiresAt: number,
  ): Promise<IssuedSession> {
    const access = await this.tokens.mint({
      userId: user.id,
      sessionId,
      role: user.role,
      passwordSignature: this.passwordSignature(user),
    });
    return {
      sessionId,
      accessToken: access.token,
      accessExpiresAt: access.expiresAt,
      refreshToken,
      refreshExpiresAt,
      csrfToken: this.csrfTokenFor(sessionId),
      user,
      authMethod,
    };
  }
}
