import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/schema.js';
import type { SsoProvider } from './claims.js';

export interface IdentityKey {
  provider: SsoProvider;
  issuer: string;
  subject: string;
}

/** The sso_identities and sso_spent tables. Pass a transaction to make several calls one unit. */
export class SsoStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The account an identity is linked to. */
  async userOf(key: IdentityKey): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('sso_identities')
      .select('user_id')
      .where('provider', '=', key.provider)
      .where('issuer', '=', key.issuer)
      .where('subject', '=', key.subject)
      .executeTakeFirst();
    return row?.user_id;
  }

  /** Whether any identity of `provider` is linked to the account. */
  async linked(userId: string, provider: SsoProvider): Promise<boolean> {
    const row = await this.db
      .selectFrom('sso_identities')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('provider', '=', provider)
      .executeTakeFirst();
    return row !== undefined;
  }

  async link(key: IdentityKey, userId: string, at: string): Promise<void> {
    await this.db
      .insertInto('sso_identities')
      .values({ ...key, user_id: userId, created_at: at, last_sign_in_at: at })
      .execute();
  }

  async signedIn(key: IdentityKey, at: string): Promise<void> {
    await this.db
      .updateTable('sso_identities')
      .set({ last_sign_in_at: at })
      .where('provider', '=', key.provider)
      .where('issuer', '=', key.issuer)
      .where('subject', '=', key.subject)
      .execute();
  }

  /**
   * Spends `secret` (something usable once, of the given kind): true the first time on any instance, false
   * ever after until it expires. Only a digest is kept. Concurrent spenders race for one primary key; one wins.
   */
  async spend(kind: 'oidc-state' | 'msal-id-token', secret: string, expiresAt: string): Promise<boolean> {
    const key = createHash('sha256').update(`${kind}:${secret}`).digest('hex');
    const spent = await this.db
      .insertInto('sso_spent')
      .values({ key, expires_at: expiresAt })
      .onConflict((conflict) => conflict.column('key').doNothing())
      .returning('key')
      .execute();
    return spent.length > 0;
  }

  /** Spent keys past their expiry: what they guarded can no longer be presented anyway. */
  async prune(now: string): Promise<void> {
    await this.db.deleteFrom('sso_spent').where('expires_at', '<=', now).execute();
  }
}
