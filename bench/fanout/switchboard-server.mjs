/**
 * Switchboard for bench/fanout: what `switchboard serve` does (settings from the environment, createApp,
 * listen, shut down on SIGTERM), plus one declared stream, BENCH_FANOUT_STREAM, open to viewers. It is
 * declared through the channel registry's own API rather than the endpoint configuration, whose streams
 * each come with a producer: here only the bench publishes. Nothing else differs from `serve`.
 *
 * Usage: node [--expose-gc] bench/fanout/switchboard-server.mjs dist     (the built server)
 *        node --import tsx bench/fanout/switchboard-server.mjs source    (src/ through tsx)
 * SIGUSR2 runs a full garbage collection (when started with --expose-gc) and writes
 * `bench-memory {"rss","heapTotal","heapUsed","external"}` to stderr, for the bench's memory reading.
 */
import { reportMemoryOnSignal } from './server-kit.mjs';

const runtime = process.argv[2] === 'source' ? 'source' : 'dist';
const base = new URL(runtime === 'source' ? '../../src/' : '../../dist/', import.meta.url);
const { loadSettings } = await import(new URL('settings.js', base).href);
const { createApp } = await import(new URL('app.js', base).href);

const stream = process.env.BENCH_FANOUT_STREAM;
if (!stream) throw new Error('BENCH_FANOUT_STREAM is not set');

const app = await createApp(loadSettings());
app.live.channels.declare({
  name: stream,
  access: { minRole: 'viewer' },
  meta: { description: 'bench/fanout' },
});
await app.start();

reportMemoryOnSignal();
let signals = 0;
const stop = () => {
  signals += 1;
  if (signals > 1) process.exit(130);
  app.shutdown().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
