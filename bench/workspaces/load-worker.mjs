/**
 * The load generator of bench/workspaces, in a process of its own: autocannon (closed loop, keep-alive, one
 * request at a time per connection) against one URL. argv[2] is JSON:
 * { url, method, connections, warmupS, durationS, headers, clients?, expect? }. `clients`, when given, is a list of
 * { headers, bodies }: connection k takes clients[k % length], sends its headers beside the common ones,
 * and cycles through its bodies, one per request (so 50 connections can be 50 different users, each
 * writing their own document). `expect`: the status that counts as a success (say 304 for a conditional
 * read); by default any 2xx. Writes `measuring` on a line of its own when the warm-up is over, then the
 * measured run's figures as one line of JSON: { ok, unexpected, errors, timeouts, durationS, p50, p99, bytes }
 * (latencies in milliseconds, bytes of every answer received, head included).
 *
 * Bodies are counted, not kept: autocannon appends every chunk of every body to a string
 * (PipelinedRequestsQueue.addBody), which it needs only to check bodies (verifyBody, expectBody), and which
 * for a body of 480 KiB costs the load generator more CPU than the server spends answering. This worker
 * checks no body, so that step is left out (the byte counts and latencies are taken elsewhere).
 */
import { createRequire } from 'node:module';
import autocannon from 'autocannon';

const fromAutocannon = createRequire(createRequire(import.meta.url).resolve('autocannon'));
fromAutocannon('./lib/pipelinedRequestsQueue.js').prototype.addBody = () => {};

const plan = JSON.parse(process.argv[2] ?? '{}');

function options(duration) {
  let next = 0;
  const clients = Array.isArray(plan.clients) && plan.clients.length > 0 ? plan.clients : undefined;
  return {
    url: plan.url,
    method: plan.method ?? 'GET',
    connections: plan.connections,
    headers: plan.headers,
    pipelining: 1,
    duration,
    ...(clients && {
      setupClient(client) {
        const spec = clients[next % clients.length];
        next += 1;
        client.setRequests(
          spec.bodies.map((body) => ({ method: plan.method, headers: spec.headers ?? {}, body })),
        );
      },
    }),
  };
}

if (plan.warmupS > 0) await autocannon(options(plan.warmupS));
process.stdout.write('measuring\n');
const result = await autocannon(options(plan.durationS));
const answers = ['1xx', '2xx', '3xx', '4xx', '5xx'].reduce((n, k) => n + result[k], 0);
const ok = plan.expect ? (result.statusCodeStats[plan.expect]?.count ?? 0) : result['2xx'];
process.stdout.write(
  `${JSON.stringify({
    ok,
    unexpected: answers - ok,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytes: result.throughput.total,
  })}\n`,
);
