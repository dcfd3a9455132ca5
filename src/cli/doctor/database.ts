import { existsSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { DEFAULT_MIGRATION_TABLE } from 'kysely';
import pg from 'pg';
import { withTimeout } from '../../platform/health.js';
import type { DatabaseTarget } from '../../settings.js';
import { shownDatabase } from '../../storage/database.js';
import { MIGRATION_NAMES } from '../../storage/migrations.js';
import { type Finding, fail, ok, reason, skipped } from './check.js';

/** Long enough for a database across a network, short enough that a wrong address does not stall the report. */
export const DATABASE_TIMEOUT_MS = 5000;

const MIGRATE = 'run `switchboard migrate` (starting the server applies them too)';

/**
 * The names of the migrations a database has applied, read without changing it: SQLite opened read-only,
 * PostgreSQL with SELECTs only. openStorage is not used: it creates a missing file and tightens modes the
 * data directory check is there to report.
 */
type Applied = readonly string[];

function sqliteApplied(file: string): Applied {
  const db = new SQLite(file, { readonly: true, fileMustExist: true, timeout: DATABASE_TIMEOUT_MS });
  try {
    const table = db
      .prepare("select 1 from sqlite_master where type = 'table' and name = ?")
      .get(DEFAULT_MIGRATION_TABLE);
    if (table === undefined) return [];
    return db
      .prepare(`select name from "${DEFAULT_MIGRATION_TABLE}" order by name`)
      .all()
      .map((row) => (row as { name: string }).name);
  } finally {
    db.close();
  }
}

async function postgresApplied(url: string): Promise<Applied> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: DATABASE_TIMEOUT_MS,
    query_timeout: DATABASE_TIMEOUT_MS,
  });
  // An error after the answer (the server going away while closing) must not crash the command.
  client.on('error', () => {});
  try {
    await client.connect();
    // Where migrateToLatest keeps its table: the current schema (the search_path's first).
    const schema = (await client.query<{ schema: string | null }>('select current_schema() as schema'))
      .rows[0]?.schema;
    if (!schema) return [];
    const found = await client.query(
      'select 1 from information_schema.tables where table_schema = $1 and table_name = $2',
      [schema, DEFAULT_MIGRATION_TABLE],
    );
    if (found.rowCount === 0) return [];
    const table = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(DEFAULT_MIGRATION_TABLE)}`;
    return (await client.query<{ name: string }>(`select name from ${table} order by name`)).rows.map(
      (row) => row.name,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

const list = (names: readonly string[]) =>
  names.length > 4 ? `${names.slice(0, 4).join(', ')}, …` : names.join(', ');

function migrationsFinding(applied: Applied): Finding {
  const unknown = applied.filter((name) => !MIGRATION_NAMES.includes(name));
  if (unknown.length > 0)
    return fail(
      'migrations',
      `the database has ${unknown.length} migration(s) this build does not know (${list(unknown)}): a newer ` +
        'Switchboard migrated it, and this one refuses to start on it',
      'run the newer version, or restore a backup taken before it migrated the database',
    );
  if (applied.length === 0)
    return fail(
      'migrations',
      `none of the ${MIGRATION_NAMES.length} migrations applied: Switchboard's tables are not there yet`,
      MIGRATE,
    );
  const pending = MIGRATION_NAMES.filter((name) => !applied.includes(name));
  if (pending.length > 0)
    return fail(
      'migrations',
      `${pending.length} of ${MIGRATION_NAMES.length} migrations not applied (${list(pending)})`,
      MIGRATE,
    );
  return ok(
    'migrations',
    `all ${MIGRATION_NAMES.length} migrations applied (latest ${MIGRATION_NAMES.at(-1)})`,
  );
}

/** Whether the database answers (`database`) and how far it is migrated (`migrations`). */
export async function databaseFindings(target: DatabaseTarget): Promise<Finding[]> {
  const shown = shownDatabase(target);
  if (target.engine === 'sqlite') {
    if (target.file === ':memory:') {
      const why = 'SQLite in memory: every start begins with an empty database';
      return [skipped('database', why), skipped('migrations', why)];
    }
    if (!existsSync(target.file))
      return [
        fail(
          'database',
          `${shown} does not exist`,
          'run `switchboard migrate` to create it, or point SWITCHBOARD_DATA_DIR (or SWITCHBOARD_DATABASE_URL) at the existing one',
        ),
        fail(
          'migrations',
          `none of the ${MIGRATION_NAMES.length} migrations applied: no database yet`,
          MIGRATE,
        ),
      ];
  }
  const started = performance.now();
  let applied: Applied;
  try {
    applied = await withTimeout(
      target.engine === 'sqlite'
        ? Promise.resolve().then(() => sqliteApplied(target.file))
        : postgresApplied(target.url),
      DATABASE_TIMEOUT_MS + 1000,
      'the database',
    );
  } catch (error) {
    return [
      fail(
        'database',
        `${shown} cannot be read: ${reason(error)}`,
        target.engine === 'sqlite'
          ? 'check the file (is it a Switchboard database, readable by this user?) and SWITCHBOARD_DATABASE_URL'
          : 'check SWITCHBOARD_DATABASE_URL, and that PostgreSQL runs and accepts connections from this machine',
      ),
      skipped('migrations', 'the database cannot be read'),
    ];
  }
  const ms = Math.round(performance.now() - started);
  return [ok('database', `${shown} answers (${ms} ms)`), migrationsFinding(applied)];
}
