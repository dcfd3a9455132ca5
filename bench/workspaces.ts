/**
 * bench/workspaces: what does it cost to read and write preferences when a user sees 200 shared workspaces?
 * Closed-loop throughput (autocannon, in a process of its own) against one Switchboard server (SQLite,
 * rate limiting off) seeded with a reader and 50 owners who each share 4 workspaces with the reader:
 * `GET /api/v1/auth/me` with the reader's bearer token (the baseline), the reader's `GET /api/v1/preferences`
 * (the full body, no If-None-Match), `PATCH /api/v1/preferences` by 50 writers (the owners, each its own
 * document), and 50 writers to one document (one owner's, each connection its own key). Rounds alternate
 * the order of the two reads, which are measured one after the other. Target (issue 15): the preferences
 * read at least half as fast as `/auth/me`. Run with `npm run bench -- workspaces [options]`.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ProfileSummary, profileTable, summariseProfileDir } from './hotpath/profile.js';
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
import { type ClientPlan, type LoadPlan, measurePoint, type PointResult } from './workspaces/load.js';
import { OWNERS, READER_GROUP, WORKSPACES_PER_OWNER } from './workspaces/seed.js';
import {
  keysKept,
  paneKey,
  startFloor,
  startWorkspacesServer,
  type WorkspacesServer,
} from './workspaces/server.js';

const PROFILE_SECTION = 'workspaces-profile';
/** Issue 15's target: the preferences read at least this fraction of `/auth/me`'s throughput. */
const TARGET = 0.5;

type ScenarioId = 'me' | 'read' | 'readgz' | 'read304' | 'floor' | 'write' | 'same';
const IDS: readonly ScenarioId[] = ['me', 'read', 'readgz', 'read304', 'floor', 'write', 'same'];

interface Scenario {
  id: ScenarioId;
  label: string;
  method: LoadPlan['method'];
  path: string;
  /** The server it loads: Switchboard, or the bare server sending the same preferences body. */
  target: 'switchboard' | 'floor';
  /** The headers and per-connection requests of the scenario on a seeded server. */
  load(server: WorkspacesServer, connections: number): Pick<LoadPlan, 'headers' | 'clients' | 'expect'>;
}

const JSON_HEADERS = { accept: 'application/json' };
const PATCH_HEADERS = { ...JSON_HEADERS, 'content-type': 'application/merge-patch+json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const SCENARIOS: readonly Scenario[] = [
  {
    id: 'me',
    label: 'GET /auth/me (reader, bearer)',
    method: 'GET',
    path: '/api/v1/auth/me',
    target: 'switchboard',
    load: (s) => ({ headers: { ...JSON_HEADERS, ...bearer(s.seeded.reader.token) } }),
  },
  {
    id: 'read',
    label: 'GET /preferences (reader, 200 shared)',
    method: 'GET',
    path: '/api/v1/preferences',
    target: 'switchboard',
    load: (s) => ({ headers: { ...JSON_HEADERS, ...bearer(s.seeded.reader.token) } }),
  },
  {
    id: 'readgz',
    label: 'GET /preferences, Accept-Encoding: gzip, deflate, br (as browsers send; brotli answers)',
    method: 'GET',
    path: '/api/v1/preferences',
    target: 'switchboard',
    load: (s) => ({
      headers: { ...JSON_HEADERS, ...bearer(s.seeded.reader.token), 'accept-encoding': 'gzip, deflate, br' },
    }),
  },
  {
    id: 'read304',
    label: 'GET /preferences with If-None-Match (304)',
    method: 'GET',
    path: '/api/v1/preferences',
    target: 'switchboard',
    load: (s) => ({
      headers: { ...JSON_HEADERS, ...bearer(s.seeded.reader.token), 'if-none-match': s.probe.etag },
      expect: 304,
    }),
  },
  {
    id: 'floor',
    label: 'bare Fastify sending the same body',
    method: 'GET',
    path: '/',
    target: 'floor',
    load: () => ({ headers: JSON_HEADERS }),
  },
  {
    id: 'write',
    label: `PATCH /preferences, ${OWNERS} writers, own documents`,
    method: 'PATCH',
    path: '/api/v1/preferences',
    target: 'switchboard',
    // Connection k is owner k (mod 50), alternating between two themes and time ranges.
    load: (s) => ({
      headers: PATCH_HEADERS,
      clients: s.seeded.owners.map(
        (owner, k): ClientPlan => ({
          headers: bearer(owner.token),
          bodies: [
            JSON.stringify({ theme: `dark-${k}`, timeRange: { from: 'now-1h', to: 'now' } }),
            JSON.stringify({ theme: `light-${k}`, timeRange: { from: 'now-24h', to: 'now' } }),
          ],
        }),
      ),
    }),
  },
  {
    id: 'same',
    label: 'PATCH /preferences, writers to one document',
    method: 'PATCH',
    path: '/api/v1/preferences',
    target: 'switchboard',
    // Every connection is the first owner; connection n sets its own key, alternating two values.
    load: (s, connections) => ({
      headers: { ...PATCH_HEADERS, ...bearer(sameDocumentOwner(s).token) },
      clients: Array.from(
        { length: connections },
        (_, n): ClientPlan => ({
          bodies: [
            JSON.stringify({ [paneKey(n)]: { collapsed: true, width: 320 } }),
            JSON.stringify({ [paneKey(n)]: { collapsed: false, width: 480 } }),
          ],
        }),
      ),
    }),
  },
];

const sameDocumentOwner = (s: WorkspacesServer) => s.seeded.owners[0] as { username: string; token: string };
const byId = (id: ScenarioId) => SCENARIOS.find((s) => s.id === id) as Scenario;

const USAGE = usageText('workspaces', {
  width: 26,
  options: [
    ['--runs N', 'rounds; each measures every scenario once (default 3)'],
    ['--duration S', 'measured seconds per scenario (default 5)'],
    ['--warmup S', 'seconds of load before each scenario, not measured (default 1)'],
    ['--connections N', 'connections of every scenario (default 50)'],
    [
      '--scenarios LIST',
      `comma-separated, of ${IDS.join(', ')}\n(default all; me and read are always measured: the ratio needs them)`,
    ],
    [
      '--profile',
      `also run scenarios under node --cpu-prof (a server of its own each, after the\nmeasurements) and summarise their top frames into ${BENCHMARKS_DOC}`,
    ],
    ['--profile-of LIST', 'the scenarios to profile (default read,read304; not floor)'],
    ['--profile-duration S', 'seconds of load while profiling (default 10)'],
  ],
});

interface Options extends TimedOptions {
  connections: number;
  scenarios: Scenario[];
  profile: boolean;
  profileOf: Scenario[];
  profileDurationS: number;
}

const withDefaultWarmup = (argv: readonly string[]) =>
  argv.some((a) => a === '--warmup' || a.startsWith('--warmup=')) ? [...argv] : [...argv, '--warmup', '1'];

function scenarioList(name: string, raw: string): Scenario[] {
  const ids = listOption(name, raw, USAGE);
  const unknown = ids.filter((id) => !(IDS as readonly string[]).includes(id));
  if (unknown.length) {
    throw new Error(
      `--${name}: unknown scenario(s) ${unknown.join(', ')}; known: ${IDS.join(', ')}\n\n${USAGE}`,
    );
  }
  return SCENARIOS.filter((s) => ids.includes(s.id));
}

function parseOptions(argv: string[]): Options | undefined {
  const profile = argv.includes('--profile');
  const args = parseBenchArgs(
    withDefaultWarmup(argv.filter((a) => a !== '--profile')),
    USAGE,
    { runs: 3, duration: 5 },
    { connections: '50', scenarios: IDS.join(','), 'profile-of': 'read,read304', 'profile-duration': '10' },
  );
  if (!args) return undefined;
  const chosen = scenarioList('scenarios', args.own.scenarios);
  const profileOf = scenarioList('profile-of', args.own['profile-of']);
  if (profileOf.some((s) => s.target === 'floor')) {
    throw new Error(
      `--profile-of: the floor is not Switchboard; profile ${IDS.filter((id) => id !== 'floor').join(', ')}\n\n${USAGE}`,
    );
  }
  return {
    ...args.common,
    connections: positiveOption('connections', args.own.connections, true, USAGE),
    scenarios: SCENARIOS.filter((s) => chosen.includes(s) || s.id === 'me' || s.id === 'read'),
    profile,
    profileOf,
    profileDurationS: positiveOption('profile-duration', args.own['profile-duration'], false, USAGE),
  };
}

/**
 * Round i's order: the two reads one after the other, then the conditional read and the floor, then the
 * writes; the order within each pair alternates by round.
 */
function orderOf(options: Options, round: number): Scenario[] {
  const order: ScenarioId[] =
    round % 2 === 0
      ? ['me', 'read', 'readgz', 'read304', 'floor', 'write', 'same']
      : ['read', 'me', 'readgz', 'floor', 'read304', 'same', 'write'];
  return order.map(byId).filter((s) => options.scenarios.includes(s));
}

interface Servers {
  switchboard: WorkspacesServer;
  floor: BenchServer | undefined;
}

function targetOf(servers: Servers, scenario: Scenario) {
  const server = scenario.target === 'floor' ? servers.floor : servers.switchboard.server;
  if (!server) throw new Error(`no server for ${scenario.label}`);
  return server;
}

function planOf(options: Options, servers: Servers, scenario: Scenario, durationS: number): LoadPlan {
  return {
    url: `${targetOf(servers, scenario).origin}${scenario.path}`,
    method: scenario.method,
    connections: options.connections,
    warmupS: options.warmupS,
    durationS,
    ...scenario.load(servers.switchboard, options.connections),
  };
}

type Round = Map<ScenarioId, PointResult>;

const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : count(Math.round(n)));
const ratioText = (r: number) => (Number.isNaN(r) ? 'n/a' : r.toFixed(r < 0.1 ? 3 : 2));
/** autocannon records whole milliseconds. */
const wholeMs = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(0));
const kib = (bytes: number) =>
  Number.isNaN(bytes) ? 'n/a' : `${(bytes / 1024).toFixed(bytes < 10_240 ? 2 : 1)} KiB`;
const isTrial = (options: Options) => options.runs < 3 || options.durationS < 3;

function cell(rounds: readonly Round[], id: ScenarioId) {
  const points = rounds.flatMap((r) => {
    const p = r.get(id);
    return p ? [p] : [];
  });
  const of = (f: (p: PointResult) => number) => median(points.map(f));
  return {
    measured: points.length > 0,
    rate: of((p) => p.rate),
    rateRange: minMax(points.map((p) => p.rate)),
    p50: of((p) => p.p50),
    p50Range: minMax(points.map((p) => p.p50)),
    p99: of((p) => p.p99),
    p99Range: minMax(points.map((p) => p.p99)),
    serverCpuUs: of((p) => p.serverCpuUs),
    serverCpuRange: minMax(points.map((p) => p.serverCpuUs)),
    clientCpuUs: of((p) => p.clientCpuUs),
    bytes: of((p) => p.bytesPerAnswer),
    idleCpu: of((p) => p.idleCpu),
  };
}

/** `a` against `b`, per round: by throughput, and by the server's CPU per request (b's µs over a's). */
function ratios(rounds: readonly Round[], a: ScenarioId, b: ScenarioId) {
  const byRate = rounds.map((r) => (r.get(a)?.rate ?? Number.NaN) / (r.get(b)?.rate ?? Number.NaN));
  const byCpu = rounds.map(
    (r) => (r.get(b)?.serverCpuUs ?? Number.NaN) / (r.get(a)?.serverCpuUs ?? Number.NaN),
  );
  return { ratio: median(byRate), range: minMax(byRate), byCpu: median(byCpu), byCpuRange: minMax(byCpu) };
}

/** The Result's lines on issue 15's target and the figures beside it, and the same as targets. */
function verdicts(options: Options, rounds: readonly Round[]): { lines: string[]; targets: TargetResult[] } {
  const spread = (x: ReturnType<typeof ratios>) =>
    `rounds ${ratioText(x.range.min)}–${ratioText(x.range.max)}`;
  const r = ratios(rounds, 'read', 'me');
  const meets = (v: number) => v >= TARGET;
  const noisy = meets(r.range.min) !== meets(r.range.max) ? ', within the noise of the rounds' : '';
  const met = meets(r.ratio);
  const lines = [
    `- \`GET /preferences\` / \`GET /auth/me\`, same server, same connections: **${ratioText(r.ratio)}** ` +
      `(${spread(r)}; target ≥ ${TARGET}): ` +
      `**${met ? 'met' : 'not met'}**${noisy}; by the server's CPU per request ` +
      `${ratioText(r.byCpu)} (rounds ${ratioText(r.byCpuRange.min)}–${ratioText(r.byCpuRange.max)})`,
  ];
  const targets: TargetResult[] = [
    {
      target: `\`GET /preferences\` (200 shared workspaces) / \`GET /auth/me\`, same server: ≥ ${TARGET}`,
      measured: `${ratioText(r.ratio)} (${spread(r)})${noisy}`,
      met,
    },
  ];
  const has = (id: ScenarioId) => options.scenarios.some((s) => s.id === id);
  if (has('floor')) {
    const floor = ratios(rounds, 'floor', 'me');
    const read = ratios(rounds, 'read', 'floor');
    lines.push(
      `- what the body alone allows: the bare server sending the same bytes / \`GET /auth/me\`: ` +
        `${ratioText(floor.ratio)} (${spread(floor)}; by CPU ` +
        `${ratioText(floor.byCpu)}); the preferences read / that floor: ${ratioText(read.ratio)} (` +
        `${spread(read)}; by CPU ${ratioText(read.byCpu)})`,
    );
    targets.push(
      {
        target:
          'a bare server sending the same body / `GET /auth/me` (no target: what the body alone allows)',
        measured: `${ratioText(floor.ratio)} (${spread(floor)})`,
        met: null,
      },
      {
        target: 'the preferences read / that bare server (no target)',
        measured: `${ratioText(read.ratio)} (${spread(read)})`,
        met: null,
      },
    );
  }
  if (has('readgz')) {
    const gz = ratios(rounds, 'readgz', 'me');
    lines.push(
      `- the read as browsers ask for it (brotli, kept with the body) / \`GET /auth/me\`: ` +
        `**${ratioText(gz.ratio)}** (${spread(gz)}; by CPU ` +
        `${ratioText(gz.byCpu)})`,
    );
    targets.push({
      target: 'the read as browsers ask for it (brotli) / `GET /auth/me` (no target)',
      measured: `${ratioText(gz.ratio)} (${spread(gz)})`,
      met: null,
    });
  }
  if (has('read304')) {
    const head = ratios(rounds, 'read304', 'me');
    lines.push(
      `- the conditional read (If-None-Match, 304, no body) / \`GET /auth/me\`: ${ratioText(head.ratio)} ` +
        `(${spread(head)}; by CPU ${ratioText(head.byCpu)})`,
    );
    targets.push({
      target: 'the conditional read (If-None-Match, 304) / `GET /auth/me` (no target)',
      measured: `${ratioText(head.ratio)} (${spread(head)})`,
      met: null,
    });
  }
  return { lines, targets };
}

/** Where the server's CPU per read goes, from the differences between the scenarios (medians). */
function breakdown(options: Options, rounds: readonly Round[]): string | false {
  const ids = options.scenarios.map((s) => s.id);
  if (!ids.includes('floor') || !ids.includes('read304')) return false;
  const us = (id: ScenarioId) => cell(rounds, id).serverCpuUs;
  const [me, read, head, floor] = [us('me'), us('read'), us('read304'), us('floor')];
  return (
    `Server CPU per request (medians): \`/auth/me\` ${perSecond(me)} µs; the conditional read ${perSecond(head)} µs, ` +
    `so working out the ETag (the grants that reach the reader, the owners' versions, the library and its ` +
    `tag) costs about ${perSecond(head - me)} µs more than \`/auth/me\`; the bare server sending the ` +
    `${kib(cell(rounds, 'floor').bytes)} body ${perSecond(floor)} µs; the full read ${perSecond(read)} µs, about ` +
    `${perSecond(read - head)} µs over the conditional read for sending its body (kept rendered under its ETag).`
  );
}

function report(
  options: Options,
  bench: BenchRun,
  server: WorkspacesServer,
  rounds: readonly Round[],
  kept: number | undefined,
  loadAtEnd: string,
): { markdown: string; targets: TargetResult[] } {
  const { seeded, probe } = server;
  const verdict = verdicts(options, rounds);
  const measured = orderOf(options, 0);
  const table = markdownTable(
    [
      'scenario',
      'req/s (median)',
      'req/s range',
      'p50 ms',
      'p50 range',
      'p99 ms',
      'p99 range',
      'bytes per answer',
      'server CPU µs/req',
      'server CPU range',
      'autocannon CPU µs/req',
      'machine idle cores',
    ],
    measured.map((s) => {
      const f = cell(rounds, s.id);
      return [
        s.label,
        `**${perSecond(f.rate)}**`,
        `${perSecond(f.rateRange.min)}–${perSecond(f.rateRange.max)}`,
        wholeMs(f.p50),
        `${wholeMs(f.p50Range.min)}–${wholeMs(f.p50Range.max)}`,
        wholeMs(f.p99),
        `${wholeMs(f.p99Range.min)}–${wholeMs(f.p99Range.max)}`,
        perSecond(f.bytes),
        perSecond(f.serverCpuUs),
        `${perSecond(f.serverCpuRange.min)}–${perSecond(f.serverCpuRange.max)}`,
        perSecond(f.clientCpuUs),
        cores(f.idleCpu),
      ];
    }),
  );
  const perRun = markdownTable(
    ['run', 'order', ...measured.map((s) => `${s.id} req/s (p50 / p99 ms)`), 'read / me'],
    rounds.map((r, i) => [
      String(i + 1),
      orderOf(options, i)
        .map((s) => s.id)
        .join(', '),
      ...measured.map((s) => {
        const p = r.get(s.id);
        return p ? `${perSecond(p.rate)} (${wholeMs(p.p50)} / ${wholeMs(p.p99)})` : 'n/a';
      }),
      ratioText((r.get('read')?.rate ?? Number.NaN) / (r.get('me')?.rate ?? Number.NaN)),
    ]),
  );
  const read = cell(rounds, 'read');
  const access = Object.entries(probe.byAccess)
    .map(([a, n]) => `${n} ${a}`)
    .join(', ');
  const has = (id: ScenarioId) => measured.some((s) => s.id === id);
  const command = bench.command([
    ['connections', options.connections],
    ['scenarios', measured.map((s) => s.id).join(',')],
  ]);
  const markdown = bench.report({
    title: 'Preferences with 200 shared workspaces',
    question: [
      "What does the reader's `GET /api/v1/preferences` cost when it rebuilds a library of 200 workspaces shared",
      'by 50 owners, and what do merge patches cost with 50 writers at once? Beside `GET /api/v1/auth/me` on the',
      `same server in the same run. **Target** (issue 15): the preferences read at least ${TARGET} × as fast as`,
      '`/auth/me`.',
    ],
    trial: isTrial(options) ? `${options.runs} round(s) of ${options.durationS} s per scenario` : undefined,
    paragraphs: [
      `Command: \`${command}\`. Server: \`${bench.serverCommand}\` in its own process on 127.0.0.1, a fresh ` +
        'SQLite data directory, rate limiting off (`SWITCHBOARD_RATE_LIMITING=false`), log level warn, metrics ' +
        'off. Seeded through the HTTP API (bench/workspaces/seed.ts): the reader (an admin in the group ' +
        `\`${READER_GROUP}\`) and ${OWNERS} owners (editors), each owning ${WORKSPACES_PER_OWNER} workspaces of ` +
        `6–10 widgets with their settings (${count(seeded.workspaceBytes.min)}–${count(seeded.workspaceBytes.max)} ` +
        `bytes of JSON each, mean ${count(Math.round(seeded.workspaceBytes.mean))}) and \`variables\` ` +
        `(a stored document of ${count(Math.round(seeded.documentBytes))} bytes on average), and sharing them ` +
        'with the reader: one by a group grant, one by a user grant (edit), one by a role grant (`admin`), one ' +
        `by a group and a user grant (250 grants). The reader's library: ${probe.libraryEntries} workspaces from ` +
        `${probe.libraryOwners} owners (${access}); the body of their \`GET /preferences\` is ` +
        `**${count(probe.preferencesBytes)} bytes** (${kib(probe.preferencesBytes)}), that of \`/auth/me\` ` +
        `${count(probe.meBytes)} bytes. The owners see no shared workspace themselves.` +
        (has('floor')
          ? ' The floor: bench/workspaces/bare-body.mjs, Fastify 5 with no plugins in a process of its own, ' +
            'answering the bytes of that same preferences body from a Buffer: what sending it costs here, ' +
            'whatever builds it.'
          : ''),
      `Load: autocannon 9 in a process of its own (bench/workspaces/load-worker.mjs), closed loop, keep-alive, ` +
        `no pipelining, ${options.connections} connections in every scenario; per scenario ${options.warmupS} s ` +
        `warm-up then ${options.durationS} s measured; req/s counts successful answers (2xx; 304 for the ` +
        'conditional read); any other answer fails the run. autocannon counts the bytes of each body but does ' +
        'not keep them (its own string of every body cost it more CPU than the server spent). Reads: the ' +
        "reader's bearer token, `accept: application/json`, no `If-None-Match` (the whole body every time), " +
        'except the conditional read, which sends the ETag of the current view. Writes ' +
        `(\`application/merge-patch+json\`, no \`If-Match\`): with ${OWNERS} writers, connection k is owner k ` +
        'patching their own document with `{"theme":"dark-k","timeRange":{…}}` and `light-k` alternately (each ' +
        "answer is the writer's whole view, as `GET /preferences` gives it); with writers to one document, " +
        'every connection is the first owner and connection n sets its own key `pane-n` (two values ' +
        `alternately). ${options.runs} round(s); \`/auth/me\` and the preferences read are measured one after ` +
        'the other, in an order that alternates by round, then the others (see the per-run table). Figures ' +
        'are medians across rounds with their range (min–max); a ratio is the median of the per-round ratios. ' +
        'Latency is autocannon\'s (send to end of response, whole milliseconds). "bytes per answer": received, ' +
        'head included. "server CPU µs/req" and "autocannon CPU µs/req": CPU time of the server process and of ' +
        'the load generator (all threads, /proc, 10 ms ticks) over the measured window divided by the successful ' +
        'answers; the server answers on one JavaScript thread, so its CPU per request bounds its throughput ' +
        'whatever else the machine does, and is the steadier figure on a busy machine. "machine idle cores": ' +
        'cores nobody used over the window (/proc/stat); the server and autocannon each want a core, so on ' +
        `2 cores little is idle and anything else running takes from both. Load average at the end ${loadAtEnd}.`,
      table,
      breakdown(options, rounds),
      `The preferences read moves ${((read.rate * read.bytes) / 2 ** 20).toFixed(0)} MiB/s of answers ` +
        '(median req/s × bytes per answer).' +
        (has('same') && kept !== undefined
          ? ` After the run, the one document written by ${options.connections} writers at once holds ` +
            `${kept} of the ${options.connections} keys they set${kept === options.connections ? ' (no update lost)' : ' (**updates lost**)'}.`
          : ''),
      `**Result** (target of issue 15${isTrial(options) ? '; trial figures' : ''}):\n\n${verdict.lines.join('\n')}`,
    ],
    perRun,
  });
  return { markdown, targets: verdict.targets };
}

function profileMarkdown(
  profiles: readonly { scenario: Scenario; summary: ProfileSummary; point: PointResult }[],
  options: Options,
  conditions: MachineConditions,
): string {
  return [
    '### Where the time of the preferences routes goes (bench/workspaces --profile)',
    '',
    `Profiled ${conditions.date}, commit ${conditions.commit}, Node ${conditions.node}: for each scenario a ` +
      'server of its own, seeded as above, run under `node --cpu-prof` and loaded for ' +
      `${options.warmupS} s + ${options.profileDurationS} s at ${options.connections} connections. V8 samples ` +
      'wall time of the JavaScript thread, so a system call (the `writev` that hands a body to the kernel) ' +
      'counts in full. "Self": the frame itself was running; "inclusive": it was on the stack (each ' +
      'function or package counted once per sample). Packages: `switchboard X` is our dist/X; `node (core)` ' +
      "is Node's own JavaScript; `(native)` frames have no script (built-ins, bindings, better-sqlite3's " +
      "statements inside Kysely's `executeQuery`); `(garbage collector)` and `(program)` are V8's own.",
    ...profiles.flatMap(({ scenario, summary, point }) => [
      '',
      `#### ${scenario.label}`,
      '',
      `${perSecond(point.rate)} req/s under the profiler, server CPU ${perSecond(point.serverCpuUs)} µs/req; ` +
        (summary.windowed
          ? `${(summary.totalMs / 1000).toFixed(1)} s sampled inside the measured window`
          : `${(summary.totalMs / 1000).toFixed(1)} s sampled over the server's whole life (start-up included)`) +
        `, ${(summary.idle * 100).toFixed(0)}% of it idle; shares below are of the busy rest.`,
      '',
      profileTable('Self time by package:', 'package', summary.selfByPackage.slice(0, 8)),
      '',
      profileTable('Self time by function:', 'function', summary.selfByFunction.slice(0, 15)),
      '',
      profileTable('Inclusive time by function:', 'function', summary.inclusiveByFunction.slice(0, 15)),
    ]),
  ].join('\n');
}

/** One scenario under `node --cpu-prof` on a server of its own; the profile's summary and the point. */
async function profileScenario(options: Options, scenario: Scenario) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-workspaces-prof-'));
  try {
    const server = await startWorkspacesServer(options.runtime, ['--cpu-prof', '--cpu-prof-dir', dir]);
    let point: PointResult;
    try {
      point = await measurePoint(
        planOf(options, { switchboard: server, floor: undefined }, scenario, options.profileDurationS),
        server.server.child.pid,
      );
    } finally {
      // The profile is written as the server exits.
      await server.close();
    }
    const summary = summariseProfileDir(dir, 15, point.windowUs);
    const raw = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (raw) {
      const kept = join(tmpdir(), `switchboard-workspaces-${scenario.id}-${Date.now()}.cpuprofile`);
      copyFileSync(join(dir, raw), kept);
      process.stderr.write(`bench workspaces: the raw profile of ${scenario.id} is ${kept}\n`);
    }
    return { scenario, summary, point };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('workspaces', options);
  const n = options.scenarios.length;
  process.stderr.write(
    `bench workspaces: ${options.runs} round(s) of ${n} scenario(s), ${options.warmupS} s + ` +
      `${options.durationS} s each at ${options.connections} connections, about ` +
      `${Math.ceil((options.runs * n * (options.warmupS + options.durationS + 0.5) + 30) / 60)} min` +
      `${options.profile ? ' plus the profiles' : ''}\n`,
  );
  const switchboard = await startWorkspacesServer(options.runtime);
  const rounds: Round[] = [];
  const trouble: string[] = [];
  let kept: number | undefined;
  let floor: BenchServer | undefined;
  try {
    const { probe } = switchboard;
    process.stderr.write(
      `  seeded: ${probe.libraryEntries} shared workspaces from ${probe.libraryOwners} owners; ` +
        `GET /preferences ${count(probe.preferencesBytes)} bytes, /auth/me ${probe.meBytes} bytes\n`,
    );
    if (options.scenarios.some((s) => s.target === 'floor')) floor = await startFloor(probe.preferences);
    const servers: Servers = { switchboard, floor };
    for (let i = 0; i < options.runs; i += 1) {
      const round: Round = new Map();
      for (const scenario of orderOf(options, i)) {
        const point = await measurePoint(
          planOf(options, servers, scenario, options.durationS),
          targetOf(servers, scenario).child.pid,
        );
        if (point.failed > 0) trouble.push(`run ${i + 1}, ${scenario.label}: ${point.failed} failed`);
        process.stderr.write(
          `  run ${i + 1}/${options.runs} ${scenario.label}: ${perSecond(point.rate)} req/s, ` +
            `p50 ${wholeMs(point.p50)} ms, p99 ${wholeMs(point.p99)} ms, server CPU ${perSecond(point.serverCpuUs)} µs/req, ` +
            `autocannon CPU ${perSecond(point.clientCpuUs)} µs/req, ${perSecond(point.bytesPerAnswer)} B/answer, ` +
            `idle ${cores(point.idleCpu)}${point.failed ? `, FAILED ${point.failed}` : ''}\n`,
        );
        round.set(scenario.id, point);
        await sleep(300);
      }
      rounds.push(round);
    }
    if (options.scenarios.some((s) => s.id === 'same')) {
      kept = await keysKept(switchboard, sameDocumentOwner(switchboard).token, options.connections);
    }
  } finally {
    await floor?.stop();
    await switchboard.close();
  }
  const loadAtEnd = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

  const profiles: Awaited<ReturnType<typeof profileScenario>>[] = [];
  if (options.profile) {
    for (const scenario of options.profileOf) profiles.push(await profileScenario(options, scenario));
  }

  const lost = kept !== undefined && kept !== options.connections;
  const published = report(options, bench, switchboard, rounds, kept, loadAtEnd);
  const code = bench.publish(published.markdown, {
    targets: published.targets,
    failed:
      trouble.length > 0
        ? `${trouble.length} point(s) with failures: ${trouble.slice(0, 3).join(' | ')}`
        : lost
          ? `the one document kept ${kept} of the ${options.connections} keys written to it`
          : undefined,
  });
  if (profiles.length > 0) {
    const markdown = profileMarkdown(profiles, options, bench.conditions);
    process.stdout.write(`\n${markdown}\n`);
    if (options.docs && code === 0) writeDocSection(`${ROOT}/${BENCHMARKS_DOC}`, PROFILE_SECTION, markdown);
  }
  return code;
}
