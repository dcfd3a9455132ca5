import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { StatementCache } from '../../src/storage/statement-cache.js';

interface Tables {
  items: { id: number; name: string };
}

const opened: SQLite.Database[] = [];

function memory(): SQLite.Database {
  const database = new SQLite(':memory:');
  opened.push(database);
  return database;
}

afterEach(() => {
  for (const database of opened.splice(0)) if (database.open) database.close();
});

async function withItems(cache: StatementCache): Promise<Kysely<Tables>> {
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cache }) });
  await db.schema
    .createTable('items')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .execute();
  await db
    .insertInto('items')
    .values([1, 2, 3, 4, 5].map((id) => ({ id, name: `item ${id}` })))
    .execute();
  return db;
}

describe('the SQLite statement cache', () => {
  it('prepares each SQL text once and hands the same statement out again', () => {
    const cache = new StatementCache(memory());
    const first = cache.prepare('select 1 as one');
    expect(cache.prepare('select 1 as one')).toBe(first);
    expect(cache.prepare('select 2 as two')).not.toBe(first);
    expect(cache.size).toBe(2);
  });

  it('gives the same answers as fresh statements, whatever the parameters, through Kysely', async () => {
    const db = await withItems(new StatementCache(memory()));
    for (const id of [1, 4, 2, 9, 4]) {
      const row = await db.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirst();
      expect(row).toEqual(id <= 5 ? { id, name: `item ${id}` } : undefined);
    }
    const renamed = await db
      .updateTable('items')
      .set({ name: 'renamed' })
      .where('id', '<', 3)
      .executeTakeFirst();
    expect(renamed.numUpdatedRows).toBe(2n);
    const names = await db.selectFrom('items').select('name').orderBy('id').execute();
    expect(names.map((r) => r.name)).toEqual(['renamed', 'renamed', 'item 3', 'item 4', 'item 5']);
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('items').where('id', '=', 5).execute();
    });
    expect(await db.selectFrom('items').select('id').where('id', '=', 5).execute()).toEqual([]);
  });

  it('holds at most its capacity, dropping the least recently used', () => {
    const cache = new StatementCache(memory(), 3);
    const kept = cache.prepare('select 0');
    for (let n = 1; n <= 10; n += 1) {
      cache.prepare(`select ${n}`);
      expect(cache.prepare('select 0')).toBe(kept);
    }
    expect(cache.size).toBe(3);
    const dropped = cache.prepare('select 1');
    expect(cache.prepare('select 1')).toBe(dropped);
    expect(cache.size).toBe(3);
  });

  it('streams through Kysely, and a statement still iterating is not handed out again', async () => {
    const cache = new StatementCache(memory());
    const db = await withItems(cache);
    const streamed: number[] = [];
    for await (const row of db.selectFrom('items').select('id').orderBy('id').stream()) streamed.push(row.id);
    expect(streamed).toEqual([1, 2, 3, 4, 5]);

    const text = 'select id from items order by id';
    const iterating = cache.prepare(text).iterate([]);
    expect(iterating.next().value).toEqual({ id: 1 });
    // The same text while the first is mid-iteration: better-sqlite3 would refuse to run a busy statement.
    expect(cache.prepare(text).all([])).toHaveLength(5);
    expect([...iterating]).toHaveLength(4);
  });

  it('answers with the schema as it is after a migration changes it', async () => {
    const cache = new StatementCache(memory());
    const db = await withItems(cache);
    const select = () => db.selectFrom('items').selectAll().where('id', '=', 1).executeTakeFirst();
    expect(await select()).toEqual({ id: 1, name: 'item 1' });
    await db.schema
      .alterTable('items')
      .addColumn('colour', 'text', (c) => c.defaultTo('red'))
      .execute();
    // Nothing prepared against the old schema is kept, though SQLite would re-prepare it by itself.
    expect(cache.size).toBe(0);
    expect(await select()).toEqual({ id: 1, name: 'item 1', colour: 'red' });
    await db.schema.dropTable('items').execute();
    await db.schema.createTable('items').addColumn('id', 'integer').execute();
    await sql`insert into items (id) values (1)`.execute(db);
    expect(await select()).toEqual({ id: 1 });
  });

  it('answers with the schema as it is after another connection changes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'statement-cache-'));
    try {
      const file = join(dir, 'db.sqlite');
      const cache = new StatementCache(new SQLite(file));
      const other = new SQLite(file);
      other.exec('create table items (id integer); insert into items values (1)');
      const text = 'select * from items';
      expect(cache.prepare(text).all([])).toEqual([{ id: 1 }]);
      other.exec("alter table items add column name text default 'one'");
      other.close();
      expect(cache.prepare(text).all([])).toEqual([{ id: 1, name: 'one' }]);
      cache.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('empties itself and closes the database on close', () => {
    const database = memory();
    const cache = new StatementCache(database);
    cache.prepare('select 1');
    cache.close();
    expect(cache.size).toBe(0);
    expect(database.open).toBe(false);
  });
});
