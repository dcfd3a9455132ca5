import { randomUUID } from 'node:crypto';
import type { AuditContext } from '../../audit/service.js';
import { isUniqueViolation } from '../../storage/constraints.js';
import { type AuthDeps, type ClientMeta, iso } from '../context.js';
import type { IssuedSession, SessionsService } from '../sessions-service.js';
import { type UserRecord, UsersStore } from '../users-store.js';
import type { SsoIdentity, SsoProvider } from './claims.js';
import { SsoRefusal } from './failures.js';
import { SsoStore } from './store.js';

const sameGroups = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((group, i) => group === b[i]);

/** What a sign-in changed on the account, for the audit log and the events that reach open streams. */
interface Admission {
  user: UserRecord;
  provisioned: boolean;
  roleChanged: boolean;
  groupsChanged: boolean;
  /** The claims would demote the last enabled admin: the role is kept. */
  keptLastAdmin: boolean;
}

/**
 * Accounts behind single sign-on: which account a verified identity signs in to (linked by issuer and
 * subject, never by a username alone), its role and groups set from the claims at every sign-in, and the
 * session it gets, the same as a password sign-in's.
 */
export class SsoAccounts {
  constructor(
    private readonly deps: AuthDeps,
    private readonly sessions: SessionsService,
  ) {}

  private get provision(): boolean {
    return this.deps.settings.sso.claims.provision;
  }

  /** Signs the identity in; an SsoRefusal (403, code 1001) when its account may not be used. */
  async signIn(identity: SsoIdentity, client: ClientMeta): Promise<IssuedSession> {
    let admission: Admission;
    try {
      admission = await this.admit(identity);
    } catch (error) {
      // The same person signing in twice at once: the other sign-in made the account and its link first,
      // and this one now finds them.
      if (!isUniqueViolation(error)) throw error;
      admission = await this.admit(identity);
    }
    const { user } = admission;
    const issued = await this.sessions.start(user, identity.provider, client);
    if (admission.roleChanged) this.deps.events.emit('user.changed', { userId: user.id, change: 'role' });
    if (admission.groupsChanged) this.deps.events.emit('user.changed', { userId: user.id, change: 'groups' });
    await this.deps.audit.record(
      { actor: { id: user.id, username: user.username }, ...client },
      {
        type: 'auth.sso.login',
        outcome: 'success',
        target: { type: 'user', id: user.id },
        detail: {
          provider: identity.provider,
          issuer: identity.issuer,
          session_id: issued.sessionId,
          provisioned: admission.provisioned,
          role: user.role,
          groups: user.groups,
          ...(identity.groupsDropped > 0 ? { groups_dropped: identity.groupsDropped } : {}),
          ...(admission.keptLastAdmin ? { kept_last_admin: true } : {}),
        },
      },
    );
    return issued;
  }

  /** Audits a refused SSO sign-in (`auth.sso.failure`) with why, never with a token. */
  async refused(
    provider: SsoProvider,
    reason: string,
    client: ClientMeta,
    identity?: { username: string; issuer: string },
  ): Promise<void> {
    const context: AuditContext = {
      actor: { id: null, username: identity?.username ?? null },
      ...client,
    };
    await this.deps.audit.record(context, {
      type: 'auth.sso.failure',
      outcome: 'failure',
      detail: { provider, reason, ...(identity ? { issuer: identity.issuer } : {}) },
    });
  }

  /** The account, found or made, with the claims applied: one transaction. */
  private async admit(identity: SsoIdentity): Promise<Admission> {
    const now = iso(this.deps.now());
    return this.deps.db.transaction().execute(async (trx) => {
      const users = new UsersStore(trx, this.deps.engine);
      const links = new SsoStore(trx);
      const key = { provider: identity.provider, issuer: identity.issuer, subject: identity.subject };
      const linkedId = await links.userOf(key);
      let user = linkedId === undefined ? undefined : await users.findById(linkedId);
      let provisioned = false;
      if (user) {
        await links.signedIn(key, now);
      } else {
        const named = await users.findByUsername(identity.username);
        // Linked meanwhile by another sign-in of this person (PostgreSQL reads what committed since the
        // first look): theirs, not a conflict.
        const linkedMeanwhile = named !== undefined && (await links.userOf(key)) === named.id;
        if (named && linkedMeanwhile) {
          user = named;
          await links.signedIn(key, now);
        } else if (named) {
          // An account made for this provider by an admin, not yet claimed: the first sign-in links it.
          if (named.authSource !== identity.provider || (await links.linked(named.id, identity.provider))) {
            throw new SsoRefusal(
              'username_taken',
              `an account named "${identity.username}" already exists here and is not linked to this sign-in; ask an admin`,
              identity,
            );
          }
          user = named;
          await links.link(key, user.id, now);
        } else {
          if (!this.provision) {
            throw new SsoRefusal(
              'not_provisioned',
              `there is no account "${identity.username}" here, and accounts are not created at sign-in; ask an admin to create it`,
              identity,
            );
          }
          user = {
            id: randomUUID(),
            username: identity.username,
            fullName: identity.fullName,
            role: identity.role,
            passwordHash: null,
            authSource: identity.provider,
            disabled: false,
            mustChangePassword: false,
            groups: [...identity.groups],
            createdAt: now,
            updatedAt: now,
            lastLoginAt: null,
          };
          await users.insert(user);
          await links.link(key, user.id, now);
          provisioned = true;
        }
      }
      if (user.disabled) {
        throw new SsoRefusal('disabled', 'this account is disabled here; ask an admin', identity);
      }
      let role = identity.role;
      let keptLastAdmin = false;
      if (user.role === 'admin' && role !== 'admin') {
        const admins = await users.enabledAdminIds(true);
        if (admins.length <= 1) {
          role = 'admin';
          keptLastAdmin = true;
        }
      }
      const roleChanged = !provisioned && role !== user.role;
      const groupsChanged = !provisioned && !sameGroups(user.groups, identity.groups);
      if (!provisioned) {
        await users.update(user.id, {
          role: roleChanged ? role : undefined,
          fullName: identity.fullName ?? user.fullName,
          updatedAt: now,
        });
        if (groupsChanged) await users.setGroups(user.id, identity.groups);
      }
      return {
        user: { ...user, role, groups: [...identity.groups], fullName: identity.fullName ?? user.fullName },
        provisioned,
        roleChanged,
        groupsChanged,
        keptLastAdmin,
      };
    });
  }

  async prune(): Promise<void> {
    await new SsoStore(this.deps.db).prune(iso(this.deps.now()));
  }
}
