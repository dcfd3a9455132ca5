/**
 * bench/widgets: how close to @fastify/static does Switchboard serve a widget bundle's file? Closed-loop
 * throughput and latency (autocannon, in a process of its own) of `GET /widget-assets/@acme/bench/1.0.0/asset.js`,
 * a 100 KB file, with a viewer's bearer token, against a bare Fastify with @fastify/static serving the same
 * bytes from a temporary directory (no authentication), each server in its own process. Switchboard twice:
 * with the file kept in memory (the default) and read from disk on every request
 * (SWITCHBOARD_WIDGETS_MEMORY_BYTES=0). The bundle is registered through the API from an npm-style registry
 * on loopback. @fastify/static is measured before, between and after the two, and each ratio is taken
 * against the @fastify/static points around it. Target (issue 17): Switchboard with the file in memory
 * ≥ 0.8 of @fastify/static. Run with `npm run bench -- widgets [options]`.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestRegistry } from '../test/widgets/registry-fixture.js';
import { writeChartPng } from './fanout/chart.js';
import { parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import {
  BENCHMARKS_DOC,
  type BenchRun,
  benchRun,
  cores,
  count,
  type MachineConditions,
  markdownTable,
  type TargetResult,
} from './lib/report.js';
import { type BenchServer, ROOT } from './lib/server.js';
import { median, minMax } from './lib/stats.js';
import {
  type Answer,
  ASSET_BYTES,
  ASSET_PATH,
  assetBody,
  bytesReadPerRequest,
  type StaticServer,
  startRegistry,
  startStatic,
  startWidgetsSwitchboard,
  type WidgetsSwitchboard,
} from './widgets/servers.js';
import { measurePoint, type PointResult } from './workspaces/load.js';

const CHART = 'docs/bench-widgets.png';
/** Issue 17's target: Switchboard, the file in memory, at least this fraction of @fastify/static's req/s. */
const TARGET = 0.8;

type ScenarioId = 'static' | 'memory' | 'disk';
/** The Switchboard scenarios, each measured between two points of @fastify/static. */
type Measured = Exclude<ScenarioId, 'static'>;

interface Scenario {
  id: ScenarioId;
  label: string;
  /** For the chart's groups and the per-run table. */
  short: string;
}

const SCENARIOS: readonly Scenario[] = [
  { id: 'static', label: '@fastify/static 8, bare Fastify, from disk, no auth', short: '@fastify/static' },
  {
    id: 'memory',
    label: 'Switchboard, bearer token, file in memory (default)',
    short: 'file in memory',
  },
  {
    id: 'disk',
    label: 'Switchboard, bearer token, from disk (`SWITCHBOARD_WIDGETS_MEMORY_BYTES=0`)',
    short: 'from disk (MEMORY_BYTES=0)',
  },
];
const MEASURED: readonly Measured[] = ['memory', 'disk'];
const byId = (id: ScenarioId) => SCENARIOS.find((s) => s.id === id) as Scenario;

const USAGE = usageText('widgets', {
  width: 18,
  options: [
    [
      '--runs N',
      'rounds; each measures @fastify/static, Switchboard with the file in memory,\n@fastify/static, Switchboard from disk, @fastify/static (default 5)',
    ],
    ['--duration S', 'measured seconds per point (default 5)'],
    ['--warmup S', 'seconds of load before each point, not measured (default 1)'],
    ['--connections N', 'connections of every point (default 50)'],
  ],
  noDocs: `print only; do not update ${BENCHMARKS_DOC} and ${CHART}`,
});

interface Options extends TimedOptions {
  connections: number;
}

/** The default warm-up of the shared option parser (3 s) is long for points of 5 s: ours is 1 s. */
const withDefaultWarmup = (argv: readonly string[]) =>
  argv.some((a) => a === '--warmup' || a.startsWith('--warmup=')) ? [...argv] : [...argv, '--warmup', '1'];

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    withDefaultWarmup(argv),
    USAGE,
    { runs: 5, duration: 5 },
    { connections: '50' },
  );
  if (!args) return undefined;
  return {
    ...args.common,
    connections: positiveOption('connections', args.own.connections, true, USAGE),
  };
}

/** The @fastify/static points just before and after a Switchboard point: their mean. */
interface Around {
  rate: number;
  serverCpuUs: number;
  p99: number;
}

interface Round {
  /** The Switchboard scenarios in the order measured. */
  order: Measured[];
  /** Each Switchboard point; for @fastify/static, the median (by rate) of its points. */
  points: Map<ScenarioId, PointResult>;
  /** Every point of @fastify/static in the order measured. */
  staticPoints: PointResult[];
  around: Map<Measured, Around>;
}

interface Servers {
  static: StaticServer;
  memory: WidgetsSwitchboard;
  disk: WidgetsSwitchboard;
}

function targetOf(
  servers: Servers,
  id: ScenarioId,
): { server: BenchServer; headers: Record<string, string> } {
  if (id === 'static') return { server: servers.static.server, headers: {} };
  const sb = servers[id];
  return { server: sb.server, headers: sb.viewer };
}

function measure(options: Options, servers: Servers, id: ScenarioId): Promise<PointResult> {
  const { server, headers } = targetOf(servers, id);
  return measurePoint(
    {
      url: `${server.origin}${ASSET_PATH}`,
      method: 'GET',
      connections: options.connections,
      warmupS: options.warmupS,
      durationS: options.durationS,
      // As a browser asks for a script; no If-None-Match, so every answer carries the whole file.
      headers: { accept: '*/*', ...headers },
      expect: 200,
    },
    server.child.pid,
  );
}

const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : count(Math.round(n)));
const ratioText = (r: number) => (Number.isNaN(r) ? 'n/a' : r.toFixed(2));
/** autocannon records whole milliseconds. */
const wholeMs = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(0));
const mibPerSecond = (bytesPerSecond: number) =>
  Number.isNaN(bytesPerSecond) ? 'n/a' : `${(bytesPerSecond / 2 ** 20).toFixed(0)} MiB/s`;
const isTrial = (options: Options) => options.runs < 3 || options.durationS < 3;

/** The figures of one scenario across the rounds: medians, ranges, and ratios to @fastify/static around it. */
function cell(rounds: readonly Round[], id: ScenarioId) {
  const points = rounds.flatMap((r) => {
    const p = r.points.get(id);
    return p ? [p] : [];
  });
  const aroundOf = (r: Round) =>
    id === 'static'
      ? undefined
      : (r.around.get(id) ?? { rate: Number.NaN, serverCpuUs: Number.NaN, p99: Number.NaN });
  const ratios = rounds.map(
    (r) => (r.points.get(id)?.rate ?? Number.NaN) / (aroundOf(r)?.rate ?? Number.NaN),
  );
  // CPU per request is steadier than throughput on a shared machine: the same comparison by CPU cost.
  const cpuRatios = rounds.map(
    (r) => (aroundOf(r)?.serverCpuUs ?? Number.NaN) / (r.points.get(id)?.serverCpuUs ?? Number.NaN),
  );
  const of = (f: (p: PointResult) => number) => median(points.map(f));
  const range = (f: (p: PointResult) => number) => minMax(points.map(f));
  return {
    measured: points.length > 0,
    rate: of((p) => p.rate),
    rateRange: range((p) => p.rate),
    ratio: median(ratios),
    ratioRange: minMax(ratios),
    p50: of((p) => p.p50),
    p99: of((p) => p.p99),
    p99Range: range((p) => p.p99),
    serverCpuUs: of((p) => p.serverCpuUs),
    serverCpuRange: range((p) => p.serverCpuUs),
    cpuRatio: median(cpuRatios),
    cpuRatioRange: minMax(cpuRatios),
    clientCpuUs: of((p) => p.clientCpuUs),
    bytes: of((p) => p.bytesPerAnswer),
    idleCpu: of((p) => p.idleCpu),
    /** @fastify/static around this scenario, medians over the rounds (NaN for @fastify/static itself). */
    around: {
      rate: median(rounds.map((r) => aroundOf(r)?.rate ?? Number.NaN)),
      p99: median(rounds.map((r) => aroundOf(r)?.p99 ?? Number.NaN)),
      serverCpuUs: median(rounds.map((r) => aroundOf(r)?.serverCpuUs ?? Number.NaN)),
    },
  };
}

/** The Result's lines on issue 17's target and the figure beside it, and the same as targets. */
function verdicts(rounds: readonly Round[]): { lines: string[]; targets: TargetResult[] } {
  const memory = cell(rounds, 'memory');
  const disk = cell(rounds, 'disk');
  const meets = (v: number) => v >= TARGET;
  // A verdict that single rounds would have given both ways is within the noise.
  const noisy =
    meets(memory.ratioRange.min) !== meets(memory.ratioRange.max) ? ', within the noise of the rounds' : '';
  const met = meets(memory.ratio);
  const spread = (c: typeof memory) => `rounds ${ratioText(c.ratioRange.min)}–${ratioText(c.ratioRange.max)}`;
  const targets: TargetResult[] = [
    {
      target: `Switchboard, widget file in memory / @fastify/static: ≥ ${TARGET}`,
      measured: `${ratioText(memory.ratio)} (${spread(memory)})${noisy}`,
      met,
    },
    {
      target: 'Switchboard, widget file read from disk on every request / @fastify/static (no target)',
      measured: `${ratioText(disk.ratio)} (${spread(disk)})`,
      met: null,
    },
  ];
  const lines = [
    `- Switchboard, file in memory / @fastify/static: **${ratioText(memory.ratio)}** (` +
      `${spread(memory)}; target ≥ ${TARGET}): ` +
      `**${met ? 'met' : 'not met'}**${noisy}; ${perSecond(memory.rate)} against ` +
      `${perSecond(memory.around.rate)} req/s; by the server's CPU per request ${ratioText(memory.cpuRatio)} ` +
      `(rounds ${ratioText(memory.cpuRatioRange.min)}–${ratioText(memory.cpuRatioRange.max)}; ` +
      `${perSecond(memory.serverCpuUs)} against ${perSecond(memory.around.serverCpuUs)} µs); p99 ` +
      `${wholeMs(memory.p99)} against ${wholeMs(memory.around.p99)} ms`,
    `- Switchboard, from disk on every request / @fastify/static (no target; for reference): ` +
      `**${ratioText(disk.ratio)}** (${spread(disk)}); ` +
      `${perSecond(disk.rate)} against ${perSecond(disk.around.rate)} req/s; by CPU ${ratioText(disk.cpuRatio)} ` +
      `(${perSecond(disk.serverCpuUs)} against ${perSecond(disk.around.serverCpuUs)} µs); p99 ` +
      `${wholeMs(disk.p99)} against ${wholeMs(disk.around.p99)} ms`,
  ];
  return { lines, targets };
}

function drawChart(options: Options, conditions: MachineConditions, rounds: readonly Round[]): void {
  const cells = MEASURED.map((id) => cell(rounds, id));
  const staticSeries = (f: (c: ReturnType<typeof cell>) => number) => ({
    label: '@fastify/static (around it)',
    color: '#7f7f7f',
    values: cells.map(f),
  });
  const switchboardSeries = (f: (c: ReturnType<typeof cell>) => number) => ({
    label: 'Switchboard, bearer token',
    color: '#0072b2',
    values: cells.map(f),
  });
  writeChartPng(
    {
      title: `Widget file of ${ASSET_BYTES / 1024} KB: Switchboard against @fastify/static`,
      subtitle:
        `${options.connections} connections, medians of ${options.runs} round(s) of ${options.durationS} s; ` +
        `${conditions.cpus} CPUs, Node ${conditions.node}, commit ${conditions.commit}, ${conditions.date}`,
      groups: MEASURED.map((id) => byId(id).short),
      panels: [
        {
          title: 'requests per second (higher is better)',
          format: (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : v.toFixed(0)),
          series: [staticSeries((c) => c.around.rate), switchboardSeries((c) => c.rate)],
        },
        {
          title: 'p99 latency, ms (lower is better)',
          format: (v) => v.toFixed(0),
          series: [staticSeries((c) => c.around.p99), switchboardSeries((c) => c.p99)],
        },
        {
          title: 'ratio to @fastify/static, same round',
          format: (v) => v.toFixed(2),
          series: [switchboardSeries((c) => c.ratio)],
          reference: { value: TARGET, label: `target ${TARGET}` },
        },
      ],
    },
    `${ROOT}/${CHART}`,
  );
}

/** What the bench checked about the servers before measuring them. */
interface Probes {
  answers: Record<ScenarioId, Answer>;
  /** Bytes each server read (rchar) per request of the file, one request at a time. */
  readPerRequest: Record<ScenarioId, number>;
  registered: WidgetsSwitchboard['registered'];
}

function report(
  options: Options,
  bench: BenchRun,
  rounds: readonly Round[],
  probes: Probes,
  loadAtEnd: string,
  chartWritten: boolean,
): { markdown: string; targets: TargetResult[] } {
  const verdict = verdicts(rounds);
  const table = markdownTable(
    [
      'scenario',
      'req/s (median)',
      'req/s range',
      '**ratio to @fastify/static**',
      'ratio range',
      'p50 ms',
      'p99 ms',
      'p99 range',
      'bytes per answer',
      'server CPU µs/req',
      'server CPU range',
      'CPU ratio (static µs / its µs)',
      'autocannon CPU µs/req',
      'bytes read per request (rchar)',
      'machine idle cores',
    ],
    SCENARIOS.map((s) => {
      const f = cell(rounds, s.id);
      const own = s.id === 'static';
      return [
        s.label,
        `**${perSecond(f.rate)}**`,
        `${perSecond(f.rateRange.min)}–${perSecond(f.rateRange.max)}`,
        own ? '1' : `**${ratioText(f.ratio)}**`,
        own ? '–' : `${ratioText(f.ratioRange.min)}–${ratioText(f.ratioRange.max)}`,
        wholeMs(f.p50),
        wholeMs(f.p99),
        `${wholeMs(f.p99Range.min)}–${wholeMs(f.p99Range.max)}`,
        perSecond(f.bytes),
        perSecond(f.serverCpuUs),
        `${perSecond(f.serverCpuRange.min)}–${perSecond(f.serverCpuRange.max)}`,
        own ? '1' : ratioText(f.cpuRatio),
        perSecond(f.clientCpuUs),
        perSecond(probes.readPerRequest[s.id]),
        cores(f.idleCpu),
      ];
    }),
  );
  const perRun = markdownTable(
    [
      'run',
      'order',
      '@fastify/static req/s (each point)',
      'in memory req/s (p99 ms)',
      'from disk req/s (p99 ms)',
      'in memory / static around',
      'from disk / static around',
    ],
    rounds.map((r, i) => {
      const point = (id: Measured) => {
        const p = r.points.get(id);
        return p ? `${perSecond(p.rate)} (${wholeMs(p.p99)})` : 'n/a';
      };
      const ratio = (id: Measured) =>
        ratioText((r.points.get(id)?.rate ?? Number.NaN) / (r.around.get(id)?.rate ?? Number.NaN));
      return [
        String(i + 1),
        ['static', ...r.order.flatMap((id) => [id, 'static'])].join(', '),
        r.staticPoints.map((p) => perSecond(p.rate)).join(' / '),
        point('memory'),
        point('disk'),
        ratio('memory'),
        ratio('disk'),
      ];
    }),
  );
  const command = bench.command([['connections', options.connections]]);
  const memory = cell(rounds, 'memory');
  const names = (id: ScenarioId) => probes.answers[id].headerNames.map((n) => `\`${n}\``).join(', ');
  const markdown = bench.report({
    title: 'Widget files against @fastify/static',
    question: [
      `How close to @fastify/static does Switchboard serve a file of a widget bundle? \`GET ${ASSET_PATH}\`, a`,
      `${ASSET_BYTES / 1024} KB file, with a viewer's bearer token, against a bare Fastify with @fastify/static`,
      'serving the same bytes from a temporary directory (no authentication) measured in the same run; and the',
      'same request with the memory for widget files off (`SWITCHBOARD_WIDGETS_MEMORY_BYTES=0`: the file read',
      `and checked on every request). **Target** (issue 17): Switchboard, the file in memory, ≥ ${TARGET} of`,
      "@fastify/static's requests per second.",
    ],
    trial: isTrial(options) ? `${options.runs} round(s) of ${options.durationS} s per point` : undefined,
    paragraphs: [
      `Command: \`${command}\`. Servers, each in its own process on 127.0.0.1 and all three alive for the whole ` +
        'run: bench/widgets/static-server.mjs (Fastify 5 and @fastify/static 8, no logger, no other plugin, the ' +
        'file written to a temporary directory and sent as immutable for a year; it stats the file and streams ' +
        `it from disk on every request, keeping nothing in memory); \`${bench.serverCommand}\` twice on fresh ` +
        'SQLite data directories, the default memory for widget files (64 MiB) and none ' +
        '(`SWITCHBOARD_WIDGETS_MEMORY_BYTES=0`), rate limiting on as the other benches set it (memory store, ' +
        'tiers at 100,000,000 per minute so nothing is refused and every request takes the limiter), log level ' +
        'warn, metrics off. Set-up through the API: a registry of the npm kind on loopback (the one of the ' +
        'tests, test/widgets/registry-fixture.ts) serves `@acme/bench@1.0.0`, a tarball of `package.json` and ' +
        `\`asset.js\` (${count(ASSET_BYTES)} bytes of JavaScript); each Switchboard has ` +
        '`SWITCHBOARD_WIDGETS_REGISTRY` set to it, its host in `SWITCHBOARD_WIDGETS_ALLOWED_HOSTS` and ' +
        '`SWITCHBOARD_WIDGETS_SCOPES=@acme`; the first admin registers the bundle (`POST /api/v1/widgets`, 201: ' +
        `${probes.registered.files} files, ${count(probes.registered.size)} bytes) and a viewer signs in. ` +
        'Before measuring, the bench checks that every server answers the same bytes and that Switchboard ' +
        'refuses a request without credentials (401). Answers: Switchboard ' +
        `\`${probes.answers.memory.contentType}\` with ${names('memory')}; @fastify/static ` +
        `\`${probes.answers.static.contentType}\` with ${names('static')}. "bytes read per request (rchar)": ` +
        'what the server read through `read()` (`/proc/PID/io`, the request off the socket included) over 200 ' +
        'requests one at a time before the run: the whole file when it is read from disk, a few hundred bytes ' +
        'when it is served from memory.',
      `Load: autocannon 9 in a process of its own (bench/workspaces/load-worker.mjs, which counts the bytes of ` +
        'each body but does not keep them), closed loop, keep-alive, no pipelining, ' +
        `${options.connections} connections, \`accept: */*\` and no \`If-None-Match\` (the whole file every ` +
        `time); per point ${options.warmupS} s warm-up then ${options.durationS} s measured; req/s counts 200 ` +
        `answers, and any other answer fails the run. ${options.runs} round(s); each measures @fastify/static, ` +
        'one Switchboard, @fastify/static, the other Switchboard, @fastify/static, the order of the two ' +
        'Switchboards alternating by round. Figures are medians across rounds with their range (min–max). A ' +
        'ratio is the median of the per-round ratios against @fastify/static around the point (the mean of its ' +
        'points just before and after): the speed of this machine drifts within minutes, and a ratio against ' +
        'the baseline of the same minute follows the drift rather than measuring it. The @fastify/static row ' +
        "gives the median of its points. Latency is autocannon's (send to end of response, whole milliseconds). " +
        '"server CPU µs/req" and "autocannon CPU µs/req": CPU time of the server and of the load generator (all ' +
        'threads, /proc, 10 ms ticks) over the measured window divided by the 200 answers. "CPU ratio": ' +
        "@fastify/static's CPU per request (around the point) over Switchboard's, median of the rounds: the " +
        'throughput ratio the two would have if each had a core to itself, and the steadier figure on a busy ' +
        'machine. "machine idle cores": cores nobody used over the window (/proc/stat); the server and ' +
        'autocannon each want a core, so on 2 cores little is idle and anything else running takes from both. ' +
        `Load average at the end ${loadAtEnd}.`,
      table,
      `Switchboard with the file in memory moves ${mibPerSecond(memory.rate * memory.bytes)} of answers ` +
        '(median req/s × bytes per answer).',
      `**Result** (target of issue 17${isTrial(options) ? '; trial figures' : ''}):\n\n${verdict.lines.join('\n')}`,
      chartWritten &&
        `![widget files: requests per second, p99 and ratio to @fastify/static](${CHART.replace('docs/', '')})`,
    ],
    perRun,
  });
  return { markdown, targets: verdict.targets };
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('widgets', options);
  // Per round: @fastify/static, then each Switchboard followed by @fastify/static.
  const points = 1 + 2 * MEASURED.length;
  process.stderr.write(
    `bench widgets: ${options.runs} round(s) of ${points} points, ${options.warmupS} s + ${options.durationS} s ` +
      `each at ${options.connections} connections, about ` +
      `${Math.ceil((options.runs * points * (options.warmupS + options.durationS + 0.8) + 30) / 60)} min\n`,
  );
  const body = assetBody();
  let registry: TestRegistry | undefined;
  let memory: WidgetsSwitchboard | undefined;
  let disk: WidgetsSwitchboard | undefined;
  let baseline: StaticServer | undefined;
  const rounds: Round[] = [];
  const trouble: string[] = [];
  let probes: Probes;
  try {
    registry = await startRegistry(body);
    memory = await startWidgetsSwitchboard(options.runtime, registry, 'default', body);
    disk = await startWidgetsSwitchboard(options.runtime, registry, 'none', body);
    baseline = await startStatic(body);
    const servers: Servers = { static: baseline, memory, disk };
    const readPerRequest = async (id: ScenarioId) => {
      const { server, headers } = targetOf(servers, id);
      return bytesReadPerRequest(server, { accept: '*/*', ...headers });
    };
    probes = {
      answers: { static: baseline.answer, memory: memory.answer, disk: disk.answer },
      readPerRequest: {
        static: await readPerRequest('static'),
        memory: await readPerRequest('memory'),
        disk: await readPerRequest('disk'),
      },
      registered: memory.registered,
    };
    process.stderr.write(
      `  registered ${probes.registered.files} files, ${count(probes.registered.size)} bytes; bytes read per ` +
        `request: @fastify/static ${perSecond(probes.readPerRequest.static)}, in memory ` +
        `${perSecond(probes.readPerRequest.memory)}, from disk ${perSecond(probes.readPerRequest.disk)}\n`,
    );
    // The setting must have taken: the server without memory reads the file every time, the other does not.
    if (probes.readPerRequest.disk < ASSET_BYTES || probes.readPerRequest.memory >= ASSET_BYTES / 2) {
      throw new Error(
        `bytes read per request: ${perSecond(probes.readPerRequest.memory)} with the file in memory, ` +
          `${perSecond(probes.readPerRequest.disk)} without; expected under ${count(ASSET_BYTES / 2)} and at ` +
          `least ${count(ASSET_BYTES)}`,
      );
    }
    for (let i = 0; i < options.runs; i += 1) {
      const order: Measured[] = i % 2 === 0 ? ['memory', 'disk'] : ['disk', 'memory'];
      const round: Round = { order, points: new Map(), staticPoints: [], around: new Map() };
      const measured = async (id: ScenarioId) => {
        const point = await measure(options, servers, id);
        const label = byId(id).label;
        if (point.failed > 0) trouble.push(`run ${i + 1}, ${label}: ${point.failed} failed`);
        process.stderr.write(
          `  run ${i + 1}/${options.runs} ${label}: ${perSecond(point.rate)} req/s, p50 ${wholeMs(point.p50)} ms, ` +
            `p99 ${wholeMs(point.p99)} ms, server CPU ${perSecond(point.serverCpuUs)} µs/req, autocannon CPU ` +
            `${perSecond(point.clientCpuUs)} µs/req, ${perSecond(point.bytesPerAnswer)} B/answer, ` +
            `idle ${cores(point.idleCpu)}${point.failed ? `, FAILED ${point.failed}` : ''}\n`,
        );
        await sleep(200);
        return point;
      };
      let before = await measured('static');
      round.staticPoints.push(before);
      for (const id of order) {
        const point = await measured(id);
        const after = await measured('static');
        round.staticPoints.push(after);
        round.points.set(id, point);
        round.around.set(id, {
          rate: (before.rate + after.rate) / 2,
          serverCpuUs: (before.serverCpuUs + after.serverCpuUs) / 2,
          p99: (before.p99 + after.p99) / 2,
        });
        before = after;
      }
      const byRate = [...round.staticPoints].sort((a, b) => a.rate - b.rate);
      round.points.set('static', byRate[Math.floor(byRate.length / 2)] as PointResult);
      rounds.push(round);
    }
  } finally {
    await baseline?.stop();
    await disk?.close();
    await memory?.close();
    await registry?.close();
  }
  const loadAtEnd = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

  const writeDocs = options.docs && trouble.length === 0;
  if (writeDocs) drawChart(options, bench.conditions, rounds);
  const { markdown, targets } = report(options, bench, rounds, probes, loadAtEnd, writeDocs);
  return bench.publish(markdown, {
    targets,
    failed: trouble.length
      ? `${trouble.length} point(s) with failures: ${trouble.slice(0, 3).join(' | ')}`
      : undefined,
    alsoWrote: CHART,
  });
}
