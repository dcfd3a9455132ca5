import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Agent, request } from 'undici';
import { expect } from 'vitest';

/** One connection per writer, as a client would hold it; a request cut by the kill ends in an error. */
export const dispatcher = new Agent({ connections: 16, headersTimeout: 10_000, bodyTimeout: 10_000 });

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export async function call(
  base: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  json?: unknown,
): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    method,
    dispatcher,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      accept: 'application/json',
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** `call` that must answer `status`; the answer's body otherwise says why it did not. */
export async function must(
  status: number,
  base: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  json?: unknown,
): Promise<any> {
  const answer = await call(base, token, method, path, json);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(status);
  return answer.body?.data;
}

/** Every page of a paginated list, in the order the server lists them. */
export async function all(base: string, token: string, path: string): Promise<any[]> {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await call(
      base,
      token,
      'GET',
      `${path}${separator}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    rows.push(...page.body.data);
    cursor = page.body.pagination?.next_cursor ?? null;
  } while (cursor);
  return rows;
}

/** Audit records of one type, oldest first (the API lists newest first). */
export async function auditTrail(base: string, token: string, type: string): Promise<any[]> {
  return (await all(base, token, `/api/v1/audit?type=${encodeURIComponent(type)}`)).reverse();
}

/**
 * A write as its client saw it: acknowledged (the success answer arrived), or unknown (the connection broke
 * first: it may or may not have happened).
 */
export interface Write {
  key: string;
  outcome: 'acked' | 'unknown';
}

/** One write a writer is about to make: what names it, how to send it and which answer acknowledges it. */
export interface Attempt {
  key: string;
  send: () => Promise<Answer>;
  acked: (answer: Answer) => boolean;
}

export interface Writer {
  writes: Write[];
  /** Answers that were neither the acknowledgement nor a broken connection: a defect, or a wrong test. */
  refused: string[];
  stop(): void;
  done: Promise<void>;
  acked(): string[];
  /** The write cut by the kill, if one was. */
  inFlight(): string | undefined;
}

/**
 * Makes `next(i)`'s writes one after another until stopped or until one is cut. `next` may wait for work
 * (it is told whether the writer was stopped) and returns undefined when there is none to do.
 */
export function writer(next: (i: number, stopped: () => boolean) => Promise<Attempt | undefined>): Writer {
  const writes: Write[] = [];
  const refused: string[] = [];
  let stopped = false;
  const isStopped = () => stopped;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const attempt = await next(i, isStopped);
      if (!attempt) return;
      let answer: Answer;
      try {
        answer = await attempt.send();
      } catch {
        writes.push({ key: attempt.key, outcome: 'unknown' });
        return;
      }
      if (!attempt.acked(answer)) {
        refused.push(`${attempt.key}: ${answer.status} ${JSON.stringify(answer.body)}`);
        return;
      }
      writes.push({ key: attempt.key, outcome: 'acked' });
    }
  })();
  return {
    writes,
    refused,
    done,
    stop: () => {
      stopped = true;
    },
    acked: () => writes.filter((w) => w.outcome === 'acked').map((w) => w.key),
    inFlight: () => writes.find((w) => w.outcome === 'unknown')?.key,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A PostgreSQL database of the run's own (its extensions go with it), made on the server at `baseUrl`. */
export async function ownPostgresDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sb_faults_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

interface ConstraintRow {
  name: string;
  kind: 'f' | 'c' | 'u' | 'p';
  validated: boolean;
  table: string;
  columns: string[];
  foreign_table: string | null;
  foreign_columns: string[] | null;
  definition: string;
}

const CONSTRAINTS = `
  select c.conname as name, c.contype as kind, c.convalidated as validated, t.relname as table,
    array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
          join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as columns,
    ft.relname as foreign_table,
    array(select a.attname from unnest(c.confkey) with ordinality k(n, i)
          join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)::text[] as foreign_columns,
    pg_get_constraintdef(c.oid) as definition
  from pg_constraint c
  join pg_class t on t.oid = c.conrelid
  join pg_namespace n on n.oid = t.relnamespace
  left join pg_class ft on ft.oid = c.confrelid
  where n.nspname = current_schema() and c.contype in ('f', 'c', 'u', 'p')
  order by t.relname, c.conname`;

/** The rows of `table` that break constraint `c`, as a query counting them (`n`). */
function breaking(c: ConstraintRow): string {
  const table = quote(c.table);
  const present = c.columns.map((col) => `t.${quote(col)} is not null`).join(' and ');
  switch (c.kind) {
    case 'f': {
      const matches = c.columns
        .map((col, i) => `f.${quote(c.foreign_columns?.[i] ?? '')} = t.${quote(col)}`)
        .join(' and ');
      return `select count(*)::int as n from ${table} t where ${present}
        and not exists (select 1 from ${quote(c.foreign_table ?? '')} f where ${matches})`;
    }
    case 'c': {
      const expression = c.definition.replace(/^CHECK /, '').replace(/ NOT VALID$/, '');
      return `select count(*)::int as n from ${table} t where not (${expression})`;
    }
    default: {
      const columns = c.columns.map((col) => `t.${quote(col)}`).join(', ');
      const nulls = c.kind === 'p' ? c.columns.map((col) => `t.${quote(col)} is null`).join(' or ') : 'false';
      return `select (select count(*)::int from (select 1 from ${table} t where ${present}
          group by ${columns} having count(*) > 1) d) + (select count(*)::int from ${table} t where ${nulls}) as n`;
    }
  }
}

/**
 * What PostgreSQL's own checks find wrong with the schema's rows, read from the tables themselves rather than
 * through their indexes: every foreign key, check, unique and primary key constraint re-checked by a query
 * that finds the rows breaking it, every NOT NULL column searched for nulls, constraints added NOT VALID
 * validated, and every B-tree index checked against its table (amcheck's bt_index_check with heapallindexed).
 * Empty when all hold.
 */
export async function postgresViolations(url: string): Promise<{ problems: string[]; checked: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const problems: string[] = [];
  let checked = 0;
  try {
    // An index that lost or gained an entry would hide a broken row from a query that reads through it.
    await client.query(
      'set enable_indexscan = off; set enable_indexonlyscan = off; set enable_bitmapscan = off',
    );
    const constraints = (await client.query<ConstraintRow>(CONSTRAINTS)).rows;
    for (const c of constraints) {
      const n = (await client.query<{ n: number }>(breaking(c))).rows[0]?.n ?? 0;
      if (n > 0) problems.push(`${c.table}.${c.name} (${c.definition}): ${n} rows break it`);
      if (!c.validated) {
        await client
          .query(`alter table ${quote(c.table)} validate constraint ${quote(c.name)}`)
          .catch((error: Error) => problems.push(`${c.table}.${c.name}: ${error.message}`));
      }
      checked++;
    }
    const notNull = (
      await client.query<{ table: string; column: string }>(`
        select c.relname as table, a.attname as column from pg_attribute a
        join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind = 'r' and a.attnum > 0
          and not a.attisdropped and a.attnotnull`)
    ).rows;
    for (const { table, column } of notNull) {
      const n = (
        await client.query<{ n: number }>(
          `select count(*)::int as n from ${quote(table)} where ${quote(column)} is null`,
        )
      ).rows[0]?.n;
      if (n) problems.push(`${table}.${column} is NOT NULL but ${n} rows hold null`);
      checked++;
    }
    await client.query('create extension if not exists amcheck');
    const indexes = (
      await client.query<{ index: string }>(`
        select i.relname as index from pg_index x
        join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
        join pg_am am on am.oid = i.relam
        where n.nspname = current_schema() and am.amname = 'btree'`)
    ).rows;
    for (const { index } of indexes) {
      await client
        .query('select bt_index_check($1::regclass, true)', [quote(index)])
        .catch((error: Error) => problems.push(`index ${index}: ${error.message}`));
      checked++;
    }
  } finally {
    await client.end();
  }
  return { problems, checked };
}

/** What SQLite's own checks find wrong with the file: `PRAGMA integrity_check` and `foreign_key_check`. */
export function sqliteViolations(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[])
      .map((row) => row.integrity_check)
      .filter((line) => line !== 'ok');
    const orphans = (db.pragma('foreign_key_check') as unknown[]).map(
      (row) => `foreign key: ${JSON.stringify(row)}`,
    );
    return [...integrity, ...orphans];
  } finally {
    db.close();
  }
}
