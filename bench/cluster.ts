/**
 * bench/cluster: fan-out through a real load balancer. One, two and three `switchboard serve` processes on
 * one PostgreSQL and one Redis behind Debian's nginx (the cluster suite's set-up, test/cluster), 3,000
 * WebSocket subscribers of one channel connected through nginx, a small event published through nginx 10
 * times a second: deliveries per second, delivery latency (receive time − the publisher's `sent_at`), and the
 * CPU each part spent per delivery (the instances, nginx, Redis), read from /proc. On this 2-core machine the
 * instances, nginx, Redis, PostgreSQL and the subscribers share two cores: the point is what each part costs,
 * not that three instances are three times one.
 * Run with `npm run bench -- cluster [options]`; needs PostgreSQL, Redis and nginx (the SWITCHBOARD_TEST_*
 * variables of the cluster suite, or the machine's defaults).
 */
import { execFileSync, execSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN, Cluster } from '../test/cluster/cluster-harness.js';
import { connectSubscribers, publishAndCollect, type Tally, tally } from './fanout/deliveries.js';
import { preciseNow } from './fanout/protocol.js';
import { SubscriberWorker } from './fanout/workers.js';
import { accountsEnv, benchPassword } from './lib/accounts.js';
import { expectJson, pool } from './lib/http.js';
import { openLoop } from './lib/load.js';
import { listOption, parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import { machineCpuSeconds, processCpuSeconds } from './lib/proc.js';
import { benchRun, cores, count, markdownTable, ms, type TargetResult } from './lib/report.js';
import { ROOT } from './lib/server.js';
import { median, minMax } from './lib/stats.js';

const CHANNEL = 'bench.cluster';

const USAGE = usageText('cluster', {
  width: 22,
  options: [
    ['--runs N', 'rounds; each measures every instance count (default 3)'],
    ['--duration S', 'measured seconds of publishing per measurement (default 10)'],
    ['--warmup S', 'seconds of publishing before that, not measured (default 3)'],
    ['--instances LIST', 'instance counts behind nginx (default 1,2,3)'],
    ['--subscribers N', 'WebSocket subscribers through nginx (default 3000)'],
    ['--rate R', 'events published per second (default 10)'],
    ['--workers N', 'subscriber processes (default 1)'],
  ],
  source: 'not available: the cluster runs dist/ (built first)',
});

interface Options extends TimedOptions {
  instances: number[];
  subscribers: number;
  rate: number;
  workers: number;
}

interface Measurement extends Tally {
  instances: number;
  ready: number;
  events: number;
  /** CPU µs per delivery: every instance together, nginx (master and workers), Redis. */
  instanceCpuUs: number;
  nginxCpuUs: number;
  redisCpuUs: number;
  /** Cores the instances used over the window, each. */
  perInstanceCores: number[];
  idleCores: number;
  publishFailed: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 3, duration: 10 },
    { instances: '1,2,3', subscribers: '3000', rate: '10', workers: '1' },
  );
  if (!args) return undefined;
  const instances = listOption('instances', args.own.instances, USAGE).map((n) =>
    positiveOption('instances', n, true, USAGE),
  );
  return {
    ...args.common,
    instances: [...new Set(instances)].sort((a, b) => a - b),
    subscribers: positiveOption('subscribers', args.own.subscribers, true, USAGE),
    rate: positiveOption('rate', args.own.rate, false, USAGE),
    workers: positiveOption('workers', args.own.workers, true, USAGE),
  };
}

/** The pids of a process and its children (nginx's master and workers). */
function withChildren(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    return [pid, ...children.map(Number)];
  } catch {
    return [pid];
  }
}

/** The Redis server the cluster uses: the process listening on its port. */
function redisPids(url: string): number[] {
  const port = new URL(url).port || '6379';
  try {
    const out = execFileSync('pgrep', ['-f', `redis-server.*:${port}`], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const cpuOf = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);

async function measure(options: Options, size: number): Promise<Measurement> {
  const cluster = await Cluster.start(
    {
      ...accountsEnv(['streams.publish=off']),
      SWITCHBOARD_WS_CONNECTIONS_PER_USER: '10000',
      SWITCHBOARD_MAX_SESSIONS_PER_USER: '1000',
    },
    { size },
  );
  const workers: SubscriberWorker[] = [];
  const client = pool(cluster.url, 16);
  try {
    const admin = await expectJson(client, 200, 'POST', '/api/v1/auth/login', { json: ADMIN });
    const adminToken: string = admin.body.data.access_token;
    await expectJson(client, 201, 'POST', '/api/v1/config', {
      bearer: adminToken,
      json: {
        config: {
          functions: { clock: { module: 'shift-roster.mjs', args: { timezone: 'UTC', shift_hours: 8 } } },
          streams: { [CHANNEL]: { function: 'clock', interval: '1h' } },
        },
        message: 'bench',
      },
    });
    const viewer = { username: 'bench-viewer', password: benchPassword() };
    await expectJson(client, 201, 'POST', '/api/v1/users', {
      bearer: adminToken,
      json: { ...viewer, role: 'viewer', must_change_password: false },
    });
    const token: string = (await expectJson(client, 200, 'POST', '/api/v1/auth/login', { json: viewer })).body
      .data.access_token;
    // Every instance must know the stream before subscribers land on it.
    await sleep(1500);
    const publish = async (seq: number) => {
      const res = await client.request({
        method: 'POST',
        path: `/api/v1/streams/${CHANNEL}/publish`,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ seq, sent_at: preciseNow() }),
      });
      await res.body.text();
      if (res.statusCode !== 202) throw new Error(`publish: ${res.statusCode}`);
      return true;
    };
    await publish(0);
    const events = Math.floor(options.durationS * options.rate);
    for (let i = 0; i < options.workers; i += 1) workers.push(SubscriberWorker.start());
    const connected = await connectSubscribers(
      workers,
      { kind: 'switchboard-ws', origin: cluster.url, channel: CHANNEL, token, events },
      options.subscribers,
    );
    const { ready } = connected;
    if (ready < options.subscribers) {
      throw new Error(
        `only ${ready} of ${options.subscribers} subscribers: ${connected.failures.slice(0, 3).join('; ')}`,
      );
    }
    if (options.warmupS > 0) {
      await openLoop({
        ratePerSecond: options.rate,
        durationMs: options.warmupS * 1000,
        request: () => publish(0),
      });
    }
    for (const worker of workers) worker.tell({ type: 'start' });
    const instancePids = cluster.instances.map((instance) => instance.process?.pid);
    const nginxPids = withChildren(cluster.nginx.process?.pid);
    const redis = redisPids(process.env.SWITCHBOARD_TEST_REDIS_URL as string);
    const instanceBefore = instancePids.map((pid) => processCpuSeconds(pid));
    const nginxBefore = cpuOf(nginxPids);
    const redisBefore = cpuOf(redis);
    const machineBefore = machineCpuSeconds();
    const {
      publishing,
      collected,
      firstSentAt,
      spanS: span,
    } = await publishAndCollect(
      workers,
      { rate: options.rate, durationS: options.durationS, expected: ready * events },
      (seq) => publish(seq),
    );
    const instanceCpu = instancePids.map((pid, i) => processCpuSeconds(pid) - (instanceBefore[i] ?? 0));
    const nginxCpu = cpuOf(nginxPids) - nginxBefore;
    const redisCpu = cpuOf(redis) - redisBefore;
    const machine = machineCpuSeconds() - machineBefore;

    const { delivered, duplicates, missing, rate, latency } = tally(collected, {
      subscribers: options.subscribers,
      ready,
      events,
      durationS: options.durationS,
      firstSentAt,
    });
    const perDelivery = (seconds: number) => (delivered ? (seconds * 1e6) / delivered : Number.NaN);
    return {
      instances: size,
      ready,
      events,
      delivered,
      missing,
      duplicates,
      rate,
      latency,
      instanceCpuUs: perDelivery(instanceCpu.reduce((a, b) => a + b, 0)),
      nginxCpuUs: perDelivery(nginxCpu),
      redisCpuUs: perDelivery(redisCpu),
      perInstanceCores: instanceCpu.map((seconds) => seconds / span),
      idleCores: Math.max(0, availableParallelism() - machine / span),
      publishFailed: publishing.samples.filter((s) => !s.ok).length + publishing.unfinished,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await client.close();
    await cluster.close();
  }
}

const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const lat = (v: number) => (v === Number.POSITIVE_INFINITY ? '∞' : ms(v));
const us = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));

function spread(values: number[], format: (v: number) => string): string {
  const { min, max } = minMax(values);
  return values.length > 1
    ? `${format(median(values))} (${format(min)}–${format(max)})`
    : format(median(values));
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  if (options.runtime === 'source') throw new Error(`--source: the cluster runs dist/\n\n${USAGE}`);
  process.env.SWITCHBOARD_TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  process.env.SWITCHBOARD_TEST_REDIS_URL ??= 'redis://127.0.0.1:6379';
  process.env.SWITCHBOARD_TEST_NGINX ??= '/usr/sbin/nginx';
  execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
  const bench = benchRun('cluster', options);
  const byCount = new Map<number, Measurement[]>();
  for (let round = 0; round < options.runs; round += 1) {
    // The counts in an order rotated per round, so no count always runs first on a cold machine.
    const order = options.instances.map(
      (_, k) => options.instances[(round + k) % options.instances.length] as number,
    );
    for (const size of order) {
      const m = await measure(options, size);
      byCount.set(size, [...(byCount.get(size) ?? []), m]);
      process.stderr.write(
        `  run ${round + 1}/${options.runs}, ${size} instance(s): ${perSecond(m.rate)} deliveries/s, p50 ${lat(m.latency.p50)} ms, ` +
          `p99 ${lat(m.latency.p99)} ms, missing ${count(m.missing)}, duplicates ${m.duplicates}; CPU µs/delivery: ` +
          `instances ${us(m.instanceCpuUs)}, nginx ${us(m.nginxCpuUs)}, Redis ${us(m.redisCpuUs)}; idle cores ${cores(m.idleCores)}\n`,
      );
      await sleep(500);
    }
  }
  // Issue 19 sets no target, only figures to report: the summary lists them as the table gives them.
  const targets: TargetResult[] = [];
  const rows = options.instances.map((size) => {
    const runs = byCount.get(size) ?? [];
    const rate = spread(
      runs.map((m) => m.rate),
      perSecond,
    );
    const p99 = spread(
      runs.map((m) => m.latency.p99),
      lat,
    );
    const missing = String(runs.reduce((sum, m) => sum + m.missing, 0));
    targets.push({
      target: `${size} instance${size === 1 ? '' : 's'} behind nginx, ${count(options.subscribers)} subscribers: deliveries/s and p99`,
      measured: `${rate} deliveries/s, p99 ${p99} ms, ${missing} missing`,
      met: null,
    });
    return [
      String(size),
      rate,
      spread(
        runs.map((m) => m.latency.p50),
        lat,
      ),
      p99,
      missing,
      String(runs.reduce((sum, m) => sum + m.duplicates, 0)),
      spread(
        runs.map((m) => m.instanceCpuUs),
        us,
      ),
      spread(
        runs.map((m) => m.instanceCpuUs / size),
        us,
      ),
      spread(
        runs.map((m) => m.nginxCpuUs),
        us,
      ),
      spread(
        runs.map((m) => m.redisCpuUs),
        us,
      ),
      spread(
        runs.map((m) => m.idleCores),
        cores,
      ),
    ];
  });
  const perRun = markdownTable(
    ['run', 'instances', 'deliveries/s', 'p99 ms', 'missing', 'instance cores (each)'],
    [...byCount.entries()].flatMap(([size, runs]) =>
      runs.map((m, i) => [
        String(i + 1),
        String(size),
        perSecond(m.rate),
        lat(m.latency.p99),
        count(m.missing),
        m.perInstanceCores.map((c) => c.toFixed(2)).join(', '),
      ]),
    ),
  );
  const one = median((byCount.get(Math.min(...options.instances)) ?? []).map((m) => m.instanceCpuUs));
  const nginx = median([...byCount.values()].flat().map((m) => m.nginxCpuUs));
  const perCore = perSecond(1e6 / one);
  targets.push({
    target:
      'deliveries a second per core of Switchboard, one core per instance (predicted from the CPU per delivery)',
    measured: `about ${perCore}`,
    met: null,
  });
  const markdown = bench.report({
    title: 'Fan-out through nginx with one, two and three instances',
    question: [
      `${count(options.subscribers)} WebSocket subscribers of one channel, connected through nginx (round robin) to 1, 2 or 3 \`switchboard serve\` processes on one PostgreSQL and one Redis; an event published through nginx ${options.rate} times a second. Issue 19 asks for deliveries/s and p99 at each count, the CPU each part costs, and what the figures predict for one core per instance.`,
    ],
    trial:
      options.runs < 3 || options.durationS < 10
        ? `${options.runs} run(s) of ${options.durationS} s`
        : undefined,
    paragraphs: [
      `Command: \`${bench.command([
        ['instances', options.instances.join(',')],
        ['subscribers', options.subscribers],
        ['rate', options.rate],
        ['workers', options.workers],
      ])}\`. The cluster is the cluster suite's (test/cluster/cluster-harness.ts): fresh processes, database schema and Redis key prefix for every measurement, nginx in front (keepalive upstream, WebSocket upgrade); subscribers in ${options.workers} worker process(es) (bench/fanout/subscribers.ts) with one viewer's bearer token; the publisher is the first admin over keep-alive connections through nginx. Latency: receive time − \`sent_at\` (same clock). CPU from /proc over the measured window (instances: every instance together, and divided by the count; nginx: master and workers; Redis: the server process), in µs per delivery. Medians of the runs, the spread in parentheses.`,
      markdownTable(
        [
          'instances',
          'deliveries/s',
          'p50 ms',
          'p99 ms',
          'missing',
          'duplicates',
          'instances CPU µs/delivery',
          'per instance',
          'nginx µs/delivery',
          'Redis µs/delivery',
          'idle cores',
        ],
        rows,
      ),
      `**Reading it.** Every event is published once to Redis and sent by each instance to the subscribers it holds: the instances' CPU per delivery is the fan-out itself, shared among them, and the total grows only by what each spends per event whatever its share (reading it from Redis, encoding it once): ${us(one)} µs with one instance, ${us(median((byCount.get(Math.max(...options.instances)) ?? []).map((m) => m.instanceCpuUs)))} with ${Math.max(...options.instances)}. nginx relays every frame of every WebSocket, so it costs about ${us(nginx)} µs per delivery, as much as Switchboard itself; Redis costs per event, not per delivery. Deliveries/s is the offered load (${count(options.subscribers)} subscribers × ${options.rate} events/s) whenever nothing is missing: on this machine the instances, nginx, Redis, PostgreSQL and the subscriber process share ${availableParallelism()} cores, so more instances cannot deliver more here, and latency is mostly the subscriber process's queue. **For one core per instance:** about ${perCore} deliveries a second per core of Switchboard when the fan-out is all it does, and as many per core of nginx in front of it; add an instance when one's core is busy, and give nginx cores in proportion.`,
    ],
    perRun,
  });
  return bench.publish(markdown, { targets });
}
