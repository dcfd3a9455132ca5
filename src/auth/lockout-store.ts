import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** Who failed to sign in: the username and the client address together form the counter's key. */
export interface LockoutKey {
  username: string;
  ip: string | null;
}

const ipOf = (key: LockoutKey) => key.ip ?? '';

/** The login_failures and login_lockouts tables. */
export class LockoutStore {
  constructor(private readonly db: Kysely<Database>) {}

  async lockedUntil(key: LockoutKey): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('login_lockouts')
      .select('locked_until')
      .where('username', '=', key.username)
      .where('ip', '=', ipOf(key))
      .executeTakeFirst();
    return row?.locked_until;
  }

  /** Records a failure and returns how many the key has had since `windowStart`. */
  async recordFailure(key: LockoutKey, at: string, windowStart: string): Promise<number> {
    await this.db
      .insertInto('login_failures')
      .values({ username: key.username, ip: ipOf(key), at })
      .execute();
    const row = await this.db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('username', '=', key.username)
      .where('ip', '=', ipOf(key))
      .where('at', '>', windowStart)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** Locks the key and starts its count afresh, so the lock ends cleanly when it runs out. */
  async lock(key: LockoutKey, until: string): Promise<void> {
    await this.clearKey(key);
    await this.db
      .insertInto('login_lockouts')
      .values({ username: key.username, ip: ipOf(key), locked_until: until })
      .onConflict((oc) => oc.columns(['username', 'ip']).doUpdateSet({ locked_until: until }))
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
  async clearUsername(username: string): Promise<boolean> {
    const failures = await this.db
      .deleteFrom('login_failures')
      .where('username', '=', username)
      .executeTakeFirst();
    const locks = await this.db
      .deleteFrom('login_lockouts')
      .where('username', '=', username)
      .executeTakeFirst();
    return Number(failures.numDeletedRows) + Number(locks.numDeletedRows) > 0;
  }

  async prune(windowStart: string, now: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('at', '<=', windowStart).execute();
    await this.db.deleteFrom('login_lockouts').where('locked_until', '<=', now).execute();
  }
}
