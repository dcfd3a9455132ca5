/**
 * The soak engine, shared by bench/soak.ts (30 minutes, the report and the chart) and test/soak (3 minutes
 * in CI): one `switchboard serve` on a fresh SQLite directory under mixed load for a while, sampled every
 * few seconds from its own /metrics and /proc, with every failed request, subscriber gap, duplicate, drop
 * and stall counted.
 *
 * The load: sign-ins, reads and preference patches in open loops; subscribers (WebSocket, one-channel SSE
 * and several-channel SSE) in worker processes, following the configuration's streams and their own
 * `user:{id}` channel (where patches are announced), some closed and reopened every second (resuming from
 * their last id); the streams' producers polling a loopback upstream every second; and a new configuration
 * version saved and activated every minute (bench/soak/document.ts), which redeclares one subscribed stream
 * and adds or removes another.
 */

import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { accountsEnv, benchPassword } from '../lib/accounts.js';
import { expectJson, METRICS_ENV, pool } from '../lib/http.js';
import { openLoop } from '../lib/load.js';
import { processCpuSeconds, residentKiB } from '../lib/proc.js';
import { type Runtime, startServer } from '../lib/server.js';
import { type Trend, trendOf } from './analysis.js';
import { ROTATING_SLOW_S, STEADY_STREAMS, SUBSCRIBED_STREAMS, soakConfig } from './document.js';
import { patch, Requests, read, type SoakUser, signIn } from './load.js';
import { type ServerFigures, scrapeServer } from './metrics.js';
import type { SubscriberKind, SubscriberSpec, WorkerStats } from './protocol.js';
import { startSoakUpstream } from './upstream.js';
import { SoakWorker } from './workers.js';

export interface SoakOptions {
  durationS: number;
  /** Subscribers besides the admin's two on `config`. */
  subscribers: number;
  /** Subscriber worker processes. */
  workers: number;
  sampleEveryS: number;
  activationEveryS: number;
  /** Per second: sign-ins (login, me, logout), reads, preference patches, subscribers closed and reopened. */
  rates: { logins: number; reads: number; patches: number; churn: number };
  /** Seconds at the start left out of the verdicts; default: 20% of the run, at least 60 s. */
  warmupS?: number;
  runtime: Runtime;
  /** Build dist/ first (default: when the runtime is dist). */
  build?: boolean;
  /** Progress lines (stderr in the bench). */
  progress?: (line: string) => void;
}

export const DEFAULT_RATES = { logins: 1, reads: 40, patches: 5, churn: 2 } as const;

/** Subscriber connections per user: within the default caps of 10 WebSockets and 10 SSE responses each. */
export const SUBSCRIBERS_PER_USER = 10;
export const LOGIN_USERS = 10;
/** A steady stream silent for this long, at an open subscriber, counts as stalled. */
export const STALE_AFTER_MS = 15_000;
/** Events a subscriber may trail its channel's leader by in the final check (in flight when it was taken). */
const LAG_ALLOWED = 3;

export interface Sample {
  /** Seconds since the soak began (after set-up and connecting). */
  t: number;
  /** The server's figures as found (the event-loop delay is that of the interval since the last sample). */
  server: ServerFigures | undefined;
  /** The same right after a full garbage collection: the heap still in use. */
  afterGc: ServerFigures | undefined;
  /** Full collections the bench has asked for so far (one a sample). */
  forcedGcs: number;
  /** VmRSS from /proc, bytes. */
  rssBytes: number;
  /** Cores the server used since the previous sample (/proc). */
  serverCores: number;
  /** GET /readyz answered 200. */
  ready: boolean;
  /** The machine's 1-minute load average: the soak shares it with whatever else runs. */
  loadAverage: number;
  subscribersOpen: number;
  stalled: number;
  /** Events received by every subscriber so far. */
  events: number;
  /** HTTP requests sent so far, and those that failed. */
  requests: number;
  failedRequests: number;
}

export interface SubscriberTotals {
  subscribers: number;
  connectedAtStart: number;
  connectFailures: string[];
  connectSeconds: number;
  events: number;
  gaps: number;
  duplicates: number;
  resets: number;
  epochChanges: number;
  dropped: Record<string, number>;
  droppedTotal: number;
  reconnects: number;
  reconnectFailures: number;
  unexpected: number;
  statusErrors: number;
  /** Samples (after the first) at which some open subscriber had a steady stream silent too long. */
  stalledSamples: number;
  maxStalled: number;
  /** Channels where an open subscriber trailed the channel's last event by more than LAG_ALLOWED at the end. */
  lagging: string[];
  samples: string[];
  byKind: Record<SubscriberKind, number>;
}

export interface SoakResult {
  options: SoakOptions;
  warmupS: number;
  historyAgeS: number;
  accessTokenTtl: string;
  setupSeconds: number;
  samples: Sample[];
  /** Heap in use after a full collection at each sample: the verdict. */
  heap: Trend;
  /** Heap in use as each sample found it, garbage included. */
  heapAsFound: Trend;
  handles: Trend;
  rss: Trend;
  external: Trend;
  requests: Requests;
  activations: { done: number; failed: number; latencies: number[]; lastVersion: string | undefined };
  subscribers: SubscriberTotals;
  upstreamRequests: number;
  /** Samples at which GET /readyz did not answer 200, or /metrics failed. */
  notReady: number;
  scrapeFailures: number;
  /** The server's exit: undefined while the soak ran and it stopped cleanly (SIGTERM, exit 0). */
  serverExit: string | undefined;
  /** Everything that counts against the run, one line each; empty for a clean run. */
  errors: string[];
}

const mib = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : (bytes / 2 ** 20).toFixed(1));

/**
 * Full garbage collections on demand: SIGUSR2 to the server, whose preloaded handler
 * (bench/soak/gc-on-signal.mjs) collects and then writes `soak-gc N` on its stderr.
 */
function collector(child: ChildProcess) {
  let done = 0;
  let waiting: (() => void) | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const match of chunk.toString('utf8').matchAll(/^soak-gc (\d+)$/gm)) {
      done = Math.max(done, Number(match[1]));
      waiting?.();
    }
  });
  return {
    get count() {
      return done;
    },
    /** Resolves once the server has collected; rejects after `timeoutMs`. */
    async collect(timeoutMs: number): Promise<void> {
      const target = done + 1;
      const finished = new Promise<void>((resolve) => {
        waiting = () => {
          if (done >= target) resolve();
        };
      });
      child.kill('SIGUSR2');
      const timer = new AbortController();
      const inTime = await Promise.race([
        finished.then(() => true),
        sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false),
      ]);
      timer.abort();
      waiting = undefined;
      if (!inTime)
        throw new Error(`the server did not collect its garbage within ${timeoutMs} ms of SIGUSR2`);
    },
  };
}

/** The warm-up of a run of `durationS`: 20% of it, at least 60 s, never all of it. */
export function defaultWarmupS(durationS: number): number {
  return Math.min(Math.max(0.2 * durationS, 60), durationS / 2);
}

/** Deals the subscribers out: half WebSockets, a quarter one-channel SSE, a quarter several-channel SSE. */
function subscriberSpecs(count: number, users: readonly SoakUser[], admin: SoakUser): SubscriberSpec[] {
  const specs: SubscriberSpec[] = [];
  const kinds: SubscriberKind[] = ['ws', 'sse', 'ws', 'sse-multi'];
  for (let i = 0; i < count; i += 1) {
    const user = users[Math.floor(i / SUBSCRIBERS_PER_USER) % users.length] as SoakUser;
    const stream = SUBSCRIBED_STREAMS[i % SUBSCRIBED_STREAMS.length] as string;
    const kind = kinds[i % kinds.length] as SubscriberKind;
    specs.push({
      kind,
      token: user.token,
      channels: kind === 'sse' ? [stream] : [stream, `user:${user.id}`],
      steady: [stream],
    });
  }
  // The admin watches the `config` channel, where every activation is announced.
  for (let i = 0; i < 2; i += 1) {
    const stream = STEADY_STREAMS[i] as string;
    specs.push({ kind: 'ws', token: admin.token, channels: ['config', stream], steady: [stream] });
  }
  return specs;
}

async function inParallel<T, R>(
  items: readonly T[],
  lanes: number,
  work: (item: T, index: number) => Promise<R>,
) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        results[index] = await work(items[index] as T, index);
      }
    }),
  );
  return results;
}

/** Merges what every worker counted. */
function mergeStats(all: readonly WorkerStats[]) {
  const sum = (pick: (s: WorkerStats) => number) => all.reduce((total, s) => total + pick(s), 0);
  const dropped: Record<string, number> = {};
  const channelSeq: Record<string, { max: number; minOpen: number }> = {};
  for (const stats of all) {
    for (const [reason, n] of Object.entries(stats.dropped)) dropped[reason] = (dropped[reason] ?? 0) + n;
    for (const [channel, seq] of Object.entries(stats.channelSeq)) {
      const entry = (channelSeq[channel] ??= { max: 0, minOpen: Number.POSITIVE_INFINITY });
      entry.max = Math.max(entry.max, seq.max);
      entry.minOpen = Math.min(entry.minOpen, seq.minOpen);
    }
  }
  return {
    open: sum((s) => s.open),
    events: sum((s) => s.events),
    gaps: sum((s) => s.gaps),
    duplicates: sum((s) => s.duplicates),
    resets: sum((s) => s.resets),
    epochChanges: sum((s) => s.epochChanges),
    reconnects: sum((s) => s.reconnects),
    reconnectFailures: sum((s) => s.reconnectFailures),
    unexpected: sum((s) => s.unexpected),
    statusErrors: sum((s) => s.statusErrors),
    stalled: sum((s) => s.stalled),
    dropped,
    channelSeq,
    samples: all.flatMap((s) => s.samples),
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const say = options.progress ?? (() => {});
  const warmupS = options.warmupS ?? defaultWarmupS(options.durationS);
  // Replay windows (10 minutes by default) fill during the warm-up, so that what they hold by design is
  // not read as growth: half the warm-up, at least the 1 s minimum, at most the default.
  const historyAgeS = Math.max(1, Math.min(600, Math.floor(warmupS / 2)));
  // Every token is issued during set-up and must outlive the run (the setting's range is 30 s to 24 h).
  const ttlMinutes = Math.min(24 * 60, Math.max(60, Math.ceil(options.durationS / 60) + 30));
  const accessTokenTtl = `${ttlMinutes}m`;
  const setupStart = performance.now();
  const upstream = await startSoakUpstream();
  // The server as `switchboard serve` runs it, plus a handler that runs a full garbage collection on SIGUSR2,
  // and any flags SWITCHBOARD_SOAK_NODE_FLAGS adds to look into it (heap snapshots on a signal, say).
  const gcHook = [
    '--expose-gc',
    '--import',
    './bench/soak/gc-on-signal.mjs',
    ...(process.env.SWITCHBOARD_SOAK_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  const server = await startServer({
    runtime: options.runtime,
    args:
      options.runtime === 'dist'
        ? [...gcHook, 'dist/main.js', 'serve']
        : [...gcHook, '--import', 'tsx', 'src/main.ts', 'serve'],
    ...(options.build !== undefined && { build: options.build }),
    env: {
      ...accountsEnv(),
      ...METRICS_ENV,
      SWITCHBOARD_ACCESS_TOKEN_TTL: accessTokenTtl,
      SWITCHBOARD_ENDPOINT_HOSTS: upstream.host,
      SWITCHBOARD_STREAM_HISTORY_AGE: `${historyAgeS}s`,
    },
  });
  const gc = collector(server.child);
  const serverOutput = () =>
    server
      .output()
      .split('\n')
      .filter((line) => !line.startsWith('soak-gc '))
      .join('\n');
  const client = pool(server.origin, 16, 30_000);
  const probe = pool(server.origin, 2, 30_000);
  const admin = pool(server.origin, 2, 60_000);
  const workers: SoakWorker[] = [];
  const requests = new Requests(client);
  const errors: string[] = [];
  let serverExit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    server.child.once('exit', (code, signal) => {
      serverExit = `exit ${signal ?? code}`;
      resolve();
    }),
  );
  try {
    // Accounts: the first admin, users who subscribe, read and patch (viewers and editors), and viewers who
    // only sign in.
    const setup = await expectJson(admin, 201, 'POST', '/api/v1/auth/setup', {
      json: {
        username: 'soak-admin',
        password: benchPassword(),
        setup_token: accountsEnv().SWITCHBOARD_SETUP_TOKEN,
      },
    });
    const adminUser: SoakUser = {
      username: 'soak-admin',
      password: '',
      token: setup.body.data.access_token,
      id: String(setup.body.data.user.id),
      role: 'admin',
    };
    const userCount = Math.max(1, Math.ceil(options.subscribers / SUBSCRIBERS_PER_USER));
    const names = [
      ...Array.from({ length: userCount }, (_, i) => `soak-user-${i + 1}`),
      ...Array.from({ length: LOGIN_USERS }, (_, i) => `soak-login-${i + 1}`),
    ];
    say(`creating ${names.length} users and signing in ${userCount}`);
    const created = await inParallel(names, 4, async (username, index): Promise<SoakUser> => {
      const password = benchPassword();
      // Every other subscribing user is an editor, who may patch more of their preferences than a viewer.
      const subscribing = username.startsWith('soak-user-');
      const role = subscribing && index % 2 === 1 ? 'editor' : 'viewer';
      await expectJson(admin, 201, 'POST', '/api/v1/users', {
        bearer: adminUser.token,
        json: { username, password, role, must_change_password: false },
      });
      if (!subscribing) return { username, password, token: '', id: '', role };
      const login = await expectJson(admin, 200, 'POST', '/api/v1/auth/login', {
        json: { username, password },
      });
      const { access_token: token, user } = login.body.data;
      return { username, password, token, id: String(user.id), role };
    });
    const members = created.filter((u) => u.username.startsWith('soak-user-'));
    const loginUsers = created.filter((u) => u.username.startsWith('soak-login-'));

    let activation = 0;
    const activations = {
      done: 0,
      failed: 0,
      latencies: [] as number[],
      lastVersion: undefined as string | undefined,
    };
    const activate = async (): Promise<void> => {
      const start = performance.now();
      const saved = await requests.call('POST /config (save)', 201, 'POST', '/api/v1/config', {
        bearer: adminUser.token,
        json: {
          config: soakConfig(upstream.origin, activation),
          activate: false,
          message: `soak activation ${activation}`,
        },
      });
      activation += 1;
      const version: unknown = saved?.data?.version;
      const done =
        typeof version === 'string' &&
        (await requests.call(
          'POST /config/versions/{v}/activate',
          200,
          'POST',
          `/api/v1/config/versions/${encodeURIComponent(version)}/activate`,
          { bearer: adminUser.token },
        )) !== undefined;
      if (done) {
        activations.done += 1;
        activations.latencies.push(performance.now() - start);
        activations.lastVersion = version;
      } else {
        activations.failed += 1;
      }
    };
    await activate();
    if (activations.done !== 1)
      throw new Error(`the first configuration did not activate: ${requests.failureSamples.join('; ')}`);
    // The producers' first polls, so that every stream has a snapshot before anyone subscribes.
    await sleep(2500);

    const specs = subscriberSpecs(options.subscribers, members, adminUser);
    for (let i = 0; i < options.workers; i += 1) workers.push(SoakWorker.start());
    say(`connecting ${specs.length} subscribers in ${options.workers} worker process(es)`);
    const connectStart = performance.now();
    const connected = await Promise.all(
      workers.map((worker, w) =>
        worker.ask(
          {
            type: 'connect',
            origin: server.origin,
            subscribers: specs.filter((_, i) => i % options.workers === w),
            concurrency: 50,
          },
          'connected',
          600_000,
        ),
      ),
    );
    const connectSeconds = (performance.now() - connectStart) / 1000;
    const connectedAtStart = connected.reduce((sum, c) => sum + c.ready, 0);
    const connectFailures = connected.flatMap((c) => c.failures);
    if (connectedAtStart < specs.length) {
      errors.push(
        `${specs.length - connectedAtStart} of ${specs.length} subscribers could not connect: ${connectFailures.join('; ')}`,
      );
    }
    const setupSeconds = (performance.now() - setupStart) / 1000;
    say(
      `${connectedAtStart} subscribers in ${connectSeconds.toFixed(1)} s; soaking for ${options.durationS} s`,
    );

    // The soak itself.
    const samples: Sample[] = [];
    let notReady = 0;
    let scrapeFailures = 0;
    const soakStart = performance.now();
    const elapsedS = () => (performance.now() - soakStart) / 1000;
    let cpuBefore = processCpuSeconds(server.child.pid);
    let cpuAt = performance.now();
    let statsFailures = 0;
    const askStats = async () => {
      try {
        return mergeStats(
          await Promise.all(
            workers.map((w) => w.ask({ type: 'stats', staleAfterMs: STALE_AFTER_MS }, 'stats', 30_000)),
          ),
        );
      } catch (error) {
        statsFailures += 1;
        if (statsFailures <= 3) errors.push(`subscriber stats: ${(error as Error).message}`);
        return undefined;
      }
    };
    const takeSample = async (): Promise<void> => {
      const t = elapsedS();
      let figures: ServerFigures | undefined;
      let afterGc: ServerFigures | undefined;
      try {
        figures = await scrapeServer(probe);
        // This second scrape also starts the next interval of the event-loop delay, so the collection's
        // pause is in no sample's figure.
        await gc.collect(30_000);
        afterGc = await scrapeServer(probe);
      } catch (error) {
        scrapeFailures += 1;
        if (scrapeFailures <= 3) errors.push(`scrape at ${t.toFixed(0)} s: ${(error as Error).message}`);
      }
      let ready = false;
      try {
        const res = await probe.request({ method: 'GET', path: '/readyz' });
        await res.body.text();
        ready = res.statusCode === 200;
      } catch {
        ready = false;
      }
      if (!ready) notReady += 1;
      const cpuNow = processCpuSeconds(server.child.pid);
      const now = performance.now();
      const serverCores = (cpuNow - cpuBefore) / ((now - cpuAt) / 1000);
      cpuBefore = cpuNow;
      cpuAt = now;
      const stats = await askStats();
      samples.push({
        t,
        server: figures,
        afterGc,
        forcedGcs: gc.count,
        rssBytes: residentKiB(server.child.pid) * 1024,
        serverCores,
        ready,
        loadAverage: loadavg()[0] ?? Number.NaN,
        subscribersOpen: stats?.open ?? Number.NaN,
        stalled: stats?.stalled ?? Number.NaN,
        events: stats?.events ?? Number.NaN,
        requests: requests.sent,
        failedRequests: requests.failed,
      });
      const last = samples.at(-1) as Sample;
      say(
        `  ${t.toFixed(0).padStart(5)} s: heap ${mib(figures?.heapUsedBytes)} MiB (${mib(afterGc?.heapUsedBytes)} after GC), ` +
          `rss ${(last.rssBytes / 2 ** 20).toFixed(0)} MiB, handles ${figures?.activeHandles ?? 'n/a'}, ` +
          `loop p99 ${figures?.loopP99Ms.toFixed(1) ?? 'n/a'} ms, open ${last.subscribersOpen}, ` +
          `requests ${last.requests} (${last.failedRequests} failed), ${ready ? 'ready' : 'NOT READY'}`,
      );
    };
    // The first scrape also resets the loop-delay histogram of the set-up.
    await takeSample();

    const durationMs = options.durationS * 1000;
    const stop = new AbortController();
    const every = async (periodMs: number, task: () => Promise<void>) => {
      let due = performance.now() + periodMs;
      while (!stop.signal.aborted) {
        await sleep(Math.max(0, due - performance.now()), undefined, { signal: stop.signal }).catch(() => {});
        if (stop.signal.aborted) break;
        await task();
        due += periodMs;
      }
    };
    const loops = [
      openLoop({
        ratePerSecond: options.rates.reads,
        durationMs,
        request: async (i) => (await read(requests, i, members, adminUser.token)) !== undefined,
      }),
      openLoop({
        ratePerSecond: options.rates.patches,
        durationMs,
        request: (i) => patch(requests, i, members),
      }),
      openLoop({
        ratePerSecond: options.rates.logins,
        durationMs,
        request: (i) => signIn(requests, i, loginUsers),
      }),
    ];
    let churnTick = 0;
    const periodic = [
      every(options.sampleEveryS * 1000, takeSample),
      every(options.activationEveryS * 1000, activate),
      every(1000, async () => {
        const perWorker = options.rates.churn / workers.length;
        workers.forEach((worker, w) => {
          // Fractions of a subscriber a second add up over the seconds.
          const count =
            Math.floor(perWorker * (churnTick + 1) + w / workers.length) -
            Math.floor(perWorker * churnTick + w / workers.length);
          if (count > 0) worker.tell({ type: 'churn', count });
        });
        churnTick += 1;
      }),
    ];
    const ended = await Promise.race([
      Promise.all(loops).then(() => 'done' as const),
      exited.then(() => 'exited' as const),
    ]);
    stop.abort();
    await Promise.all(periodic);
    if (ended === 'exited')
      errors.push(`the server stopped during the soak (${serverExit}):\n${serverOutput()}`);

    // What the subscribers hold once the last events had time to arrive.
    await sleep(3000);
    if (serverExit === undefined) await takeSample();
    const finalStats = await askStats();
    const lagging: string[] = [];
    for (const [channel, seq] of Object.entries(finalStats?.channelSeq ?? {})) {
      // The rotating stream may be between polls of its slower interval.
      const allowed = LAG_ALLOWED + (channel.includes('rotating') ? ROTATING_SLOW_S : 0);
      if (Number.isFinite(seq.minOpen) && seq.max - seq.minOpen > allowed) {
        lagging.push(`${channel}: an open subscriber at seq ${seq.minOpen}, another at ${seq.max}`);
      }
    }
    const measuredSamples = samples.slice(1);
    const subscribers: SubscriberTotals = {
      subscribers: specs.length,
      connectedAtStart,
      connectFailures,
      connectSeconds,
      events: finalStats?.events ?? Number.NaN,
      gaps: finalStats?.gaps ?? Number.NaN,
      duplicates: finalStats?.duplicates ?? Number.NaN,
      resets: finalStats?.resets ?? Number.NaN,
      epochChanges: finalStats?.epochChanges ?? Number.NaN,
      dropped: finalStats?.dropped ?? {},
      droppedTotal: Object.values(finalStats?.dropped ?? {}).reduce((a, b) => a + b, 0),
      reconnects: finalStats?.reconnects ?? Number.NaN,
      reconnectFailures: finalStats?.reconnectFailures ?? Number.NaN,
      unexpected: finalStats?.unexpected ?? Number.NaN,
      statusErrors: finalStats?.statusErrors ?? Number.NaN,
      stalledSamples: measuredSamples.filter((s) => s.stalled > 0).length,
      maxStalled: Math.max(0, ...measuredSamples.map((s) => s.stalled).filter(Number.isFinite)),
      lagging,
      samples: finalStats?.samples ?? [],
      byKind: {
        ws: specs.filter((s) => s.kind === 'ws').length,
        sse: specs.filter((s) => s.kind === 'sse').length,
        'sse-multi': specs.filter((s) => s.kind === 'sse-multi').length,
      },
    };
    const subscriberErrors: [string, number][] = [
      ['events missing (gaps)', subscribers.gaps],
      ['duplicate events', subscribers.duplicates],
      ['resets (history did not reach back)', subscribers.resets],
      ['epoch changes', subscribers.epochChanges],
      ['connections dropped by the server', subscribers.droppedTotal],
      ['failed reconnects', subscribers.reconnectFailures],
      ['unexpected frames', subscribers.unexpected],
      ['producer error statuses', subscribers.statusErrors],
      ['samples with a stalled subscriber', subscribers.stalledSamples],
    ];
    for (const [what, n] of subscriberErrors) if (n !== 0) errors.push(`subscribers: ${n} ${what}`);
    if (lagging.length) errors.push(`subscribers behind at the end: ${lagging.join('; ')}`);
    if (requests.failed) {
      errors.push(
        `${requests.failed} failed requests: ${[...requests.failuresByReason].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      );
    }
    if (notReady) errors.push(`GET /readyz was not 200 at ${notReady} sample(s)`);

    const at = samples.map((s) => s.t);
    const of = (pick: (f: ServerFigures) => number, gc = false) =>
      samples.map((s) => {
        const f = gc ? s.afterGc : s.server;
        return f ? pick(f) : Number.NaN;
      });
    const result: SoakResult = {
      options,
      warmupS,
      historyAgeS,
      accessTokenTtl,
      setupSeconds,
      samples,
      heap: trendOf(
        at,
        of((f) => f.heapUsedBytes, true),
        warmupS,
      ),
      heapAsFound: trendOf(
        at,
        of((f) => f.heapUsedBytes),
        warmupS,
      ),
      handles: trendOf(
        at,
        of((f) => f.activeHandles),
        warmupS,
      ),
      rss: trendOf(
        at,
        samples.map((s) => s.rssBytes),
        warmupS,
      ),
      external: trendOf(
        at,
        of((f) => f.externalBytes, true),
        warmupS,
      ),
      requests,
      activations,
      subscribers,
      upstreamRequests: upstream.requests(),
      notReady,
      scrapeFailures,
      serverExit,
      errors,
    };
    // A clean stop is part of a clean run: SIGTERM, every connection closed, exit 0.
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    if (serverExit === undefined) {
      await server.stop();
      const { exitCode, signalCode } = server.child;
      if (exitCode !== 0) {
        result.serverExit = `exit ${signalCode ?? exitCode} after SIGTERM`;
        errors.push(`the server did not stop cleanly: ${result.serverExit}\n${serverOutput()}`);
      }
    }
    return result;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([client.close(), probe.close(), admin.close()]).catch(() => {});
    await server.stop();
    await upstream.close();
  }
}
