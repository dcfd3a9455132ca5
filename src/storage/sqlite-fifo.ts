import {
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

/**
 * A lock that serves its waiters first come, first served and wakes exactly one of them per release. The
 * driver Kysely ships wakes every waiter on each release and lets them race for the lock again, so under a
 * burst (a reconnect storm authenticating thousands of connections at once) each release costs as much as
 * the queue is long and a late caller can overtake one that has waited since the start.
 */
export class FifoLock {
  private held = false;
  private readonly waiters: ((() => void) | undefined)[] = [];
  private head = 0;

  /** Resolves once the caller holds the lock; callers are served in the order they called. */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Hands the lock straight to the longest waiter, so nobody can take it in between. */
  release(): void {
    const next = this.waiters[this.head];
    if (next === undefined) {
      this.held = false;
      return;
    }
    this.waiters[this.head] = undefined;
    this.head += 1;
    // Compacted now and then rather than shifted on every release: shift is linear in the queue length.
    if (this.head >= 1024 && this.head * 2 >= this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
    next();
  }

  /** Callers waiting for the lock. */
  get waiting(): number {
    return this.waiters.length - this.head;
  }
}

/**
 * Kysely's SQLite driver with its connection lock replaced by a FifoLock: the single connection goes to
 * queries in the order they asked for it. The inherited lock is still taken, but only ever uncontended.
 */
class FifoSqliteDriver extends SqliteDriver {
  private readonly lock = new FifoLock();
  private readonly database: SqliteDialectConfig['database'];

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.database = config.database;
  }

  /**
   * SQLite rolls a transaction back by itself when a statement fails for want of room (SQLITE_FULL) and on
   * some I/O errors: the ROLLBACK that follows then finds no transaction, and its own error would go out in
   * place of the one that ended the transaction (a 500 where a full disk is a 503, src/platform/disk-full.ts).
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (error) {
      if ((this.database as { inTransaction?: boolean }).inTransaction === false) return;
      throw error;
    }
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire();
    try {
      return await super.acquireConnection();
    } catch (error) {
      this.lock.release();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.lock.release();
  }
}

/** SqliteDialect whose driver serves waiting queries first come, first served. */
export class FifoSqliteDialect extends SqliteDialect {
  private readonly settings: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.settings = config;
  }

  override createDriver(): Driver {
    return new FifoSqliteDriver(this.settings);
  }
}
