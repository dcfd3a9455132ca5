/**
 * bench/login: does password hashing stall the event loop? GET /api/v1/auth/me latency at a steady
 * open-loop rate, first alone ("idle"), then while 20 sign-ins a second run beside it ("load").
 * Target: p99 under load at most twice the idle p99. Run with `npm run bench -- login [options]`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { accountsEnv, setUpAccounts } from './lib/accounts.js';
import { expectJson, METRICS_ENV, pool, scrapeEventLoopDelay } from './lib/http.js';
import { type LoopResult, loopDelayMonitor, openLoop } from './lib/load.js';
import { parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import { type BenchRun, benchRun, markdownTable, ms, type TargetResult, verdictText } from './lib/report.js';
import { startSession } from './lib/server.js';
import { type LatencySummary, median, minMax, summarize } from './lib/stats.js';

const USAGE = usageText('login', {
  width: 18,
  options: [
    ['--runs N', 'runs, each on a fresh server (default 5)'],
    ['--duration S', 'measured seconds per phase (default 15)'],
    ['--warmup S', 'warm-up seconds before each phase, not measured (default 3)'],
    ['--rate N', 'GET /auth/me requests per second (default 200)'],
    ['--login-rate N', 'sign-ins per second in the load phase (default 20)'],
  ],
});

const TARGET_RATIO = 2;
const LOGIN_USERS = 10;

interface Options extends TimedOptions {
  rate: number;
  loginRate: number;
}

type Phase = 'idle' | 'load';

interface PhaseResult {
  me: LatencySummary;
  meOk: number;
  meRate: number;
  loginOk: number;
  loginRate: number;
  login: LatencySummary;
  failed: number;
  failures: string[];
  serverLoop: { p99: number; max: number } | undefined;
  generatorLoop: { p99: number; max: number };
}

interface RunResult {
  order: Phase[];
  idle: PhaseResult;
  load: PhaseResult;
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(argv, USAGE, { runs: 5, duration: 15 }, { rate: '200', 'login-rate': '20' });
  return (
    args && {
      ...args.common,
      rate: positiveOption('rate', args.own.rate, false, USAGE),
      loginRate: positiveOption('login-rate', args.own['login-rate'], false, USAGE),
    }
  );
}

/** A fresh server with an admin, the user whose /auth/me is measured, and the users who sign in. */
function prepare(options: Options) {
  const env = {
    ...accountsEnv(),
    ...METRICS_ENV,
    SWITCHBOARD_MAX_SESSIONS_PER_USER: '1000',
    SWITCHBOARD_LOCKOUT_THRESHOLD: '1000',
    SWITCHBOARD_LOCKOUT_WINDOW: '1s',
    SWITCHBOARD_LOCKOUT_DURATION: '1s',
  };
  // accountsEnv's tiers never refuse: this measures hashing beside reads, not the limiter (20 sign-ins/s
  // from one address would otherwise be refused).
  return startSession({ runtime: options.runtime, env, connections: 2 }, async ({ client }) => {
    const { createUser, signIn } = await setUpAccounts(client);
    const meToken = await signIn(await createUser('bench-me'));
    const me = await expectJson(client, 200, 'GET', '/api/v1/auth/me', { bearer: meToken });
    if (me.body.data.username !== 'bench-me')
      throw new Error(`GET /auth/me answered ${JSON.stringify(me.body)}`);
    const loginUsers = [];
    for (let i = 0; i < LOGIN_USERS; i += 1) loginUsers.push(await createUser(`bench-login-${i}`));
    return { meToken, loginUsers };
  });
}

async function request(client: Pool, options: Parameters<Pool['request']>[0], expected: number) {
  const res = await client.request(options);
  await res.body.dump();
  if (res.statusCode !== expected) throw new Error(`${options.method} ${options.path}: ${res.statusCode}`);
  return true;
}

/** One phase: warm-up then the measured window, as one uninterrupted open-loop schedule. */
async function phase(
  options: Options,
  env: Awaited<ReturnType<typeof prepare>>,
  withLogins: boolean,
): Promise<PhaseResult> {
  const warmupMs = options.warmupS * 1000;
  const totalMs = warmupMs + options.durationS * 1000;
  const meClient = pool(env.server.origin, 16);
  const loginClient = pool(env.server.origin, 32);
  const meHeaders = { authorization: `Bearer ${env.meToken}`, accept: 'application/json' };
  const loginBodies = env.loginUsers.map((u) => JSON.stringify(u));
  const generator = loopDelayMonitor();
  try {
    // At the end of the warm-up: reset the server's event-loop histogram and start watching our own.
    const boundary = sleep(warmupMs).then(async () => {
      await scrapeEventLoopDelay(env.client);
      generator.start();
    });
    const idle = Promise.resolve<LoopResult>({
      samples: [],
      unfinished: 0,
      elapsedMs: totalMs,
      failures: [],
    });
    const [meLoop, loginLoop] = await Promise.all([
      openLoop({
        ratePerSecond: options.rate,
        durationMs: totalMs,
        request: () => request(meClient, { method: 'GET', path: '/api/v1/auth/me', headers: meHeaders }, 200),
      }),
      withLogins
        ? openLoop({
            ratePerSecond: options.loginRate,
            durationMs: totalMs,
            request: (i) =>
              request(
                loginClient,
                {
                  method: 'POST',
                  path: '/api/v1/auth/login',
                  headers: { 'content-type': 'application/json', accept: 'application/json' },
                  body: loginBodies[i % loginBodies.length],
                },
                200,
              ),
          })
        : idle,
    ]);
    await boundary;
    const generatorLoop = generator.stop();
    const serverLoop = await scrapeEventLoopDelay(env.client);
    const inWindow = (loop: LoopResult) => loop.samples.filter((s) => s.dueMs >= warmupMs);
    const meSamples = inWindow(meLoop);
    const loginSamples = inWindow(loginLoop);
    const meOk = meSamples.filter((s) => s.ok);
    const loginOk = loginSamples.filter((s) => s.ok);
    // Answers per second: over the window, or longer when the answers trailed past its end.
    const windowMs = options.durationS * 1000;
    const rate = (samples: typeof meOk) => {
      const lastMs = samples.reduce((last, s) => Math.max(last, s.dueMs + s.latencyMs - warmupMs), 0);
      return samples.length / (Math.max(windowMs, lastMs) / 1000);
    };
    return {
      me: summarize(meOk.map((s) => s.latencyMs)),
      meOk: meOk.length,
      meRate: rate(meOk),
      login: summarize(loginOk.map((s) => s.latencyMs)),
      loginOk: loginOk.length,
      loginRate: rate(loginOk),
      failed:
        meSamples.length -
        meOk.length +
        loginSamples.length -
        loginOk.length +
        meLoop.unfinished +
        loginLoop.unfinished,
      failures: [...meLoop.failures, ...loginLoop.failures],
      serverLoop,
      generatorLoop,
    };
  } finally {
    await Promise.all([meClient.close(), loginClient.close()]);
  }
}

/** One run: a fresh server, both phases (order given), then the server is stopped and its data removed. */
async function runOnce(options: Options, order: Phase[]): Promise<RunResult> {
  const env = await prepare(options);
  try {
    const results: Partial<Record<Phase, PhaseResult>> = {};
    for (const [i, name] of order.entries()) {
      if (i > 0) await sleep(1000);
      results[name] = await phase(options, env, name === 'load');
      if (env.server.child.exitCode !== null) throw new Error(`the server exited:\n${env.server.output()}`);
    }
    return { order, idle: results.idle as PhaseResult, load: results.load as PhaseResult };
  } finally {
    await env.close();
  }
}

interface Aggregate {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  p99Spread: { min: number; max: number };
  meRate: number;
  loginRate: number;
  loginP50: number;
  loginP99: number;
  serverLoopP99: number;
  serverLoopMax: number;
  generatorLoopP99: number;
  failed: number;
}

function aggregate(options: Options, phases: PhaseResult[]): Aggregate {
  const of = (f: (p: PhaseResult) => number) => median(phases.map(f));
  return {
    p50: of((p) => p.me.p50),
    p90: of((p) => p.me.p90),
    p99: of((p) => p.me.p99),
    max: of((p) => p.me.max),
    p99Spread: minMax(phases.map((p) => p.me.p99)),
    meRate: of((p) => p.meRate),
    loginRate: of((p) => p.loginRate),
    loginP50: of((p) => p.login.p50),
    loginP99: of((p) => p.login.p99),
    serverLoopP99: of((p) => p.serverLoop?.p99 ?? Number.NaN),
    serverLoopMax: of((p) => p.serverLoop?.max ?? Number.NaN),
    generatorLoopP99: of((p) => p.generatorLoop.p99),
    failed: phases.reduce((sum, p) => sum + p.failed, 0),
  };
}

const isTrial = (options: Options) => options.runs < 3 || options.durationS < 15;

function report(
  options: Options,
  bench: BenchRun,
  runs: RunResult[],
): { markdown: string; targets: TargetResult[] } {
  const idle = aggregate(
    options,
    runs.map((r) => r.idle),
  );
  const load = aggregate(
    options,
    runs.map((r) => r.load),
  );
  const ratio = load.p99 / idle.p99;
  const met = ratio <= TARGET_RATIO;
  const target: TargetResult = {
    target: `p99 of GET /auth/me under ${options.loginRate} sign-ins/s ≤ ${TARGET_RATIO}× the idle p99`,
    measured: `${ratio.toFixed(2)}× (${ms(load.p99)} vs ${ms(idle.p99)} ms)`,
    met,
  };
  const rate = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(1));
  const row = (label: string, a: Aggregate, withLogins: boolean) => [
    label,
    ms(a.p50),
    ms(a.p90),
    `**${ms(a.p99)}**`,
    ms(a.max),
    `${ms(a.p99Spread.min)}–${ms(a.p99Spread.max)}`,
    rate(a.meRate),
    withLogins ? rate(a.loginRate) : '0',
    withLogins ? `${ms(a.loginP50)} / ${ms(a.loginP99)}` : '–',
    `${ms(a.serverLoopP99)} / ${ms(a.serverLoopMax)}`,
    ms(a.generatorLoopP99),
  ];
  const table = markdownTable(
    [
      'phase',
      'me p50',
      'me p90',
      'me p99',
      'me max',
      'me p99 range over runs',
      'me/s',
      'logins/s',
      'login p50 / p99',
      'server loop delay p99 / max',
      'generator loop delay p99',
    ],
    [row('idle', idle, false), row(`${options.loginRate} logins/s`, load, true)],
  );
  const perRun = markdownTable(
    ['run', 'order', 'idle p99', 'load p99', 'ratio', 'failed requests'],
    runs.map((r, i) => [
      String(i + 1),
      r.order.join(' → '),
      ms(r.idle.me.p99),
      ms(r.load.me.p99),
      `${(r.load.me.p99 / r.idle.me.p99).toFixed(2)}×`,
      String(r.idle.failed + r.load.failed),
    ]),
  );
  const command = bench.command([
    ['rate', options.rate],
    ['login-rate', options.loginRate],
  ]);
  const markdown = bench.report({
    title: 'Login load',
    question: [
      'Does Argon2id hashing stall the event loop? `GET /api/v1/auth/me` (bearer JWT, session and user read',
      `from SQLite) at ${options.rate} requests/s, measured alone ("idle") and while ${options.loginRate} sign-ins/s`,
      `(\`POST /api/v1/auth/login\`, right password, round robin over ${LOGIN_USERS} users) run beside it.`,
      `**Target:** p99 under load at most ${TARGET_RATIO}× the idle p99.`,
    ],
    trial: isTrial(options) ? `${options.runs} run(s) of ${options.durationS} s per phase` : undefined,
    paragraphs: [
      `Command: \`${command}\`. Server: \`${bench.serverCommand}\` ` +
        `on 127.0.0.1, fresh SQLite data directory per run, log level warn. Each phase: ${options.warmupS} s warm-up, ` +
        `then ${options.durationS} s measured; ${options.runs} run(s), phase order alternating between runs. ` +
        'Both loads are open loops (a request is sent when due, answered or not), latency runs from when the ' +
        'request was due to the end of its response body, so queueing is counted. "me" columns: latency of ' +
        '`GET /auth/me` in ms, medians across runs; "p99 range" is the lowest and highest p99 of the runs. ' +
        '"me/s", "logins/s": successful answers per second (over the measured window, or longer when the ' +
        "answers trailed past its end). Loop delays: the server's from " +
        "its Prometheus metrics (prom-client, 10 ms resolution) over the measured window; the generator's " +
        'own, to show it was not the bottleneck.',
      table,
      `**Result:** p99 under load ${ms(load.p99)} ms vs idle ${ms(idle.p99)} ms = ${ratio.toFixed(2)}× ` +
        `(target ≤ ${TARGET_RATIO}×): **${verdictText(met)}**${isTrial(options) ? ' (trial)' : ''}.`,
    ],
    perRun,
  });
  return { markdown, targets: [target] };
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('login', options);
  const perRunS = 2 * (options.warmupS + options.durationS) + 4;
  process.stderr.write(
    `bench login: ${options.runs} run(s), ${options.warmupS} s + ${options.durationS} s per phase, ` +
      `about ${Math.ceil((options.runs * perRunS) / 60)} min\n`,
  );
  const runs: RunResult[] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const order: Phase[] = i % 2 === 0 ? ['idle', 'load'] : ['load', 'idle'];
    const result = await runOnce(options, order);
    runs.push(result);
    process.stderr.write(
      `  run ${i + 1}/${options.runs}: /auth/me p99 idle ${ms(result.idle.me.p99)} ms, ` +
        `load ${ms(result.load.me.p99)} ms (${result.load.loginOk} logins ok), ` +
        `failed ${result.idle.failed + result.load.failed}\n`,
    );
  }
  const failures = runs.flatMap((r) => [...r.idle.failures, ...r.load.failures]);
  const failed = runs.reduce((sum, r) => sum + r.idle.failed + r.load.failed, 0);
  const { markdown, targets } = report(options, bench, runs);
  return bench.publish(markdown, {
    targets,
    failed: failed > 0 ? `${failed} request(s) failed (${failures.slice(0, 3).join('; ')})` : undefined,
  });
}
