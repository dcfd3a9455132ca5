/**
 * bench/hotpath: how close to a bare Fastify 5 hello-world does Switchboard answer its hot path? Closed-loop
 * throughput (autocannon, in a process of its own) of a bare Fastify hello-world, Switchboard's
 * `GET /healthz`, and `GET /api/v1/auth/me` with a bearer JWT, an API key and the session cookie, at several
 * connection counts, each server in its own process; the authenticated reads again with rate limiting on
 * (memory store). Reports ratios to the bare server of the same run beside the absolute figures, latency,
 * and the server's CPU per request; `--profile` adds where the time of the authenticated read goes.
 * Targets (issue 14): /healthz ≥ 0.8 of bare; the authenticated reads ≥ 0.6 at 50 connections and ≥ 0.5
 * at 200; rate limiting on loses < 10%. Run with `npm run bench -- hotpath [options]`.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeLineChartPng } from './hotpath/chart.js';
import { measurePoint, type PointResult } from './hotpath/load.js';
import { type ProfileSummary, profileTable, summariseProfileDir } from './hotpath/profile.js';
import {
  type Credentials,
  type Limits,
  type SwitchboardServer,
  startBareFastify,
  startSwitchboard,
} from './hotpath/servers.js';
import { listOption, parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import {
  BENCHMARKS_DOC,
  type BenchRun,
  benchRun,
  cores,
  count,
  type MachineConditions,
  markdownTable,
  type TargetResult,
  writeDocSection,
} from './lib/report.js';
import { type BenchServer, ROOT } from './lib/server.js';
import { median, minMax } from './lib/stats.js';

const CHART = 'docs/bench-hotpath.png';
const PROFILE_SECTION = 'hotpath-profile';

const USAGE = usageText('hotpath', {
  width: 28,
  options: [
    ['--runs N', 'rounds; each measures every scenario at every connection count (default 3)'],
    ['--duration S', 'measured seconds per point (default 3)'],
    ['--warmup S', 'seconds of load before each point, not measured (default 1)'],
    ['--connections LIST', 'connection counts, comma-separated (default 10,50,100,200)'],
    [
      '--limited-connections LIST',
      'connection counts at which the reads are measured again with rate limiting\non (memory store); "none" to skip (default 50,200)',
    ],
    [
      '--profile',
      `also run the bearer read under node --cpu-prof (one more server, after the\nmeasurements) and summarise its top frames into ${BENCHMARKS_DOC}`,
    ],
    ['--profile-duration S', 'seconds of load while profiling (default 10)'],
  ],
  noDocs: `print only; do not update ${BENCHMARKS_DOC} and ${CHART}`,
});

/** Issue 14's targets, as ratios to the bare server (and the loss with rate limiting on). */
const TARGETS = { healthz: 0.8, readAt50: 0.6, readAt200: 0.5, limiterLoss: 0.1 } as const;
const ME = '/api/v1/auth/me';

type ServerKind = 'bare' | Limits;

interface Scenario {
  id: string;
  label: string;
  server: ServerKind;
  path: string;
  credential?: keyof Credentials;
  /** For a rate-limited scenario: the same request with rate limiting off. */
  unlimited?: string;
}

const CREDENTIAL_LABELS: Record<keyof Credentials, string> = {
  bearer: 'bearer JWT',
  apiKey: 'API key',
  cookie: 'session cookie',
};
const CREDENTIALS = Object.keys(CREDENTIAL_LABELS) as (keyof Credentials)[];

const SCENARIOS: readonly Scenario[] = [
  { id: 'bare', label: 'bare Fastify hello-world', server: 'bare', path: '/' },
  { id: 'healthz', label: 'GET /healthz', server: 'off', path: '/healthz' },
  ...CREDENTIALS.map((credential) => ({
    id: credential,
    label: `/auth/me, ${CREDENTIAL_LABELS[credential]}`,
    server: 'off' as const,
    path: ME,
    credential,
  })),
  ...CREDENTIALS.map((credential) => ({
    id: `${credential}+limits`,
    label: `/auth/me, ${CREDENTIAL_LABELS[credential]}, rate limiting on`,
    server: 'memory' as const,
    path: ME,
    credential,
    unlimited: credential,
  })),
];

const COLORS: Record<string, string> = {
  bare: '#7f7f7f',
  healthz: '#e69f00',
  bearer: '#0072b2',
  apiKey: '#009e73',
  cookie: '#cc79a7',
};

interface Options extends TimedOptions {
  connections: number[];
  limitedConnections: number[];
  profile: boolean;
  profileDurationS: number;
}

/** The default warm-up of the shared option parser (3 s) is long for points of 3 s: ours is 1 s. */
const withDefaultWarmup = (argv: readonly string[]) =>
  argv.some((a) => a === '--warmup' || a.startsWith('--warmup=')) ? [...argv] : [...argv, '--warmup', '1'];

function parseOptions(argv: string[]): Options | undefined {
  const profile = argv.includes('--profile');
  const args = parseBenchArgs(
    withDefaultWarmup(argv.filter((a) => a !== '--profile')),
    USAGE,
    { runs: 3, duration: 3 },
    { connections: '10,50,100,200', 'limited-connections': '50,200', 'profile-duration': '10' },
  );
  if (!args) return undefined;
  const counts = (name: string, raw: string) =>
    listOption(name, raw, USAGE).map((c) => positiveOption(name, c, true, USAGE));
  const connections = [...new Set(counts('connections', args.own.connections))].sort((a, b) => a - b);
  const limited = args.own['limited-connections'];
  const limitedConnections = limited === 'none' ? [] : counts('limited-connections', limited);
  const stray = limitedConnections.filter((c) => !connections.includes(c));
  if (stray.length) {
    throw new Error(
      `--limited-connections must be among --connections; ${stray.join(', ')} is not\n\n${USAGE}`,
    );
  }
  return {
    ...args.common,
    connections,
    limitedConnections,
    profile,
    profileDurationS: positiveOption('profile-duration', args.own['profile-duration'], false, USAGE),
  };
}

/** The scenarios measured at `connections`: every one, but the rate-limited ones only where asked. */
function scenariosAt(options: Options, connections: number): Scenario[] {
  return SCENARIOS.filter((s) => s.server !== 'memory' || options.limitedConnections.includes(connections));
}

const BARE = SCENARIOS[0] as Scenario;

/**
 * The groups measured at `connections` between two points of the bare server: `/healthz`, and each
 * credential with its rate-limited twin, so that the loss compares points a few seconds apart.
 */
function groupsAt(options: Options, connections: number): Scenario[][] {
  const measured = scenariosAt(options, connections).filter((s) => s.id !== BARE.id);
  return measured
    .filter((s) => s.unlimited === undefined)
    .map((s) => [s, ...measured.filter((twin) => twin.unlimited === s.id)]);
}

/** One round's figures, keyed by `${scenario}@${connections}`. */
interface Round {
  /** Each scenario's point; the bare server's is the median (by rate) of its points at that count. */
  points: Map<string, PointResult>;
  /**
   * The bare server around each other point: the mean of its points measured just before and just after
   * that point's group. The machine's speed drifts by a fifth within minutes; a ratio taken against the
   * bare server of the same minute follows the drift instead of measuring it.
   */
  bareAround: Map<string, { rate: number; serverCpuUs: number }>;
}
const key = (scenario: string, connections: number) => `${scenario}@${connections}`;

interface Servers {
  bare: BenchServer;
  off: SwitchboardServer;
  memory: SwitchboardServer | undefined;
}

/** Where a scenario's requests go: the server's origin and process, and its credentials (none for bare). */
function targetOf(servers: Servers, kind: ServerKind) {
  if (kind === 'bare')
    return { origin: servers.bare.origin, pid: servers.bare.child.pid, credentials: undefined };
  const sb = servers[kind];
  if (!sb) throw new Error(`no Switchboard server with rate limiting ${kind}`);
  return { origin: sb.server.origin, pid: sb.server.child.pid, credentials: sb.credentials };
}

function measure(options: Options, servers: Servers, scenario: Scenario, connections: number) {
  const target = targetOf(servers, scenario.server);
  const credential = scenario.credential && target.credentials?.[scenario.credential];
  return measurePoint(
    {
      url: `${target.origin}${scenario.path}`,
      connections,
      warmupS: options.warmupS,
      durationS: options.durationS,
      headers: { accept: 'application/json', ...credential },
    },
    target.pid,
  );
}

const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : count(Math.round(n)));
const ratioText = (r: number) => (Number.isNaN(r) ? 'n/a' : r.toFixed(2));
const lossText = (r: number) => (Number.isNaN(r) ? 'n/a' : `${(r * 100).toFixed(1)}%`);
/** autocannon records whole milliseconds. */
const wholeMs = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(0));
const isTrial = (options: Options) => options.runs < 3 || options.durationS < 3;

/** The figures of one scenario at one connection count across the rounds. */
function cell(rounds: readonly Round[], scenario: Scenario, connections: number) {
  const at = (r: Round, id: string) => r.points.get(key(id, connections));
  const bareOf = (r: Round) =>
    r.bareAround.get(key(scenario.id, connections)) ??
    at(r, 'bare') ?? { rate: Number.NaN, serverCpuUs: Number.NaN };
  const points = rounds.flatMap((r) => {
    const p = at(r, scenario.id);
    return p ? [p] : [];
  });
  const ratios = rounds.map((r) => (at(r, scenario.id)?.rate ?? Number.NaN) / bareOf(r).rate);
  // CPU per request is steadier than throughput on a shared machine: the same comparisons by CPU cost.
  const cpuRatios = rounds.map(
    (r) => bareOf(r).serverCpuUs / (at(r, scenario.id)?.serverCpuUs ?? Number.NaN),
  );
  // With rate limiting on against off: measured one after the other, in the same group.
  const unlimited = (r: Round) => at(r, scenario.unlimited as string);
  const cpuExtra = scenario.unlimited
    ? rounds.map(
        (r) =>
          (at(r, scenario.id)?.serverCpuUs ?? Number.NaN) / (unlimited(r)?.serverCpuUs ?? Number.NaN) - 1,
      )
    : [];
  const losses = scenario.unlimited
    ? rounds.map((r) => 1 - (at(r, scenario.id)?.rate ?? Number.NaN) / (unlimited(r)?.rate ?? Number.NaN))
    : [];
  const of = (f: (p: PointResult) => number) => median(points.map(f));
  return {
    measured: points.length > 0,
    rate: of((p) => p.rate),
    rateRange: minMax(points.map((p) => p.rate)),
    ratio: median(ratios),
    ratioRange: minMax(ratios),
    loss: median(losses),
    lossRange: minMax(losses),
    p50: of((p) => p.p50),
    p99: of((p) => p.p99),
    serverCpuUs: of((p) => p.serverCpuUs),
    cpuRatio: median(cpuRatios),
    cpuExtra: median(cpuExtra),
    idleCpu: of((p) => p.idleCpu),
  };
}

/**
 * The verdicts on issue 14's targets, for the connection counts that were measured: the Result's lines, and
 * the same verdicts as targets.
 */
function verdicts(options: Options, rounds: readonly Round[]): { lines: string[]; targets: TargetResult[] } {
  const lines: string[] = [];
  const targets: TargetResult[] = [];
  const byId = (id: string) => SCENARIOS.find((s) => s.id === id) as Scenario;
  const check = (
    label: string,
    value: number,
    range: { min: number; max: number },
    byCpu: number,
    target: number,
    atLeast: boolean,
  ) => {
    const meets = (v: number) => (atLeast ? v >= target : v < target);
    const text = atLeast ? ratioText : lossText;
    const wanted = atLeast ? `≥ ${target}` : `< ${lossText(target)}`;
    // A verdict that single rounds would have given both ways is within the noise.
    const noisy = meets(range.min) !== meets(range.max) ? ', within the noise of the rounds' : '';
    const met = meets(value);
    const spread = `rounds ${text(range.min)}–${text(range.max)}`;
    lines.push(
      `- ${label}: ${text(value)} (${spread}; target ${wanted}): ` +
        `**${met ? 'met' : 'not met'}**${noisy}; by CPU cost ${text(byCpu)}`,
    );
    targets.push({ target: `${label}: ${wanted}`, measured: `${text(value)} (${spread})${noisy}`, met });
  };
  for (const c of options.connections.filter((n) => n === 50 || n === 200)) {
    const healthz = cell(rounds, byId('healthz'), c);
    check(
      `\`GET /healthz\` / bare, ${c} connections`,
      healthz.ratio,
      healthz.ratioRange,
      healthz.cpuRatio,
      TARGETS.healthz,
      true,
    );
    const target = c === 50 ? TARGETS.readAt50 : TARGETS.readAt200;
    for (const credential of CREDENTIALS) {
      const read = cell(rounds, byId(credential), c);
      const label = `\`/auth/me\` with the ${CREDENTIAL_LABELS[credential]} / bare, ${c} connections`;
      check(label, read.ratio, read.ratioRange, read.cpuRatio, target, true);
    }
  }
  for (const c of options.limitedConnections) {
    for (const credential of CREDENTIALS) {
      const limited = cell(rounds, byId(`${credential}+limits`), c);
      const label = `loss with rate limiting on, ${CREDENTIAL_LABELS[credential]}, ${c} connections`;
      // By CPU, the loss is the share of throughput the extra CPU per request would cost: 1 − 1 / (1 + extra).
      const cpuLoss = 1 - 1 / (1 + limited.cpuExtra);
      check(label, limited.loss, limited.lossRange, cpuLoss, TARGETS.limiterLoss, false);
    }
  }
  return { lines, targets };
}

function profileMarkdown(
  summary: ProfileSummary,
  point: PointResult,
  options: Options,
  conditions: MachineConditions,
) {
  return [
    '### Where the time of an authenticated read goes (bench/hotpath --profile)',
    '',
    `Profiled ${conditions.date}, commit ${conditions.commit}, Node ${conditions.node}: the server of ` +
      '`GET /api/v1/auth/me` with a bearer JWT (rate limiting off, SQLite) run under `node --cpu-prof`, ' +
      `loaded for ${options.warmupS} s + ${options.profileDurationS} s at ` +
      `${profileConnections(options)} connections (${perSecond(point.rate)} req/s under the profiler, which ` +
      `slows it). ${
        summary.windowed
          ? `${(summary.totalMs / 1000).toFixed(1)} s sampled inside the measured window (start-up, set-up and ` +
            'warm-up left out)'
          : `${(summary.totalMs / 1000).toFixed(1)} s sampled over the server's whole life (start-up included: ` +
            "the profile's clock did not match the bench's)"
      }, ${(summary.idle * 100).toFixed(0)}% of it idle; shares below are of the busy rest. ` +
      '"Self": the frame itself was running; ' +
      '"inclusive": it was on the stack (each function or package counted once per sample). Packages: ' +
      "`switchboard X` is our dist/X; `node (core)` is Node's own JavaScript; `(native)` frames have no script " +
      "(built-ins, bindings); `(garbage collector)` and `(program)` are V8's own.",
    '',
    profileTable('Self time by package:', 'package', summary.selfByPackage.slice(0, 10)),
    '',
    profileTable('Inclusive time by package:', 'package', summary.inclusiveByPackage.slice(0, 12)),
    '',
    profileTable('Self time by function:', 'function', summary.selfByFunction.slice(0, 15)),
    '',
    profileTable('Inclusive time by function:', 'function', summary.inclusiveByFunction),
  ].join('\n');
}

const profileConnections = (options: Options) =>
  options.connections.includes(50) ? 50 : (options.connections[0] as number);

/** The bearer read under `node --cpu-prof` on a server of its own; the profile's summary and the point. */
async function profileRead(options: Options) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-hotpath-prof-'));
  try {
    const server = await startSwitchboard(options.runtime, 'off', ['--cpu-prof', '--cpu-prof-dir', dir]);
    let point: PointResult;
    try {
      point = await measurePoint(
        {
          url: `${server.server.origin}${ME}`,
          connections: profileConnections(options),
          warmupS: options.warmupS,
          durationS: options.profileDurationS,
          headers: { accept: 'application/json', ...server.credentials.bearer },
        },
        server.server.child.pid,
      );
    } finally {
      // The profile is written as the server exits.
      await server.close();
    }
    const summary = summariseProfileDir(dir, 25, point.windowUs);
    const raw = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    const kept = join(tmpdir(), `switchboard-hotpath-${Date.now()}.cpuprofile`);
    if (raw) {
      copyFileSync(join(dir, raw), kept);
      process.stderr.write(`bench hotpath: the raw profile is ${kept} (open it in Chrome DevTools)\n`);
    }
    return { summary, point };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function drawChart(options: Options, conditions: MachineConditions, rounds: readonly Round[]): void {
  const lines = (f: (c: ReturnType<typeof cell>) => number, withBare: boolean) =>
    SCENARIOS.filter((s) => withBare || s.id !== 'bare').map((s) => ({
      label:
        s.server === 'memory'
          ? `${CREDENTIAL_LABELS[s.credential as keyof Credentials]}, limits on`
          : s.label,
      color: COLORS[s.unlimited ?? s.id] ?? '#000',
      dashed: s.server === 'memory',
      values: options.connections.map((c) => {
        const figures = cell(rounds, s, c);
        return figures.measured ? f(figures) : Number.NaN;
      }),
    }));
  writeLineChartPng(
    {
      title: 'Hot path: throughput against connections (closed loop, autocannon)',
      subtitle:
        `medians of ${options.runs} run(s) of ${options.durationS} s per point; ${conditions.cpus} CPUs ` +
        `(${conditions.cpuModel}), Node ${conditions.node}, commit ${conditions.commit}, ${conditions.date}`,
      xLabel: 'connections',
      xs: options.connections,
      panels: [
        {
          title: 'requests per second (higher is better)',
          format: (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : v.toFixed(0)),
          lines: lines((c) => c.rate, true),
        },
        {
          title: 'ratio to bare Fastify, same run',
          format: (v) => v.toFixed(2),
          max: 1.25,
          lines: lines((c) => c.ratio, true),
          references: [
            { value: TARGETS.healthz, label: `/healthz target ${TARGETS.healthz}` },
            { value: TARGETS.readAt50, label: `reads at 50: ${TARGETS.readAt50}` },
            { value: TARGETS.readAt200, label: `reads at 200: ${TARGETS.readAt200}` },
          ],
        },
      ],
    },
    `${ROOT}/${CHART}`,
  );
}

function report(
  options: Options,
  bench: BenchRun,
  rounds: readonly Round[],
  loadAtEnd: string,
  chartWritten: boolean,
): { markdown: string; targets: TargetResult[] } {
  const verdict = verdicts(options, rounds);
  const table = markdownTable(
    [
      'scenario',
      'connections',
      'req/s (median)',
      'req/s range',
      '**ratio to bare**',
      'ratio range',
      'p50 ms',
      'p99 ms',
      'server CPU µs/req',
      'CPU ratio (bare µs / its µs)',
      'machine idle cores',
    ],
    options.connections.flatMap((c) =>
      scenariosAt(options, c).map((s) => {
        const f = cell(rounds, s, c);
        return [
          s.label,
          String(c),
          `**${perSecond(f.rate)}**`,
          `${perSecond(f.rateRange.min)}–${perSecond(f.rateRange.max)}`,
          s.id === 'bare' ? '1' : `**${ratioText(f.ratio)}**`,
          s.id === 'bare' ? '–' : `${ratioText(f.ratioRange.min)}–${ratioText(f.ratioRange.max)}`,
          wholeMs(f.p50),
          wholeMs(f.p99),
          perSecond(f.serverCpuUs),
          s.id === 'bare' ? '1' : ratioText(f.cpuRatio),
          cores(f.idleCpu),
        ];
      }),
    ),
  );
  const limited = SCENARIOS.filter((s) => s.unlimited);
  const limiterTable =
    options.limitedConnections.length > 0 &&
    markdownTable(
      [
        'read',
        'connections',
        'loss (median)',
        'loss range',
        'req/s on vs off',
        'server CPU µs/req on vs off',
        'extra CPU per request (median)',
      ],
      options.limitedConnections.flatMap((c) =>
        limited.map((s) => {
          const on = cell(rounds, s, c);
          const off = cell(rounds, SCENARIOS.find((o) => o.id === s.unlimited) as Scenario, c);
          return [
            CREDENTIAL_LABELS[s.credential as keyof Credentials],
            String(c),
            `**${lossText(on.loss)}**`,
            `${lossText(on.lossRange.min)}–${lossText(on.lossRange.max)}`,
            `${perSecond(on.rate)} vs ${perSecond(off.rate)}`,
            `${perSecond(on.serverCpuUs)} vs ${perSecond(off.serverCpuUs)}`,
            lossText(on.cpuExtra),
          ];
        }),
      ),
    );
  const perRun = markdownTable(
    [
      'run',
      ...options.connections.map((c) => `${c} conn.: bare / healthz / bearer / API key / cookie req/s`),
    ],
    rounds.map((r, i) => [
      String(i + 1),
      ...options.connections.map((c) =>
        ['bare', 'healthz', ...CREDENTIALS]
          .map((id) => perSecond(r.points.get(key(id, c))?.rate ?? Number.NaN))
          .join(' / '),
      ),
    ]),
  );
  const command = bench.command([
    ['connections', options.connections.join(',')],
    [
      'limited-connections',
      options.limitedConnections.length ? options.limitedConnections.join(',') : 'none',
    ],
  ]);
  const busy = median(rounds.flatMap((r) => [...r.points.values()].map((p) => p.idleCpu)));
  const markdown = bench.report({
    title: 'Hot path against bare Fastify',
    question: [
      'How close to a bare Fastify 5 hello-world does Switchboard answer its hot path? `GET /healthz`, and',
      '`GET /api/v1/auth/me` with a bearer JWT, an API key and the session cookie (SQLite), against a bare',
      'Fastify hello-world measured in the same run. **Targets** (issue 14): `/healthz` ≥ 0.8 of bare; the',
      'authenticated reads ≥ 0.6 at 50 connections and ≥ 0.5 at 200 (throughput must not fall as connections',
      'grow); with rate limiting on (memory store) a loss under 10%.',
    ],
    trial: isTrial(options) ? `${options.runs} round(s) of ${options.durationS} s per point` : undefined,
    paragraphs: [
      `Command: \`${command}\`. Servers, each in its own process on 127.0.0.1 and all three alive for the ` +
        `whole run: bench/hotpath/bare-fastify.mjs (Fastify 5, no plugins, no logger, \`{"hello":"world"}\`); ` +
        `\`${bench.serverCommand}\` on a fresh SQLite data directory with rate limiting off ` +
        '(`SWITCHBOARD_RATE_LIMITING=false`); the same with rate limiting on (memory store, tiers at 100,000,000 ' +
        'per minute so nothing is refused and every request takes the whole limiter chain). Log level warn, ' +
        'metrics off. One viewer signed in twice (one session for the bearer token, one for the cookie) with an ' +
        'API key of its own. Load: autocannon 9 in a process of its own (bench/hotpath/load-worker.mjs), closed ' +
        `loop, keep-alive, no pipelining, ${options.connections.join(', ')} connections; per point ` +
        `${options.warmupS} s warm-up then ${options.durationS} s measured; req/s counts 2xx answers. ` +
        `${options.runs} round(s); each measures every scenario at every connection count in groups (\`/healthz\`; ` +
        'then each credential, with rate limiting off and on one after the other), the bare server measured ' +
        'before the first group, between groups and after the last; the order of the groups rotates per round, ' +
        'and within a group it alternates. Figures are medians across rounds with their range (min–max); ' +
        "ratios are medians of the per-round ratios against the bare server around the scenario's group (the " +
        'mean of the bare points just before and after it, same connections): the speed of this machine drifts ' +
        'by a fifth within minutes, and a ratio against the bare server of the same minute follows the drift ' +
        'rather than measuring it. The bare row gives the median of its points. ' +
        'Latency is autocannon\'s (send to end of response, whole milliseconds). "server CPU µs/req": CPU time of the server process ' +
        '(all threads, /proc, 10 ms ticks) over the measured window divided by its 2xx answers: less sensitive ' +
        'than throughput to what else the machine runs. "CPU ratio": the bare server\'s CPU per request over ' +
        "this one's, median of the rounds: the throughput ratio the two would have if each had a core to " +
        'itself (the server answers on one JavaScript thread), and the steadier figure on a busy machine; ' +
        'likewise "extra CPU per request" with rate limiting on. "machine idle cores": cores nobody used over the window ' +
        '(/proc/stat); the server and autocannon each want a core, so on 2 cores little is idle and anything ' +
        `else running takes from both. Median idle over all points: ${cores(busy)} cores; load average at the ` +
        `end ${loadAtEnd}.`,
      table,
      limiterTable &&
        `Rate limiting on (memory store) against off, measured one after the other (same round, same connections):\n\n${limiterTable}`,
      `**Result** (targets of issue 14${isTrial(options) ? '; trial figures' : ''}):\n\n${verdict.lines.join('\n')}`,
      chartWritten &&
        `![hot path: requests per second and ratio to bare Fastify against connections](${CHART.replace('docs/', '')})`,
    ],
    perRun,
  });
  return { markdown, targets: verdict.targets };
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('hotpath', options);
  // Each group, and the bare server before it and after the last.
  const points = options.connections.reduce(
    (n, c) => n + scenariosAt(options, c).length + groupsAt(options, c).length,
    0,
  );
  process.stderr.write(
    `bench hotpath: ${options.runs} round(s) of ${points} point(s), ${options.warmupS} s + ${options.durationS} s ` +
      `each, connections ${options.connections.join(', ')} (rate limiting on at ` +
      `${options.limitedConnections.join(', ') || 'none'}), about ` +
      `${Math.ceil((options.runs * points * (options.warmupS + options.durationS + 0.8)) / 60)} min` +
      `${options.profile ? ' plus the profile' : ''}\n`,
  );
  const bare = await startBareFastify();
  let off: SwitchboardServer | undefined;
  let memory: SwitchboardServer | undefined;
  const rounds: Round[] = [];
  const trouble: string[] = [];
  try {
    off = await startSwitchboard(options.runtime, 'off');
    if (options.limitedConnections.length) memory = await startSwitchboard(options.runtime, 'memory');
    const servers: Servers = { bare, off, memory };
    for (let i = 0; i < options.runs; i += 1) {
      const round: Round = { points: new Map(), bareAround: new Map() };
      const measured = async (scenario: Scenario, c: number) => {
        const point = await measure(options, servers, scenario, c);
        if (point.failed > 0) trouble.push(`run ${i + 1}, ${scenario.label} × ${c}: ${point.failed} failed`);
        process.stderr.write(
          `  run ${i + 1}/${options.runs} ${scenario.label} × ${c}: ${perSecond(point.rate)} req/s, ` +
            `p50 ${wholeMs(point.p50)} ms, p99 ${wholeMs(point.p99)} ms, server CPU ${perSecond(point.serverCpuUs)} µs/req, ` +
            `idle ${cores(point.idleCpu)}${point.failed ? `, FAILED ${point.failed}` : ''}\n`,
        );
        await sleep(200);
        return point;
      };
      for (const c of options.connections) {
        const groups = groupsAt(options, c);
        const order = groups.map((_, k) => groups[(i + k) % groups.length] as Scenario[]);
        let before = await measured(BARE, c);
        const bares = [before];
        for (const group of order) {
          const points: [Scenario, PointResult][] = [];
          for (const scenario of i % 2 ? [...group].reverse() : group) {
            points.push([scenario, await measured(scenario, c)]);
          }
          const after = await measured(BARE, c);
          bares.push(after);
          for (const [scenario, point] of points) {
            round.points.set(key(scenario.id, c), point);
            round.bareAround.set(key(scenario.id, c), {
              rate: (before.rate + after.rate) / 2,
              serverCpuUs: (before.serverCpuUs + after.serverCpuUs) / 2,
            });
          }
          before = after;
        }
        const byRate = [...bares].sort((a, b) => a.rate - b.rate);
        round.points.set(key(BARE.id, c), byRate[Math.floor(byRate.length / 2)] as PointResult);
      }
      rounds.push(round);
    }
  } finally {
    await memory?.close();
    await off?.close();
    await bare.stop();
  }
  const loadAtEnd = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

  let profiled: Awaited<ReturnType<typeof profileRead>> | undefined;
  if (options.profile) profiled = await profileRead(options);

  const writeDocs = options.docs && trouble.length === 0;
  if (writeDocs) drawChart(options, bench.conditions, rounds);
  const { markdown: reportMarkdown, targets } = report(options, bench, rounds, loadAtEnd, writeDocs);
  const code = bench.publish(reportMarkdown, {
    targets,
    failed: trouble.length
      ? `${trouble.length} point(s) with failures: ${trouble.slice(0, 3).join(' | ')}`
      : undefined,
    alsoWrote: CHART,
  });
  if (profiled) {
    const markdown = profileMarkdown(profiled.summary, profiled.point, options, bench.conditions);
    process.stdout.write(`\n${markdown}\n`);
    if (writeDocs) writeDocSection(`${ROOT}/${BENCHMARKS_DOC}`, PROFILE_SECTION, markdown);
  }
  return code;
}
