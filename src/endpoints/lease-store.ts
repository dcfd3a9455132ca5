import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** Streams per statement: three parameters each, well within both engines' limits. */
const BATCH = 500;

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
    return (await this.acquireAll([stream], holder, now, expiresAt)).has(stream);
  }

  /**
   * `acquire` for many streams in as few statements as there are batches: the streams granted to
   * `holder`. A cluster running thousands of streams renews them all in a handful of round trips.
   */
  async acquireAll(
    streams: readonly string[],
    holder: string,
    now: string,
    expiresAt: string,
  ): Promise<Set<string>> {
    const granted = new Set<string>();
    for (let start = 0; start < streams.length; start += BATCH) {
      const rows = await this.db
        .insertInto('producer_leases')
        .values(
          streams.slice(start, start + BATCH).map((stream) => ({ stream, holder, expires_at: expiresAt })),
        )
        .onConflict((conflict) =>
          conflict
            .column('stream')
            .doUpdateSet({ holder, expires_at: expiresAt })
            .where((eb) =>
              eb.or([eb('producer_leases.holder', '=', holder), eb('producer_leases.expires_at', '<', now)]),
            ),
        )
        .returning('stream')
        .execute();
      for (const row of rows) granted.add(row.stream);
    }
    return granted;
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
