/**
 * The load generator of bench/hotpath, in a process of its own so that it does not share the bench's
 * event loop: autocannon (closed loop, keep-alive, one request at a time per connection) against one URL.
 * argv[2] is JSON: { url, connections, warmupS, durationS, headers }. Writes `measuring` on a line of its
 * own when the warm-up is over and the measured run starts, then the measured run's figures as one line
 * of JSON: { ok, non2xx, errors, timeouts, durationS, p50, p99 } (latencies in milliseconds).
 */
import autocannon from 'autocannon';

const plan = JSON.parse(process.argv[2] ?? '{}');
const base = { url: plan.url, connections: plan.connections, headers: plan.headers, pipelining: 1 };

if (plan.warmupS > 0) await autocannon({ ...base, duration: plan.warmupS });
process.stdout.write('measuring\n');
const result = await autocannon({ ...base, duration: plan.durationS });
process.stdout.write(
  `${JSON.stringify({
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
  })}\n`,
);
