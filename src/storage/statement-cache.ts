import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Far more than the distinct queries Switchboard issues, so in practice each is prepared once. */
export const STATEMENT_CACHE_SIZE = 500;

/**
 * The statements of everyday work (Kysely only ever compiles these first words for them); anything else
 * (a migration's CREATE or ALTER, a pragma) is prepared anew each time and empties the cache first. SQLite
 * re-prepares a statement by itself once the schema changed (whichever connection changed it), so this is
 * a backstop that costs nothing after start-up: no statement prepared before a migration outlives it.
 */
const REUSABLE = /^\s*(select|insert|update|delete|with|begin|commit|rollback|savepoint|release)\b/i;

/**
 * The SQLite database Kysely's driver is given, preparing each SQL text once: the driver prepares every
 * query anew, and preparing cost about as much as running the query on the authenticated read. A statement
 * is safe to hand out again because the driver runs one query at a time to completion (better-sqlite3 is
 * synchronous), except a stream's `iterate`, which keeps its statement busy until the stream ends: a busy
 * statement is not handed out but prepared afresh. The least recently used entry makes room.
 */
export class StatementCache implements SqliteDatabase {
  private readonly statements = new Map<string, SQLite.Statement>();

  constructor(
    private readonly database: SQLite.Database,
    private readonly capacity = STATEMENT_CACHE_SIZE,
  ) {}

  prepare(sql: string): SqliteStatement {
    const cached = this.statements.get(sql);
    if (cached !== undefined && !cached.busy) {
      // A Map iterates in insertion order: moving the hit to the end keeps the least recent first.
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    if (!REUSABLE.test(sql)) {
      this.statements.clear();
      return this.database.prepare(sql);
    }
    const statement = this.database.prepare(sql);
    if (cached !== undefined) return statement;
    this.statements.set(sql, statement);
    if (this.statements.size > this.capacity) {
      const leastRecent = this.statements.keys().next();
      if (!leastRecent.done) this.statements.delete(leastRecent.value);
    }
    return statement;
  }

  /** Whether a transaction is open: SQLite may have ended one by itself (sqlite-fifo.ts). */
  get inTransaction(): boolean {
    return this.database.inTransaction;
  }

  /** Statements held now. */
  get size(): number {
    return this.statements.size;
  }

  close(): void {
    this.statements.clear();
    this.database.close();
  }
}
