/**
 * bench/ratelimit: what does the limiter chain cost an authenticated read? Closed-loop throughput of
 * GET /api/v1/auth/me with limits off, on with the memory store, and on with the Redis store, in rotated
 * order on a fresh server each. Target: at most 10% throughput loss with the memory store.
 * Run with `npm run bench -- ratelimit [options]`.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Pool } from 'undici';
import { accountsEnv, NEVER_REFUSED, setUpAccounts } from './lib/accounts.js';
import { callJson, pool } from './lib/http.js';
import { parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import { machineCpuSeconds, processCpuSeconds } from './lib/proc.js';
import { type BenchRun, benchRun, cores, count, markdownTable, ms, type TargetResult } from './lib/report.js';
import { type BenchServer, startSession } from './lib/server.js';
import { type LatencySummary, median, minMax, summarize } from './lib/stats.js';

const USAGE = usageText('ratelimit', {
  width: 18,
  options: [
    ['--runs N', 'rounds; each runs off, memory and redis on a fresh server apiece (default 5)'],
    ['--duration S', 'measured seconds per configuration (default 10)'],
    ['--warmup S', 'warm-up seconds before each measurement, not measured (default 3)'],
    ['--connections N', 'concurrent connections, each sending requests back to back (default 32)'],
  ],
  after:
    'Redis: SWITCHBOARD_BENCH_REDIS_URL, else redis://127.0.0.1:6379 (keys under a random prefix, removed after).',
});

const TARGET_LOSS = 0.1;
const CONFIGS = ['off', 'memory', 'redis'] as const;
type Config = (typeof CONFIGS)[number];
const REDIS_URL = process.env.SWITCHBOARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Options extends TimedOptions {
  connections: number;
}

interface Measurement {
  config: Config;
  /** 200s answered within the measured window, per second. */
  rate: number;
  latency: LatencySummary;
  /** Server CPU time (all its threads) per answered request over the window, µs; NaN off Linux. */
  serverCpuUs: number;
  /** Redis server CPU time per answered request over the window, µs; NaN without Redis. */
  redisCpuUs: number;
  /** Cores the bench process (the load generator) used over the window. */
  generatorCpu: number;
  /** Cores left idle on the machine over the window (/proc/stat): none means the server may have waited for a core. */
  idleCpu: number;
  failed: number;
  failures: string[];
}

interface Round {
  order: Config[];
  results: Record<Config, Measurement>;
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(argv, USAGE, { runs: 5, duration: 10 }, { connections: '32' });
  return (
    args && { ...args.common, connections: positiveOption('connections', args.own.connections, true, USAGE) }
  );
}

function serverEnv(config: Config, redisPrefix: string): Record<string, string> {
  // Tiers that never refuse, so every request takes the whole chain and none is cut short; the setup
  // burst (setup, one user, one sign-in) does not meet the per-operation limits.
  const env = accountsEnv();
  if (config === 'off') env.SWITCHBOARD_RATE_LIMITING = 'false';
  if (config === 'redis') {
    env.SWITCHBOARD_REDIS_URL = REDIS_URL;
    env.SWITCHBOARD_REDIS_KEY_PREFIX = redisPrefix;
  }
  return env;
}

/** A fresh server in `config` with an admin and the viewer whose /auth/me is measured. */
function prepare(options: Options, config: Config, redisPrefix: string) {
  const env = serverEnv(config, redisPrefix);
  return startSession({ runtime: options.runtime, env, connections: 2 }, async ({ client }) => {
    const { createUser, signIn } = await setUpAccounts(client);
    const token = await signIn(await createUser('bench-me'));
    // The configuration is what it claims: limit headers exactly when limiting is on, Redis not bypassed.
    const res = await client.request({
      method: 'GET',
      path: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
    const me = (await res.body.json()) as { data?: { username?: string } };
    if (res.statusCode !== 200 || me.data?.username !== 'bench-me') {
      throw new Error(`GET /auth/me answered ${res.statusCode} ${JSON.stringify(me)}`);
    }
    const limited = res.headers['ratelimit-limit'] !== undefined;
    if (limited !== (config !== 'off')) {
      throw new Error(`${config}: RateLimit-Limit header ${limited ? 'present' : 'missing'} on /auth/me`);
    }
    await expectNotDegraded(client, config);
    return { token };
  });
}

/** With Redis, the limiter must be counting in Redis, not in its memory fallback. */
async function expectNotDegraded(admin: Pool, config: Config): Promise<void> {
  if (config !== 'redis') return;
  const ready = await callJson(admin, 'GET', '/readyz');
  const degraded = ready.body?.data?.degraded ?? ready.body?.degraded;
  if (ready.status !== 200 || !Array.isArray(degraded) || degraded.length > 0) {
    throw new Error(
      `redis: the server is not counting in Redis (GET /readyz ${ready.status} ${JSON.stringify(ready.body)})`,
    );
  }
}

/** CPU seconds the Redis server has used so far, by its own account. */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

interface CpuSnapshot {
  server: number;
  generator: NodeJS.CpuUsage;
  redis: number;
  machine: number;
}

async function cpuSnapshot(server: BenchServer, redis: Redis | undefined): Promise<CpuSnapshot> {
  return {
    server: processCpuSeconds(server.child.pid),
    generator: process.cpuUsage(),
    redis: redis ? await redisCpuSeconds(redis) : Number.NaN,
    machine: machineCpuSeconds(),
  };
}

/**
 * Closed loop: `connections` workers, each sending the next request as soon as the previous answer's
 * body is read, for the warm-up and then the measured window. Answers that end inside the window count;
 * a non-200 anywhere (warm-up included) is a failure. `redis`, when given, is the Redis whose CPU is counted.
 */
async function closedLoop(
  options: Options,
  server: BenchServer,
  token: string,
  redis: Redis | undefined,
): Promise<Omit<Measurement, 'config'>> {
  const client = pool(server.origin, options.connections);
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  const start = performance.now();
  const windowStart = start + options.warmupS * 1000;
  const windowEnd = windowStart + options.durationS * 1000;
  const latencies: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  const fail = (message: string) => {
    failed += 1;
    if (failures.length < 5) failures.push(message);
  };
  const worker = async () => {
    while (performance.now() < windowEnd) {
      const sent = performance.now();
      try {
        const res = await client.request({ method: 'GET', path: '/api/v1/auth/me', headers });
        await res.body.dump();
        const done = performance.now();
        if (res.statusCode !== 200) fail(`GET /api/v1/auth/me: ${res.statusCode}`);
        else if (done >= windowStart && done < windowEnd) latencies.push(done - sent);
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
      }
    }
  };
  try {
    const workers = Array.from({ length: options.connections }, worker);
    await sleep(Math.max(0, windowStart - performance.now()));
    const before = await cpuSnapshot(server, redis);
    const from = performance.now();
    await sleep(Math.max(0, windowEnd - performance.now()));
    const after = await cpuSnapshot(server, redis);
    const span = (performance.now() - from) / 1000;
    await Promise.all(workers);
    const n = latencies.length;
    const generator =
      (after.generator.user - before.generator.user + after.generator.system - before.generator.system) / 1e6;
    const serverCpu = after.server - before.server;
    const redisCpu = after.redis - before.redis;
    return {
      rate: n / options.durationS,
      latency: summarize(latencies),
      serverCpuUs: n ? (serverCpu * 1e6) / n : Number.NaN,
      redisCpuUs: n && redis ? (redisCpu * 1e6) / n : Number.NaN,
      generatorCpu: generator / span,
      idleCpu: Math.max(0, availableParallelism() - (after.machine - before.machine) / span),
      failed,
      failures,
    };
  } finally {
    await client.close();
  }
}

/** Removes every key under `prefix` and says how many there were. */
async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** One configuration on a fresh server: set up, measure, stop; with Redis, check it counted there, then clean. */
async function measure(options: Options, config: Config, redis: Redis): Promise<Measurement> {
  const prefix = `sbbench:${randomBytes(6).toString('hex')}:`;
  try {
    const env = await prepare(options, config, prefix);
    try {
      const result = await closedLoop(options, env.server, env.token, config === 'redis' ? redis : undefined);
      if (env.server.child.exitCode !== null) throw new Error(`the server exited:\n${env.server.output()}`);
      await expectNotDegraded(env.client, config);
      if (config === 'redis' && /Redis is unreachable/.test(env.server.output())) {
        throw new Error(`redis: the server fell back to memory during the run:\n${env.server.output()}`);
      }
      return { config, ...result };
    } finally {
      await env.close();
    }
  } finally {
    if (config === 'redis') {
      const deleted = await deleteKeys(redis, prefix);
      if (deleted === 0) process.stderr.write(`  warning: no Redis keys under ${prefix}: was Redis used?\n`);
    }
  }
}

async function connectBenchRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new Error(
      `Redis at ${REDIS_URL} does not answer (${error instanceof Error ? error.message : String(error)}); ` +
        'start one or set SWITCHBOARD_BENCH_REDIS_URL',
    );
  }
}

const isTrial = (options: Options) => options.runs < 3 || options.durationS < 10;
const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(0));
const ratioText = (r: number) => (Number.isNaN(r) ? 'n/a' : r.toFixed(3));
const percent = (r: number) => `${((1 - r) * 100).toFixed(1)}%`;

function report(
  options: Options,
  bench: BenchRun,
  rounds: Round[],
): { markdown: string; targets: TargetResult[] } {
  const of = (config: Config) => rounds.map((r) => r.results[config]);
  const stat = (config: Config, f: (m: Measurement) => number) => median(of(config).map(f));
  const ratios = (config: Config) => rounds.map((r) => r.results[config].rate / r.results.off.rate);
  const cpuRatios = (config: Config) =>
    rounds.map((r) => r.results[config].serverCpuUs / r.results.off.serverCpuUs);
  const memoryRatio = median(ratios('memory'));
  const met = 1 - memoryRatio <= TARGET_LOSS;
  const memorySpread = minMax(ratios('memory'));
  // A verdict that single rounds would have given both ways is noise until more rounds settle it.
  const noisy = 1 - memorySpread.min > TARGET_LOSS && 1 - memorySpread.max <= TARGET_LOSS;
  const caveat = noisy
    ? ` The per-round memory / off ratios (${ratioText(memorySpread.min)}–${ratioText(memorySpread.max)}) ` +
      'lie on both sides of the target, so this verdict is within the noise of this machine: more rounds, ' +
      'or a quieter machine, decide it.'
    : '';
  const offRate = perSecond(stat('off', (m) => m.rate));
  const memoryRate = perSecond(stat('memory', (m) => m.rate));
  const redisRatio = ratioText(median(ratios('redis')));
  const redisRate = perSecond(stat('redis', (m) => m.rate));
  const targets: TargetResult[] = [
    {
      target: `throughput loss of GET /auth/me with the memory store ≤ ${TARGET_LOSS * 100}%`,
      measured:
        `${percent(memoryRatio)} (ratio ${ratioText(memoryRatio)}; ${memoryRate} vs ${offRate} req/s)` +
        (noisy ? ', within the noise of the rounds' : ''),
      met,
    },
    {
      target: 'the same with the Redis store (no target)',
      measured: `ratio ${redisRatio} (${redisRate} req/s)`,
      met: null,
    },
  ];

  const table = markdownTable(
    [
      'config',
      'req/s (median)',
      'req/s range over runs',
      'p50 ms',
      'p99 ms',
      'p99 range over runs',
      'server CPU µs/req',
      'Redis CPU µs/req',
      'generator CPU / machine idle (cores)',
    ],
    CONFIGS.map((config) => {
      const range = minMax(of(config).map((m) => m.rate));
      const p99 = minMax(of(config).map((m) => m.latency.p99));
      return [
        config,
        `**${perSecond(stat(config, (m) => m.rate))}**`,
        `${perSecond(range.min)}–${perSecond(range.max)}`,
        ms(stat(config, (m) => m.latency.p50)),
        ms(stat(config, (m) => m.latency.p99)),
        `${ms(p99.min)}–${ms(p99.max)}`,
        perSecond(stat(config, (m) => m.serverCpuUs)),
        config === 'redis' ? perSecond(stat(config, (m) => m.redisCpuUs)) : '–',
        `${cores(stat(config, (m) => m.generatorCpu))} / ${cores(stat(config, (m) => m.idleCpu))}`,
      ];
    }),
  );
  const ratioTable = markdownTable(
    [
      'ratio',
      'throughput (median of runs)',
      'range over runs',
      'loss',
      'absolute req/s (medians)',
      'server CPU per request (median ratio)',
    ],
    (['memory', 'redis'] as const).map((config) => {
      const r = median(ratios(config));
      const range = minMax(ratios(config));
      return [
        `${config} / off`,
        `**${ratioText(r)}**`,
        `${ratioText(range.min)}–${ratioText(range.max)}`,
        percent(r),
        `${perSecond(stat(config, (m) => m.rate))} vs ${perSecond(stat('off', (m) => m.rate))}`,
        `${ratioText(median(cpuRatios(config)))} (${perSecond(stat(config, (m) => m.serverCpuUs))} vs ${perSecond(stat('off', (m) => m.serverCpuUs))} µs)`,
      ];
    }),
  );
  const perRun = markdownTable(
    [
      'run',
      'order',
      'off req/s',
      'memory req/s',
      'redis req/s',
      'memory / off',
      'redis / off',
      'machine idle cores off / memory / redis',
      'failed',
    ],
    rounds.map((r, i) => [
      String(i + 1),
      r.order.join(' → '),
      perSecond(r.results.off.rate),
      perSecond(r.results.memory.rate),
      perSecond(r.results.redis.rate),
      ratioText(r.results.memory.rate / r.results.off.rate),
      ratioText(r.results.redis.rate / r.results.off.rate),
      CONFIGS.map((c) => cores(r.results[c].idleCpu)).join(' / '),
      String(CONFIGS.reduce((sum, c) => sum + r.results[c].failed, 0)),
    ]),
  );
  const command = bench.command([['connections', options.connections]]);
  const markdown = bench.report({
    title: 'Rate-limit overhead',
    question: [
      'What does the limiter chain cost an authenticated read? `GET /api/v1/auth/me` with a bearer access token',
      '(IP floor → authentication → per-user tier → authorization → handler, plus the RateLimit-* headers) with',
      'rate limiting off (`SWITCHBOARD_RATE_LIMITING=false`), on with the memory store, and on with the Redis',
      `store. **Target:** at most ${TARGET_LOSS * 100}% throughput loss with the memory store.`,
    ],
    trial: isTrial(options)
      ? `${options.runs} round(s) of ${options.durationS} s per configuration`
      : undefined,
    paragraphs: [
      `Command: \`${command}\`. Server: \`${bench.serverCommand}\` ` +
        'on 127.0.0.1, fresh SQLite data directory per configuration, log level warn, metrics off. ' +
        `Tiers set to ${count(Number(NEVER_REFUSED))} per minute so that nothing is refused and every ` +
        `request goes through the floor and the caller tier (the weighted-counter path, as for any limit above ` +
        `1,000); Redis at \`${REDIS_URL.replace(/\/\/[^@/]*@/, '//')}\` under a random key prefix per server, ` +
        `its keys deleted after. Closed loop: ${options.connections} keep-alive connections (undici Pool), each ` +
        'sending the next request as soon as the previous answer is read; ' +
        `${options.warmupS} s warm-up, then ${options.durationS} s measured; answers ending inside the window ` +
        `count. ${options.runs} round(s); each round runs the three configurations one after the other, each on ` +
        'a fresh server, starting with a different one each round so that drift in the machine falls on all ' +
        'three. Server and load generator share the machine: the generator runs in the bench process, the ' +
        'server in its own, one server at a time. Figures are medians across rounds; ratios are the median of ' +
        'the per-round ratios (configurations of the same round against each other). Latency runs from sending ' +
        'the request to the end of its response body. "server CPU µs/req": CPU time of the server process (all ' +
        'threads, /proc, 10 ms ticks) over the window divided by the answers in it; it is less sensitive than ' +
        'throughput to what else the machine runs. "Redis CPU µs/req": the same for the Redis server (its INFO ' +
        'cpu; the Redis is shared, so anything else using it counts too). "generator CPU": cores the bench ' +
        'process used; "machine idle": cores nobody used (/proc/stat). The server answers on one JavaScript ' +
        'thread, so with a core idle it was not short of CPU and its throughput is the inverse of its CPU time ' +
        'per request; with none idle, other processes (the generator, Redis, anything else) were taking turns with it. ' +
        'Read the ranges beside the medians: where one configuration varies between rounds (fresh server ' +
        'processes) by more than the ratios differ from 1, a single round says nothing and only the medians of ' +
        'several rounds count.',
      table,
      ratioTable,
      `**Result:** memory store ${memoryRate} req/s vs limits off ` +
        `${offRate} req/s: ratio ${ratioText(memoryRatio)}, a loss of ` +
        `${percent(memoryRatio)} (target ≤ ${TARGET_LOSS * 100}%): **${met ? 'met' : 'not met'}**` +
        `${isTrial(options) ? ' (trial)' : ''}. Redis store: ratio ${redisRatio} ` +
        `(${redisRate} req/s).${caveat}`,
    ],
    perRun,
  });
  return { markdown, targets };
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('ratelimit', options);
  const redis = await connectBenchRedis();
  try {
    const perRoundS = 3 * (options.warmupS + options.durationS + 4);
    process.stderr.write(
      `bench ratelimit: ${options.runs} round(s) of off, memory and redis, ${options.warmupS} s + ` +
        `${options.durationS} s each, ${options.connections} connections, about ` +
        `${Math.ceil((options.runs * perRoundS) / 60)} min\n`,
    );
    const rounds: Round[] = [];
    for (let i = 0; i < options.runs; i += 1) {
      const order = CONFIGS.map((_, k) => CONFIGS[(i + k) % CONFIGS.length] as Config);
      const results: Partial<Record<Config, Measurement>> = {};
      for (const config of order) {
        results[config] = await measure(options, config, redis);
        await sleep(1000);
      }
      const round = { order, results: results as Record<Config, Measurement> };
      rounds.push(round);
      const r = round.results;
      process.stderr.write(
        `  round ${i + 1}/${options.runs} (${order.join(' → ')}): off ${perSecond(r.off.rate)}, ` +
          `memory ${perSecond(r.memory.rate)}, redis ${perSecond(r.redis.rate)} req/s; ` +
          `memory/off ${ratioText(r.memory.rate / r.off.rate)}, redis/off ${ratioText(r.redis.rate / r.off.rate)}; ` +
          `failed ${CONFIGS.reduce((sum, c) => sum + r[c].failed, 0)}\n`,
      );
    }
    const all = rounds.flatMap((r) => CONFIGS.map((c) => r.results[c]));
    const failed = all.reduce((sum, m) => sum + m.failed, 0);
    const failures = all.flatMap((m) => m.failures.map((f) => `${m.config}: ${f}`));
    const { markdown, targets } = report(options, bench, rounds);
    return bench.publish(markdown, {
      targets,
      failed: failed > 0 ? `${failed} request(s) failed (${failures.slice(0, 3).join('; ')})` : undefined,
    });
  } finally {
    redis.disconnect();
  }
}
