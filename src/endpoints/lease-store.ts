import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/**
 * Leases that make each stream's producer run on one instance of a cluster. A holder renews its lease
 * well before it lapses; when it dies, another instance takes the lapsed lease over.
 */
export class LeaseStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Takes or renews the lease on `stream` for `holder` until `expiresAt`: granted when it is free, lapsed
   * (expires before `now`) or already the holder's. One statement, so two instances cannot both win.
   */
  async acquire(stream: string, holder: string, now: string, expiresAt: string): Promise<boolean> {
    const result = await this.db
      .insertInto('producer_leases')
      .values({ stream, holder, expires_at: expiresAt })
      .onConflict((conflict) =>
        conflict
          .column('stream')
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) =>
            eb.or([eb('producer_leases.holder', '=', holder), eb('producer_leases.expires_at', '<', now)]),
          ),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async release(stream: string, holder: string): Promise<void> {
    await this.db
      .deleteFrom('producer_leases')
      .where('stream', '=', stream)
      .where('holder', '=', holder)
      .execute();
  }

  async holderOf(stream: string): Promise<{ holder: string; expiresAt: string } | undefined> {
    const row = await this.db
      .selectFrom('producer_leases')
      .select(['holder', 'expires_at'])
      .where('stream', '=', stream)
      .executeTakeFirst();
    return row ? { holder: row.holder, expiresAt: row.expires_at } : undefined;
  }
}
