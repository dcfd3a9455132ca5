import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** Who failed to sign in: the username and the client address block together form the counter's key. */
export interface LockoutKey {
  username: string;
  /** The client's address as limits count it (an IPv6 /64, say); null when there is none. */
  ip: string | null;
}

const ipOf = (key: LockoutKey) => key.ip ?? '';

/** A key's row in login_lockouts before it was ever locked. */
const NEVER_LOCKED = '1970-01-01T00:00:00.000Z';

/** The login_failures and login_lockouts tables. */
export class LockoutStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The key's lock row, created unlocked when missing; returns until when it is locked. Inside a
   * transaction this serialises the attempts on one key: the upsert holds the row's lock on PostgreSQL
   * until the transaction ends, and SQLite runs one transaction at a time.
   */
  async claim(key: LockoutKey): Promise<string> {
    const row = await this.db
      .insertInto('login_lockouts')
      .values({ username: key.username, ip: ipOf(key), locked_until: NEVER_LOCKED })
      .onConflict((oc) =>
        oc.columns(['username', 'ip']).doUpdateSet((eb) => ({
          locked_until: eb.ref('login_lockouts.locked_until'),
        })),
      )
      .returning('locked_until')
      .executeTakeFirstOrThrow();
    return row.locked_until;
  }

  async failuresSince(key: LockoutKey, windowStart: string): Promise<number> {
    const row = await this.db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('username', '=', key.username)
      .where('ip', '=', ipOf(key))
      .where('at', '>', windowStart)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async recordFailure(key: LockoutKey, at: string): Promise<void> {
    await this.db
      .insertInto('login_failures')
      .values({ username: key.username, ip: ipOf(key), at })
      .execute();
  }

  /** Locks the key and starts its count afresh, so the lock ends cleanly when it runs out. */
  async lock(key: LockoutKey, until: string): Promise<void> {
    await this.clearKey(key);
    await this.db
      .updateTable('login_lockouts')
      .set({ locked_until: until })
      .where('username', '=', key.username)
      .where('ip', '=', ipOf(key))
      .execute();
  }

  /** Forgets the failures of one key (a successful sign-in from that address). */
  async clearKey(key: LockoutKey): Promise<void> {
    await this.db
      .deleteFrom('login_failures')
      .where('username', '=', key.username)
      .where('ip', '=', ipOf(key))
      .execute();
  }

  /** Forgets every failure and lock of the username, from any address; true when there was something. */
  async clearUsername(username: string, now: string): Promise<boolean> {
    const failures = await this.db
      .deleteFrom('login_failures')
      .where('username', '=', username)
      .executeTakeFirst();
    const locks = await this.db
      .deleteFrom('login_lockouts')
      .where('username', '=', username)
      .where('locked_until', '>', now)
      .executeTakeFirst();
    await this.db.deleteFrom('login_lockouts').where('username', '=', username).execute();
    return Number(failures.numDeletedRows) + Number(locks.numDeletedRows) > 0;
  }

  async prune(windowStart: string, now: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('at', '<=', windowStart).execute();
    await this.db.deleteFrom('login_lockouts').where('locked_until', '<=', now).execute();
  }
}
