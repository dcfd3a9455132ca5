/**
 * Switchboard for bench/fanout: what `switchboard serve` does (settings from the environment, createApp,
 * listen, shut down on SIGTERM), plus one declared stream, BENCH_FANOUT_STREAM, open to viewers
 * (bench/lib/switchboard-launcher.mjs). Nothing else differs from `serve`.
 *
 * Usage: node [--expose-gc] bench/fanout/switchboard-server.mjs dist     (the built server)
 *        node --import tsx bench/fanout/switchboard-server.mjs source    (src/ through tsx)
 * SIGUSR2 runs a full garbage collection (when started with --expose-gc) and writes
 * `bench-memory {"rss","heapTotal","heapUsed","external"}` to stderr, for the bench's memory reading.
 */
import { serveWithStream } from '../lib/switchboard-launcher.mjs';
import { reportMemoryOnSignal } from './server-kit.mjs';

const stream = process.env.BENCH_FANOUT_STREAM;
if (!stream) throw new Error('BENCH_FANOUT_STREAM is not set');

await serveWithStream(process.argv[2] === 'source' ? 'source' : 'dist', {
  name: stream,
  meta: { description: 'bench/fanout' },
});
reportMemoryOnSignal();
