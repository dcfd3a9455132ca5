/**
 * Switchboard for bench/replay: what `switchboard serve` does (settings from the environment, createApp,
 * listen, shut down on SIGTERM), plus one declared stream, BENCH_REPLAY_STREAM, open to viewers, keeping
 * BENCH_REPLAY_HISTORY events for replay (bench/lib/switchboard-launcher.mjs).
 *
 * BENCH_SQLITE_LOCK=kysely puts back the connection lock of Kysely's own SQLite driver in place of the
 * first-come-first-served one of src/storage/sqlite-fifo.ts, for the before/after comparison.
 *
 * Usage: node bench/replay/server.mjs dist | node --import tsx bench/replay/server.mjs source
 */
import { serveWithStream } from '../lib/switchboard-launcher.mjs';

const runtime = process.argv[2] === 'source' ? 'source' : 'dist';
const base = new URL(runtime === 'source' ? '../../src/' : '../../dist/', import.meta.url);

const stream = process.env.BENCH_REPLAY_STREAM;
if (!stream) throw new Error('BENCH_REPLAY_STREAM is not set');

if (process.env.BENCH_SQLITE_LOCK === 'kysely') {
  const { FifoSqliteDialect } = await import(new URL('storage/sqlite-fifo.js', base).href);
  const { SqliteDriver } = await import('kysely');
  if (typeof FifoSqliteDialect?.prototype?.createDriver !== 'function') {
    throw new Error('storage/sqlite-fifo.js no longer has FifoSqliteDialect: update bench/replay/server.mjs');
  }
  FifoSqliteDialect.prototype.createDriver = function kyselyDriver() {
    return new SqliteDriver(this.settings);
  };
}

await serveWithStream(runtime, {
  name: stream,
  meta: { description: 'bench/replay' },
  history: { size: Number(process.env.BENCH_REPLAY_HISTORY ?? 10_000) },
});
