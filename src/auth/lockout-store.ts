import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** The login_failures and login_lockouts tables. */
export class LockoutStore {
  constructor(private readonly db: Kysely<Database>) {}

  async lockedUntil(username: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('login_lockouts')
      .select('locked_until')
      .where('username', '=', username)
      .executeTakeFirst();
    return row?.locked_until;
  }

  /** Records a failure and returns how many the username has had since `windowStart`. */
  async recordFailure(username: string, ip: string | null, at: string, windowStart: string): Promise<number> {
    await this.db.insertInto('login_failures').values({ username, ip, at }).execute();
    const row = await this.db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('username', '=', username)
      .where('at', '>', windowStart)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** Locks the username and starts its count afresh, so the lock ends cleanly when it runs out. */
  async lock(username: string, until: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('username', '=', username).execute();
    await this.db
      .insertInto('login_lockouts')
      .values({ username, locked_until: until })
      .onConflict((oc) => oc.column('username').doUpdateSet({ locked_until: until }))
      .execute();
  }

  /** Forgets failures and any lock; true when there was something to forget. */
  async clear(username: string): Promise<boolean> {
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
