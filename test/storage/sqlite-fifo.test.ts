import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { FifoLock, FifoSqliteDialect } from '../../src/storage/sqlite-fifo.js';
import { StatementCache } from '../../src/storage/statement-cache.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the SQLite connection lock', () => {
  it('serves waiting queries first come, first served, ahead of a caller arriving at a release', async () => {
    const database = new SQLite(':memory:');
    const driver = new FifoSqliteDialect({ database }).createDriver();
    await driver.init();
    try {
      const served: string[] = [];
      const holder = await driver.acquireConnection();
      const take = (name: string) =>
        driver.acquireConnection().then(async (connection) => {
          served.push(name);
          await connection.executeQuery(CompiledQuery.raw('select 1'));
          await tick();
          await driver.releaseConnection(connection);
        });
      const waiting = ['w1', 'w2', 'w3', 'w4', 'w5'].map(take);
      await tick();
      expect(served).toEqual([]);
      // The caller that arrives in the same tick as the release must queue behind those already waiting.
      const release = driver.releaseConnection(holder);
      const late = take('late');
      await Promise.all([release, late, ...waiting]);
      expect(served).toEqual(['w1', 'w2', 'w3', 'w4', 'w5', 'late']);
    } finally {
      await driver.destroy();
    }
  });

  it('wakes one waiter per release, in order, and is free again once the queue is empty', async () => {
    const lock = new FifoLock();
    await lock.acquire();
    const served: number[] = [];
    const waiters = Array.from({ length: 3000 }, (_, index) =>
      lock.acquire().then(() => {
        served.push(index);
      }),
    );
    expect(lock.waiting).toBe(3000);
    for (let released = 1; released <= 3000; released += 1) {
      lock.release();
      await tick();
      expect(served.length).toBe(released);
      expect(lock.waiting).toBe(3000 - released);
    }
    await Promise.all(waiters);
    expect(served).toEqual(Array.from({ length: 3000 }, (_, index) => index));
    lock.release();
    let free = false;
    void lock.acquire().then(() => {
      free = true;
    });
    await Promise.resolve();
    expect(free).toBe(true);
  });

  it('reports the failure that made SQLite end a transaction itself, not the ROLLBACK that found none', async () => {
    const database = new SQLite(':memory:');
    database.exec('create table t (v text)');
    // A database that may not grow: SQLITE_FULL, as from a full disk, which rolls the transaction back.
    database.pragma(`max_page_count = ${Number(database.pragma('page_count', { simple: true })) + 2}`);
    const db = new Kysely<{ t: { v: string } }>({
      dialect: new FifoSqliteDialect({ database: new StatementCache(database) }),
    });
    try {
      const failure = await db
        .transaction()
        .execute(async (trx) => {
          for (let i = 0; i < 20; i++)
            await trx
              .insertInto('t')
              .values({ v: 'x'.repeat(4000) })
              .execute();
        })
        .catch((error: unknown) => error);
      expect((failure as { code?: string }).code).toBe('SQLITE_FULL');
      expect(database.inTransaction).toBe(false);
      // Nothing of it was kept, and the connection takes the next transaction.
      await db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'small' }).execute());
      const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
      expect(rows[0]?.n).toBe(1);
    } finally {
      await db.destroy();
    }
  });
});
