import type { AuditContext } from '../audit/service.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { type AuthDeps, type ClientMeta, iso } from './context.js';
import { type LockoutKey, LockoutStore } from './lockout-store.js';
import { passwordProblem } from './password-policy.js';
import type { Principal } from './principal.js';
import type { IssuedSession, SessionsService } from './sessions-service.js';
import { SessionsStore } from './sessions-store.js';
import { UsersStore } from './users-store.js';
import { invalidField } from './validation.js';

const WRONG_CREDENTIALS = 'username or password is wrong';

function locked(retryAfterMs: number): AppError {
  return new AppError(
    429,
    ErrorCode.accountLocked,
    'too many failed sign-ins; this account is locked for now',
    {
      retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    },
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
    const now = this.deps.now();
    const lockout = new LockoutStore(this.deps.db);
    const key = { username, ip: client.ip };
    const lockedUntil = await lockout.lockedUntil(key);
    if (lockedUntil && Date.parse(lockedUntil) > now) {
      await this.audit(client, username, null, 'failure', { reason: 'locked' });
      throw locked(Date.parse(lockedUntil) - now);
    }
    const user = await new UsersStore(this.deps.db, this.deps.engine).findByUsername(username);
    const matches = user?.passwordHash
      ? await this.deps.hasher.verify(user.passwordHash, password)
      : await this.deps.hasher.verifyDummy(password);
    if (!user || !matches || user.disabled) {
      const reason = !user ? 'unknown_user' : !matches ? 'wrong_password' : 'disabled';
      await this.audit(client, username, user?.id ?? null, 'failure', { reason });
      await this.countFailure(key, client);
      throw new AppError(401, ErrorCode.unauthorized, WRONG_CREDENTIALS);
    }
    // Only this address's count: a success here must not wipe what an attacker elsewhere has run up.
    await lockout.clearKey(key);
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
      throw new AppError(403, ErrorCode.forbidden, 'changing a password needs a signed-in session');
    const now = this.deps.now();
    const lockout = new LockoutStore(this.deps.db);
    const key = { username: principal.username, ip: client.ip };
    const lockedUntil = await lockout.lockedUntil(key);
    if (lockedUntil && Date.parse(lockedUntil) > now) throw locked(Date.parse(lockedUntil) - now);
    const users = new UsersStore(this.deps.db, this.deps.engine);
    const user = await users.findById(principal.userId);
    if (!user?.passwordHash)
      throw new AppError(409, ErrorCode.conflict, 'this account has no local password');
    if (!(await this.deps.hasher.verify(user.passwordHash, currentPassword))) {
      await this.countFailure(key, client);
      throw invalidField('/current_password', 'is not your current password');
    }
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
    await lockout.clearKey(key);
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
    const cleared = await new LockoutStore(this.deps.db).clearUsername(normalized);
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

  private async countFailure(key: LockoutKey, client: ClientMeta): Promise<void> {
    const { lockoutThreshold, lockoutWindowMs, lockoutDurationMs } = this.deps.settings;
    const now = this.deps.now();
    const lockout = new LockoutStore(this.deps.db);
    const failures = await lockout.recordFailure(key, iso(now), iso(now - lockoutWindowMs));
    if (failures < lockoutThreshold) return;
    await lockout.lock(key, iso(now + lockoutDurationMs));
    const { username } = key;
    // The actor is whoever tried that username, as on the auth.login failures that led here.
    await this.deps.audit.record(
      { actor: { id: null, username }, ...client },
      {
        type: 'auth.lockout',
        outcome: 'success',
        target: { type: 'username', id: username },
        detail: { failures, locked_for_seconds: Math.ceil(lockoutDurationMs / 1000) },
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
