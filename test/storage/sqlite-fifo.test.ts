import SQLite from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { FifoLock, FifoSqliteDialect } from '../../src/storage/sqlite-fifo.js';

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
});
