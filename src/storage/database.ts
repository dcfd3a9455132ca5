import { chmodSync, closeSync, constants, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { withoutPassword } from '../platform/secrets.js';
import type { DatabaseTarget } from '../settings.js';
import { createPrivateDir, PRIVATE_FILE_MODE, restrictMode } from './data-dir.js';
import type { Database } from './schema.js';
import { FifoSqliteDialect } from './sqlite-fifo.js';
import { StatementCache } from './statement-cache.js';

export type Engine = DatabaseTarget['engine'];

export interface Storage {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  /** A round trip to the database; rejects when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The database file, 0600 before SQLite opens it: SQLite gives the -wal and -shm it creates later the main
 * file's mode (exactly, past the umask), so they are 0600 too. A new file's directory is 0700.
 */
function prepareDatabaseFile(file: string): void {
  createPrivateDir(dirname(file));
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    restrictMode(file, PRIVATE_FILE_MODE);
    return;
  }
  // A umask can take bits from a new file's mode too (0600 under 0277 is 0400, which SQLite cannot write).
  if (process.platform !== 'win32') chmodSync(file, PRIVATE_FILE_MODE);
}

/** The database as a log line names it: the engine and file, or the URL without its password. */
export function shownDatabase(target: DatabaseTarget): string {
  return target.engine === 'sqlite' ? `sqlite:${target.file}` : withoutPassword(target.url);
}

export function openStorage(target: DatabaseTarget, poolSize = 10): Storage {
  let db: Kysely<Database>;
  if (target.engine === 'sqlite') {
    const onDisk = target.file !== ':memory:';
    if (onDisk) prepareDatabaseFile(target.file);
    const sqlite = new SQLite(target.file);
    try {
      sqlite.pragma('journal_mode = WAL');
      // SQLite reuses a -wal or -shm an earlier version left behind, with whatever mode it had.
      if (onDisk)
        for (const suffix of ['-wal', '-shm']) restrictMode(`${target.file}${suffix}`, PRIVATE_FILE_MODE);
    } catch (error) {
      sqlite.close();
      throw error;
    }
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new FifoSqliteDialect({ database: new StatementCache(sqlite) }) });
  } else {
    const pool = new pg.Pool({ connectionString: target.url, max: poolSize, connectionTimeoutMillis: 5000 });
    // An idle client losing its connection must not crash the process; the next query reports it.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  let closed = false;
  return {
    db,
    engine: target.engine,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
