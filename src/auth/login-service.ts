import type { AuditContext } from '../audit/service.js';
import { addressKey } from '../platform/client-ip.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import { type AuthDeps, type ClientMeta, iso } from './context.js';
import { type LockoutKey, LockoutStore } from './lockout-store.js';
import { passwordProblem } from './password-policy.js';
import type { Principal } from './principal.js';
import type { IssuedSession, SessionsService } from './sessions-service.js';
import { SessionsStore } from './sessions-store.js';
import { UsersStore } from './users-store.js';

const WRONG_CREDENTIALS = 'username or password is wrong';

/** Failures count per username and client, the client keyed as the rate limiter keys it (an IPv6 /64). */
const lockoutKeyOf = (username: string, client: ClientMeta): LockoutKey => ({
  username,
  ip: client.ip === null ? null : addressKey(client.ip),
});

/** How long a lock lasts, rounded up, in the unit a person would say it in: "14 more minutes". */
function remainingInWords(ms: number): string {
  const count = (amount: number, unit: string) => `${amount} more ${unit}${amount === 1 ? '' : 's'}`;
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return count(seconds, 'second');
  const minutes = Math.ceil(seconds / 60);
  if (minutes <= 120) return count(minutes, 'minute');
  return count(Math.ceil(minutes / 60), 'hour');
}

function locked(retryAfterMs: number): AppError {
  return new AppError(
    ErrorCode.accountLocked,
    `too many failed sign-ins; this account is locked for ${remainingInWords(retryAfterMs)}`,
    { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) },
  );
}

/** Sign-in with a password, the lockout that guards it, and password changes. */
export class LoginService {
  constructor(
    private readonly deps: AuthDeps,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * An unknown user, a wrong password and a disabled account get the same answer after the same work (a
   * real or dummy Argon2 verification). A locked username is refused before any password is looked at.
   */
  async login(usernameInput: string, password: string, client: ClientMeta): Promise<IssuedSession> {
    const username = usernameInput.trim().toLowerCase();
    const key = lockoutKeyOf(username, client);
    await this.beginAttempt(key, client, () =>
      this.audit(client, username, null, 'failure', { reason: 'locked' }),
    );
    const user = await new UsersStore(this.deps.db, this.deps.engine).findByUsername(username);
    const matches = user?.passwordHash
      ? await this.deps.hasher.verify(user.passwordHash, password)
      : await this.deps.hasher.verifyDummy(password);
    if (!user || !matches || user.disabled) {
      const reason = !user ? 'unknown_user' : !matches ? 'wrong_password' : 'disabled';
      await this.audit(client, username, user?.id ?? null, 'failure', { reason });
      await this.attemptFailed(key, client);
      throw new AppError(ErrorCode.unauthorized, WRONG_CREDENTIALS);
    }
    // Only this address's count: a success here must not wipe what an attacker elsewhere has run up.
    await new LockoutStore(this.deps.db).clearKey(key);
    const issued = await this.sessions.start(user, 'password', client);
    await this.audit(client, username, user.id, 'success', { session_id: issued.sessionId });
    return issued;
  }

  /**
   * Needs the current password (a wrong one counts towards the lockout); ends every other session, and
   * the new password signature voids every access token minted before, this session's included.
   */
  async changePassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    client: ClientMeta,
  ): Promise<IssuedSession> {
    const sessionId = principal.sessionId;
    if (sessionId === null)
      throw new AppError(ErrorCode.forbidden, 'changing a password needs a signed-in session');
    const now = this.deps.now();
    const lockout = new LockoutStore(this.deps.db);
    const key = lockoutKeyOf(principal.username, client);
    const users = new UsersStore(this.deps.db, this.deps.engine);
    const user = await users.findById(principal.userId);
    if (!user?.passwordHash) throw new AppError(ErrorCode.conflict, 'this account has no local password');
    await this.beginAttempt(key, client);
    if (!(await this.deps.hasher.verify(user.passwordHash, currentPassword))) {
      await this.attemptFailed(key, client);
      throw invalidField('/current_password', 'is not your current password');
    }
    await lockout.clearKey(key);
    const problem = passwordProblem(newPassword, user.username);
    if (problem) throw invalidField('/new_password', problem);
    if (newPassword === currentPassword)
      throw invalidField('/new_password', 'must differ from the current password');
    const passwordHash = await this.deps.hasher.hash(newPassword);
    const context: AuditContext = { actor: { id: user.id, username: user.username }, ...client };
    const ended = await this.deps.db.transaction().execute(async (trx) => {
      await new UsersStore(trx, this.deps.engine).update(user.id, {
        passwordHash,
        mustChangePassword: false,
        updatedAt: iso(now),
      });
      const revoked = await new SessionsStore(trx).revokeAllOfUser(
        user.id,
        iso(now),
        'password_changed',
        sessionId,
      );
      await this.deps.audit.record(
        context,
        {
          type: 'auth.password_change',
          outcome: 'success',
          target: { type: 'user', id: user.id },
          detail: { sessions_revoked: revoked.length },
        },
        trx,
      );
      return revoked;
    });
    for (const id of ended)
      this.deps.events.emit('session.ended', { sessionId: id, userId: user.id, reason: 'password_changed' });
    this.deps.events.emit('user.changed', { userId: user.id, change: 'password' });
    return this.sessions.reissue(
      sessionId,
      { ...user, passwordHash, mustChangePassword: false },
      principal.authMethod,
    );
  }

  /** Forgets a username's failures and locks from every address (`switchboard user unlock`). */
  async unlock(username: string, context: AuditContext): Promise<boolean> {
    const normalized = username.trim().toLowerCase();
    const cleared = await new LockoutStore(this.deps.db).clearUsername(normalized, iso(this.deps.now()));
    await this.deps.audit.record(context, {
      type: 'user.unlocked',
      outcome: 'success',
      target: { type: 'username', id: normalized },
      detail: { had_failures: cleared },
    });
    return cleared;
  }

  async prune(): Promise<void> {
    const now = this.deps.now();
    await new LockoutStore(this.deps.db).prune(iso(now - this.deps.settings.lockoutWindowMs), iso(now));
  }

  /**
   * Takes one attempt from the key's budget before any password is looked at, counting it as a failure
   * until it succeeds. Checking and counting are one transaction per key, so concurrent guesses cannot all
   * pass the check before any of them is counted: of 25 at once with a threshold of 10, 10 are verified.
   */
  private async beginAttempt(
    key: LockoutKey,
    client: ClientMeta,
    onLocked?: () => Promise<void>,
  ): Promise<void> {
    const { lockoutThreshold, lockoutWindowMs, lockoutDurationMs } = this.deps.settings;
    const now = this.deps.now();
    const refusal = await this.deps.db.transaction().execute(async (trx) => {
      const store = new LockoutStore(trx);
      const lockedUntil = Date.parse(await store.claim(key));
      if (lockedUntil > now) return { until: lockedUntil };
      const failures = await store.failuresSince(key, iso(now - lockoutWindowMs));
      if (failures >= lockoutThreshold) {
        await store.lock(key, iso(now + lockoutDurationMs));
        return { until: now + lockoutDurationMs, failures };
      }
      await store.recordFailure(key, iso(now));
      return undefined;
    });
    if (!refusal) return;
    if (refusal.failures !== undefined) await this.auditLockout(key, client, refusal.failures);
    await onLocked?.();
    throw locked(refusal.until - now);
  }

  /** The attempt failed: its failure stays counted, and the key locks once it reaches the threshold. */
  private async attemptFailed(key: LockoutKey, client: ClientMeta): Promise<void> {
    const { lockoutThreshold, lockoutWindowMs, lockoutDurationMs } = this.deps.settings;
    const now = this.deps.now();
    const failures = await this.deps.db.transaction().execute(async (trx) => {
      const store = new LockoutStore(trx);
      if (Date.parse(await store.claim(key)) > now) return undefined;
      const count = await store.failuresSince(key, iso(now - lockoutWindowMs));
      if (count < lockoutThreshold) return undefined;
      await store.lock(key, iso(now + lockoutDurationMs));
      return count;
    });
    if (failures !== undefined) await this.auditLockout(key, client, failures);
  }

  private async auditLockout(key: LockoutKey, client: ClientMeta, failures: number): Promise<void> {
    const { username } = key;
    // The actor is whoever tried that username, as on the auth.login failures that led here.
    await this.deps.audit.record(
      { actor: { id: null, username }, ...client },
      {
        type: 'auth.lockout',
        outcome: 'success',
        target: { type: 'username', id: username },
        detail: { failures, locked_for_seconds: Math.ceil(this.deps.settings.lockoutDurationMs / 1000) },
      },
    );
  }

  private async audit(
    client: ClientMeta,
    username: string,
    userId: string | null,
    outcome: 'success' | 'failure',
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record(
      { actor: { id: userId, username }, ...client },
      { type: 'auth.login', outcome, detail },
    );
  }
}
