/**
 * bench/config: how long do a save and a diff of a 1 MB endpoint configuration take? Against a real server
 * over HTTP: POST /config (a small edit, saved without activating), POST /config/diff (a draft with 1% of
 * its lines changed), GET /config/diff between two saved versions 1% apart, and a worst case (every value
 * changed); then the same steps in-process (parse, validate, canonicalize, diff) to show where the time
 * goes. Target: under 200 ms each for save and diff. Run with `npm run bench -- config [options]`.
 */

import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { canonicalJson } from '../src/endpoints/canonical.js';
import type { EndpointConfig } from '../src/endpoints/schema.js';
import { validateConfig } from '../src/endpoints/validate.js';
import {
  CRAFTED_KINDS,
  CRAFTED_LABELS,
  type CraftedDraft,
  craftedDraft,
  draftInFlight,
  type InFlight,
  idleHealth,
} from './config/crafted.js';
import {
  changedLines,
  everythingChanged,
  type GeneratedConfig,
  generateConfig,
  linesChanged,
  smallEdit,
} from './config/document.js';
import { STEP_LABELS, STEPS, type Step, timeSteps } from './config/in-process.js';
import { type Aggregate, aggregate, type Repeats, repeat } from './config/timing.js';
import { startUpstream, type Upstream } from './config/upstream.js';
import { accountsEnv, setUpAccounts } from './lib/accounts.js';
import { METRICS_ENV, pool, scrapeEventLoopDelay } from './lib/http.js';
import { type CommonOptions, parseBenchArgs, positiveOption, usageText } from './lib/options.js';
import { coresUsed, processCpuSeconds } from './lib/proc.js';
import {
  type BenchRun,
  benchRun,
  cores,
  count,
  markdownTable,
  ms,
  type TargetResult,
  verdictText,
} from './lib/report.js';
import { type BenchServer, ROOT, startSession } from './lib/server.js';
import { median, summarize } from './lib/stats.js';

const USAGE = usageText('config', {
  width: 22,
  options: [
    ['--runs N', 'runs, each on a fresh server (default 3)'],
    ['--iterations N', 'measured requests per operation and run (default 20)'],
    ['--warmup N', 'warm-up requests before each operation, not measured (default 3)'],
    ['--worst-iterations N', 'measured requests of the worst case per run, after one warm-up (default 5)'],
    ['--size BYTES', "size of the document's canonical JSON to aim at (default 1000000)"],
    ['--crafted-iterations N', 'measured requests per crafted draft and run, after one warm-up (default 3)'],
  ],
});

const TARGET_MS = 200;
const SEED = 20_261_122;
/** The worst case used to take tens of seconds: long enough timeouts that it is measured, not cut off. */
const REQUEST_TIMEOUT_MS = 300_000;
/** How long the server's CPU is watched while it has nothing to do but run the active version. */
const IDLE_MS = 3000;
/** Sizes of the crafted drafts' bodies: a large one, and one near the 8 MiB limit of the config routes. */
const CRAFTED_SIZES = [1_000_000, 8_000_000] as const;
/** How long /healthz is asked with nothing else in flight, for its latency at rest. */
const HEALTH_IDLE_MS = 2000;

const OPERATIONS = ['save', 'draft', 'versions', 'worst'] as const;
type Operation = (typeof OPERATIONS)[number];

const OPERATION_LABELS: Record<Operation, string> = {
  save: 'save: `POST /config`, one value changed, `activate: false`',
  draft: 'diff a draft: `POST /config/diff`, 1% of the lines changed',
  versions: 'diff two versions: `GET /config/diff?from=&to=`, 1% apart',
  worst: 'worst case: `GET /config/diff?from=&to=`, every value changed',
};

interface Options extends CommonOptions {
  repeats: Repeats;
  worst: Repeats;
  crafted: Repeats;
  sizeBytes: number;
}

function parseOptions(argv: string[]): Options | undefined {
  // Warm-ups here are requests, not seconds, and there is no duration: requests are counted instead.
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 3, counts: 'requests' },
    { iterations: '20', 'worst-iterations': '5', size: '1000000', 'crafted-iterations': '3' },
  );
  if (!args) return undefined;
  const { warmup, ...common } = args.common;
  const sizeBytes = positiveOption('size', args.own.size, true, USAGE);
  if (sizeBytes < 10_000)
    throw new Error(`--size must be at least 10000 bytes, got ${sizeBytes}\n\n${USAGE}`);
  return {
    ...common,
    repeats: { warmup, iterations: positiveOption('iterations', args.own.iterations, true, USAGE) },
    worst: {
      warmup: Math.min(1, warmup),
      iterations: positiveOption('worst-iterations', args.own['worst-iterations'], true, USAGE),
    },
    crafted: {
      warmup: Math.min(1, warmup),
      iterations: positiveOption('crafted-iterations', args.own['crafted-iterations'], true, USAGE),
    },
    sizeBytes,
  };
}

/** The documents of a bench: generated once, the same for every run. */
interface Documents {
  base: GeneratedConfig;
  onePercent: EndpointConfig;
  everything: EndpointConfig;
  /** One small edit per save request of a run (warm-ups included). */
  smallEdits: EndpointConfig[];
  changed: { small: number; onePercent: number; everything: number };
  /** Bodies of POST /config/diff crafted to cost the server the most, around the base document. */
  crafted: CraftedDraft[];
  bodies: {
    /** Save requests of the edits, in order. */
    saves: Buffer[];
    draft: Buffer;
    /** Set-up saves: the worst-case version, the base (activated), the 1% version. */
    everything: Buffer;
    base: Buffer;
    onePercent: Buffer;
  };
}

const VERSIONS = { base: '1.0.0', onePercent: '1.1.0', everything: '1.2.0' } as const;

/** The body as a client holding the document as a file sends it: its canonical text, in the wrapper. */
function wrapped(fields: Record<string, unknown>, document: EndpointConfig): Buffer {
  const head = JSON.stringify(fields).slice(0, -1);
  return Buffer.from(`${head}${head === '{' ? '' : ','}"config":${canonicalJson(document)}}`);
}

function prepareDocuments(options: Options, upstream: Upstream): Documents {
  const base = generateConfig({ seed: SEED, targetBytes: options.sizeBytes, upstream: upstream.origin });
  const onePercent = linesChanged(base.document, Math.round(base.lines / 100));
  const everything = everythingChanged(base.document);
  const saveCount = options.repeats.warmup + options.repeats.iterations;
  const smallEdits = Array.from({ length: saveCount }, (_, i) => smallEdit(base.document, i));
  // The documents must pass the server's validation, or the bench measures a refusal.
  const context = { allowedHosts: [upstream.host], functionsDir: ROOT };
  for (const [name, document] of [
    ['base', base.document],
    ['1%', onePercent],
    ['everything', everything],
    ['small edit', smallEdits[0]],
  ] as const) {
    const result = validateConfig(document, context);
    if (!result.ok) {
      throw new Error(
        `the generated ${name} document does not validate: ${JSON.stringify(result.problems.slice(0, 3))}`,
      );
    }
  }
  const changedFrom = (document: EndpointConfig) => changedLines(base.canonical, canonicalJson(document));
  const crafted = CRAFTED_SIZES.flatMap((size) =>
    CRAFTED_KINDS.map((kind) => craftedDraft(kind, size, base.document)),
  );
  return {
    base,
    crafted,
    onePercent,
    everything,
    smallEdits,
    changed: {
      small: changedFrom(smallEdits[0] as EndpointConfig),
      onePercent: changedFrom(onePercent),
      everything: changedFrom(everything),
    },
    bodies: {
      saves: smallEdits.map((document, i) =>
        wrapped({ activate: false, message: `bench edit ${i + 1}` }, document),
      ),
      draft: wrapped({}, onePercent),
      everything: wrapped(
        { activate: false, version: VERSIONS.everything, message: 'every value changed' },
        everything,
      ),
      base: wrapped({ activate: true, version: VERSIONS.base, message: 'bench base' }, base.document),
      onePercent: wrapped(
        { activate: false, version: VERSIONS.onePercent, message: '1% of the lines changed' },
        onePercent,
      ),
    },
  };
}

interface Answer {
  status: number;
  body: Buffer;
  ms: number;
}

/** The first admin, over a keep-alive pool: every request of the bench is theirs. */
interface Admin {
  pool: Pool;
  token: string;
}

/** One request, timed from sending it to the end of its response body; the body is parsed afterwards. */
async function send(admin: Admin, method: 'GET' | 'POST', path: string, body?: Buffer): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${admin.token}`,
    accept: 'application/json',
  };
  if (body) headers['content-type'] = 'application/json';
  const start = performance.now();
  const res = await admin.pool.request({ method, path, headers, body });
  const received = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, body: received, ms: performance.now() - start };
}

/** The answer's `data`, or an error naming the call and what came back instead. */
function dataOf(answer: Answer, expected: number, what: string): Record<string, unknown> {
  const text = answer.body.toString('utf8');
  if (answer.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${answer.status}: ${text.slice(0, 500)}`);
  }
  return (JSON.parse(text) as { data: Record<string, unknown> }).data;
}

/** What a diff in an answer holds: hunks, lines added and removed, whether it is a whole-file replacement. */
interface DiffShape {
  hunks: number;
  added: number;
  removed: number;
  whole: boolean;
}

function shapeOf(diff: string, oldLines: number): DiffShape {
  let hunks = 0;
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('@@')) hunks += 1;
    else if (line.startsWith('+') && !line.startsWith('+++ ')) added += 1;
    else if (line.startsWith('-') && !line.startsWith('--- ')) removed += 1;
  }
  return { hunks, added, removed, whole: hunks === 1 && removed === oldLines };
}

interface HttpMeasurement {
  samples: number[];
  /** Server CPU time (all its threads, /proc) per measured request, ms; NaN off Linux. */
  serverCpuMs: number;
  /** The server's longest event-loop delay over the measured requests (prom-client), ms. */
  loopMaxMs: number;
  answerBytes: number;
  diff: DiffShape;
}

/** One crafted draft in one run: its answers, and /healthz while each was in flight. */
interface CraftedMeasurement {
  answers: InFlight[];
  /** The server's longest event-loop delay over the measured requests (prom-client), ms. */
  loopMaxMs: number;
}

interface RunResult {
  http: Record<Operation, HttpMeasurement>;
  /** By index in Documents.crafted. */
  crafted: CraftedMeasurement[];
  /** /healthz latencies with nothing else in flight. */
  healthIdle: number[];
  inProcess: Record<Step, number[]>;
  /** Upstream polls from activating the base version until the measurements began. */
  pollsAtActivation: number;
  /** Upstream polls while the measurements ran: producers at work beside them. */
  pollsDuring: number;
  /** Cores the server used with the base active and nothing asked of it (lease renewals and such). */
  idleCores: number;
}

/** A fresh server whose active version is the base document, with the 1% and worst-case versions saved. */
function prepareServer(options: Options, documents: Documents, upstream: Upstream) {
  const env = {
    ...accountsEnv(['config.save=off', 'config.activate=off', 'config.diff=off']),
    ...METRICS_ENV,
    SWITCHBOARD_ENDPOINT_HOSTS: upstream.host,
    ...documents.base.env,
  };
  const start = { runtime: options.runtime, env, connections: 2, timeoutMs: REQUEST_TIMEOUT_MS };
  return startSession(start, async ({ server, client }) => {
    const admin = { pool: client, token: (await setUpAccounts(client)).adminToken };
    // The worst-case version first, while nothing is active: its save then diffs against nothing.
    const everything = await send(admin, 'POST', '/api/v1/config', documents.bodies.everything);
    dataOf(everything, 201, 'saving the worst-case version');
    const pollsBefore = upstream.requests();
    const base = dataOf(
      await send(admin, 'POST', '/api/v1/config', documents.bodies.base),
      201,
      'saving and activating the base version',
    );
    if (base.active !== true) throw new Error(`the base version was not activated: ${JSON.stringify(base)}`);
    // Each producer polls once at activation, then every hour or more: wait for the first polls to end.
    const settled = await upstream.settled(1500, 30_000);
    const idleCores = await coresUsed(server.child.pid, IDLE_MS);
    const onePercent = await send(admin, 'POST', '/api/v1/config', documents.bodies.onePercent);
    dataOf(onePercent, 201, 'saving the 1% version');
    return { admin, pollsAtActivation: settled - pollsBefore, idleCores };
  });
}

/** The requests of an operation, and what their answers must be. */
interface OperationPlan {
  repeats: Repeats;
  request: (index: number) => Promise<Answer>;
  status: number;
  /** What the request is, for an error message. */
  what: string;
  /** Whether the answer must say the version is active (a save's), when it must say. */
  active?: boolean;
}

function operationPlans(
  options: Options,
  documents: Documents,
  admin: Admin,
): Record<Operation, OperationPlan> {
  const diffTo = (version: string) => () =>
    send(admin, 'GET', `/api/v1/config/diff?from=${VERSIONS.base}&to=${version}`);
  return {
    save: {
      repeats: options.repeats,
      request: (i) => send(admin, 'POST', '/api/v1/config', documents.bodies.saves[i]),
      status: 201,
      what: 'save',
      active: false,
    },
    draft: {
      repeats: options.repeats,
      request: () => send(admin, 'POST', '/api/v1/config/diff', documents.bodies.draft),
      status: 200,
      what: 'draft diff',
    },
    versions: {
      repeats: options.repeats,
      request: diffTo(VERSIONS.onePercent),
      status: 200,
      what: 'version diff',
    },
    worst: {
      repeats: options.worst,
      request: diffTo(VERSIONS.everything),
      status: 200,
      what: 'worst-case diff',
    },
  };
}

/** One operation on the server: warm-ups, then the measured requests, each checked after it is timed. */
async function measureHttp(
  server: BenchServer,
  admin: Admin,
  plan: OperationPlan,
  oldLines: number,
): Promise<HttpMeasurement> {
  const { repeats } = plan;
  let cpuBefore = Number.NaN;
  let shape: DiffShape | undefined;
  let answerBytes = 0;
  const samples = await repeat(repeats, async (i) => {
    if (i === repeats.warmup) {
      await scrapeEventLoopDelay(admin.pool);
      cpuBefore = processCpuSeconds(server.child.pid);
    }
    const answer = await plan.request(i);
    const diff = diffIn(dataOf(answer, plan.status, 'a measured request'), plan.what, plan);
    if (i === repeats.warmup) {
      shape = shapeOf(diff, oldLines);
      answerBytes = answer.body.length;
    }
    return answer.ms;
  });
  const cpu = processCpuSeconds(server.child.pid) - cpuBefore;
  const loop = await scrapeEventLoopDelay(admin.pool);
  return {
    samples,
    serverCpuMs: (cpu * 1000) / repeats.iterations,
    loopMaxMs: loop?.max ?? Number.NaN,
    answerBytes,
    diff: shape as DiffShape,
  };
}

/** The answer's diff, after checking the answer is the one asked for. */
function diffIn(data: Record<string, unknown>, what: string, expected: { active?: boolean } = {}): string {
  if (typeof data.diff !== 'string' || data.diff === '') {
    throw new Error(`${what}: the answer holds no diff: ${JSON.stringify(data).slice(0, 300)}`);
  }
  if (expected.active !== undefined && data.active !== expected.active) {
    throw new Error(`${what}: expected active ${expected.active}, got ${String(data.active)}`);
  }
  return data.diff;
}

/** A crafted draft, again and again, with /healthz asked throughout on a connection of its own. */
async function measureCrafted(
  admin: Admin,
  probes: Pool,
  draft: CraftedDraft,
  options: Options,
): Promise<CraftedMeasurement> {
  const answers: InFlight[] = [];
  const { warmup, iterations } = options.crafted;
  for (let i = 0; i < warmup + iterations; i += 1) {
    if (i === warmup) await scrapeEventLoopDelay(admin.pool);
    const answer = await draftInFlight(admin.pool, probes, admin.token, draft.body);
    if (answer.status >= 500) {
      throw new Error(
        `crafted draft ${draft.kind} of ${draft.size} bytes: the server answered ${answer.status}`,
      );
    }
    if (i >= warmup) answers.push(answer);
  }
  const loop = await scrapeEventLoopDelay(admin.pool);
  return { answers, loopMaxMs: loop?.max ?? Number.NaN };
}

async function runOnce(options: Options, documents: Documents, upstream: Upstream): Promise<RunResult> {
  const session = await prepareServer(options, documents, upstream);
  const { server, admin, pollsAtActivation, idleCores } = session;
  const http: Partial<Record<Operation, HttpMeasurement>> = {};
  const crafted: CraftedMeasurement[] = [];
  let healthIdle: number[] = [];
  let pollsDuring: number;
  try {
    const pollsBefore = upstream.requests();
    const plans = operationPlans(options, documents, admin);
    for (const op of OPERATIONS) http[op] = await measureHttp(server, admin, plans[op], documents.base.lines);
    const probes = pool(server.origin, 1, REQUEST_TIMEOUT_MS);
    try {
      healthIdle = await idleHealth(probes, HEALTH_IDLE_MS);
      for (const draft of documents.crafted)
        crafted.push(await measureCrafted(admin, probes, draft, options));
    } finally {
      await probes.close();
    }
    pollsDuring = upstream.requests() - pollsBefore;
    if (server.child.exitCode !== null) throw new Error(`the server exited:\n${server.output()}`);
  } finally {
    await session.close();
  }
  // In-process after the server is gone, so the two do not share the CPUs.
  const inProcess = await timeSteps(
    {
      base: documents.base.document,
      smallEdits: documents.smallEdits,
      onePercent: documents.onePercent,
      everything: documents.everything,
      saveBody: (documents.bodies.saves[0] as Buffer).toString('utf8'),
      allowedHosts: [upstream.host],
    },
    options.repeats,
    options.worst,
  );
  return {
    http: http as Record<Operation, HttpMeasurement>,
    crafted,
    healthIdle,
    inProcess,
    pollsAtActivation,
    pollsDuring,
    idleCores,
  };
}

/** Uncommitted changes under src/, which the commit in the conditions does not show. */
function uncommittedSources(): string[] {
  try {
    return execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
  } catch {
    return [];
  }
}

const isTrial = (options: Options) => options.runs < 3 || options.repeats.iterations < 20;
const kb = (bytes: number) =>
  `${(bytes / 1000).toLocaleString('en-US', { maximumFractionDigits: bytes < 10_000 ? 1 : 0 })} KB`;
const meets = (value: number) => value < TARGET_MS;

function answerText(m: HttpMeasurement): string {
  const { hunks, added, removed, whole } = m.diff;
  const lines = `+${count(added)} −${count(removed)}`;
  return `${whole ? 'whole-file replacement' : `${count(hunks)} hunk${hunks === 1 ? '' : 's'}`}, ${lines} lines, ${kb(m.answerBytes)}`;
}

function spread(a: Aggregate): [string, string, string, string] {
  return [
    `**${ms(a.median)}**`,
    ms(a.p90),
    `${ms(a.min)}–${ms(a.max)}`,
    `${ms(a.runMedians.min)}–${ms(a.runMedians.max)}`,
  ];
}

/** The crafted drafts' table, the sentence that sums it up, and the figures of that sentence as targets. */
function craftedTable(
  documents: Documents,
  runs: RunResult[],
): { table: string; result: string; targets: TargetResult[] } {
  const healthSummary = (latencies: number[]) => {
    const s = summarize(latencies);
    return [ms(s.p50), ms(s.p99), ms(s.max), count(s.count)];
  };
  const rows = documents.crafted.map((draft, index) => {
    const measured = runs.map((r) => r.crafted[index] as CraftedMeasurement);
    const answers = measured.flatMap((m) => m.answers);
    const first = answers[0] as InFlight;
    const times = aggregate(measured.map((m) => m.answers.map((a) => a.ms)));
    const answer = `${first.status}${first.code === undefined ? '' : ` (${first.code})`}, ${kb(first.answerBytes)}`;
    const met = meets(times.median);
    return {
      met,
      healthMax: Math.max(...answers.flatMap((a) => a.health)),
      row: [
        `${CRAFTED_LABELS[draft.kind]}, ${kb(draft.body.length)}`,
        answer,
        `**${ms(times.median)}**`,
        `${ms(times.min)}–${ms(times.max)}`,
        ...healthSummary(answers.flatMap((a) => a.health)),
        ms(median(measured.map((m) => m.loopMaxMs))),
        verdictText(met),
      ],
    };
  });
  const idle = runs.flatMap((r) => r.healthIdle);
  const table = markdownTable(
    [
      'crafted draft, body',
      'answer (code), size',
      'median ms',
      'min–max ms',
      '/healthz during: median ms',
      'p99 ms',
      'max ms',
      'probes',
      'server loop delay max ms',
      `answer < ${TARGET_MS} ms`,
    ],
    [
      ...rows.map((r) => r.row),
      ['(nothing in flight: /healthz at rest)', '', '', '', ...healthSummary(idle), '', ''],
    ],
  );
  const worstHealth = Math.max(...rows.map((r) => r.healthMax));
  const slow = rows.filter((r) => !r.met).length;
  const atRest = `(at rest: median ${ms(summarize(idle).p50)} ms, max ${ms(summarize(idle).max)} ms)`;
  const within = `${rows.length - slow} of ${rows.length}`;
  const result =
    `**Result:** the longest /healthz wait while a crafted draft was in flight was ${ms(worstHealth)} ms ` +
    `${atRest}; ${within} crafted drafts were answered within ${TARGET_MS} ms (medians).`;
  const targets: TargetResult[] = [
    {
      target: 'crafted drafts (issue 12): the longest `/healthz` wait while one was in flight',
      measured: `${ms(worstHealth)} ms ${atRest}`,
      met: null,
    },
    {
      target: `crafted drafts (issue 12) answered within ${TARGET_MS} ms (medians)`,
      measured: within,
      met: null,
    },
  ];
  return { table, result, targets };
}

function report(
  options: Options,
  bench: BenchRun,
  documents: Documents,
  runs: RunResult[],
  dirty: string[],
): { markdown: string; targets: TargetResult[] } {
  const http = Object.fromEntries(
    OPERATIONS.map((op) => [op, aggregate(runs.map((r) => r.http[op].samples))]),
  ) as Record<Operation, Aggregate>;
  const operationMet = Object.fromEntries(OPERATIONS.map((op) => [op, meets(http[op].median)])) as Record<
    Operation,
    boolean
  >;
  const steps = Object.fromEntries(
    STEPS.map((step) => [step, aggregate(runs.map((r) => r.inProcess[step]))]),
  ) as Record<Step, Aggregate>;
  const of = (op: Operation, f: (m: HttpMeasurement) => number) => median(runs.map((r) => f(r.http[op])));
  const first = runs[0] as RunResult;
  const { base, changed } = documents;
  const c = base.counts;
  const httpTable = markdownTable(
    [
      'operation',
      'median ms',
      'p90 ms',
      'min–max ms',
      'run medians ms',
      'server CPU ms / request',
      'server loop delay max ms',
      'answer (diff)',
      `< ${TARGET_MS} ms`,
    ],
    OPERATIONS.map((op) => [
      OPERATION_LABELS[op],
      ...spread(http[op]),
      ms(of(op, (m) => m.serverCpuMs)),
      ms(of(op, (m) => m.loopMaxMs)),
      answerText(first.http[op]),
      `**${verdictText(operationMet[op])}**`,
    ]),
  );
  const stepTable = markdownTable(
    ['step (in the bench process, no HTTP)', 'median ms', 'p90 ms', 'min–max ms', 'run medians ms'],
    STEPS.map((step) => [STEP_LABELS[step], ...spread(steps[step])]),
  );
  const perRun = markdownTable(
    [
      'run',
      ...OPERATIONS.map((op) => `${op} median`),
      'validate median',
      'upstream polls at activation / during',
      'server CPU idle (cores)',
    ],
    runs.map((r, i) => [
      String(i + 1),
      ...OPERATIONS.map((op) => ms(median(r.http[op].samples))),
      ms(median(r.inProcess.validate)),
      `${count(r.pollsAtActivation)} / ${count(r.pollsDuring)}`,
      cores(r.idleCores),
    ]),
  );
  const crafted = craftedTable(documents, runs);
  const savePath =
    steps.parse.median + steps.validate.median + steps.canonical.median + steps.diffSmall.median;
  const canonicalizing = steps.diffIdentical.median;
  const idle = median(runs.map((r) => r.idleCores));
  const command = bench.command([
    ['iterations', options.repeats.iterations],
    ['warmup', options.repeats.warmup],
    ['worst-iterations', options.worst.iterations],
    ['size', options.sizeBytes],
    ['crafted-iterations', options.crafted.iterations],
  ]);
  const met = (['save', 'draft', 'versions'] as const).every((op) => operationMet[op]);
  const trial = isTrial(options);
  const targets: TargetResult[] = [
    ...OPERATIONS.map((op) => ({
      target: `${OPERATION_LABELS[op]}: median < ${TARGET_MS} ms`,
      measured: `${ms(http[op].median)} ms`,
      met: operationMet[op],
    })),
    ...crafted.targets,
  ];
  const markdown = bench.report({
    title: 'Endpoint configuration save and diff',
    question: [
      'How long do a save and a diff of a 1 MB endpoint configuration take? Over HTTP against a real server:',
      'a save (`POST /api/v1/config`) of a small edit, whose answer holds the unified diff against the active',
      'version; a diff of a draft (`POST /api/v1/config/diff`) and of two saved versions',
      '(`GET /api/v1/config/diff`) with 1% of the lines changed; and a worst case, two versions that differ in',
      `every value. **Target:** under ${TARGET_MS} ms each for save and diff.`,
    ],
    trial: trial
      ? `${options.runs} run(s) of ${options.repeats.iterations} measured request(s) per operation`
      : undefined,
    paragraphs: [
      dirty.length > 0 &&
        `Code measured: commit ${bench.conditions.commit} plus uncommitted changes to ${dirty.map((f) => `\`${f}\``).join(', ')}.`,
      `Command: \`${command}\`. Server: \`${bench.serverCommand}\` ` +
        'on 127.0.0.1, fresh SQLite data directory per run, log level warn, the `config.save` and ' +
        '`config.activate` rate limits off. Requests come one after the other from the bench process as the ' +
        'first admin (bearer token), over a keep-alive connection; each is timed from sending it to the end ' +
        `of its answer. Per operation and run: ${options.repeats.warmup} warm-up request(s), then ` +
        `${options.repeats.iterations} measured (the worst case: ${options.worst.warmup} and ` +
        `${options.worst.iterations}). Figures are medians across ${options.runs} run(s) of each run's median ` +
        'and p90; "min–max" is the fastest and slowest single request of all runs, "run medians" the lowest ' +
        'and highest median of a run. "server CPU": CPU time of the server process (all threads, /proc, 10 ms ' +
        'ticks) over the measured requests divided by their number. "server loop delay max": the longest ' +
        'event-loop delay of the server over the measured requests (prom-client, 10 ms resolution): how long ' +
        'one request held the server, during which it answered nobody else.',
      `**The document** (generated, seed ${SEED}): ${count(base.bytes)} bytes and ${count(base.lines)} lines of ` +
        `canonical JSON (keys sorted, two-space indentation): ${count(c.vars)} variables of ${count(c.sites)} ` +
        `sites (base URL, a secret token read from the environment, an auth header built from it, units, ` +
        `coordinates and more), ${count(c.endpoints)} HTTP endpoints (headers, query parameters or a JSON ` +
        `body, timeouts, retries) and ${count(c.streams)} streams (select maps, access rules with groups, ` +
        'replay history). Request bodies are that text in the save or diff wrapper ' +
        `(\`{"activate": false, "message": …, "config": …}\`, ${kb(documents.bodies.saves[0]?.length ?? 0)}). ` +
        `The base version (${VERSIONS.base}) is saved and activated first, so every save diffs against it. ` +
        `Each save changes one value, a different one each time (${count(changed.small)} line); the 1% ` +
        `versions change ${count(changed.onePercent)} values spread evenly through the document ` +
        `(${count(changed.onePercent)} lines, ${((changed.onePercent / base.lines) * 100).toFixed(1)}%); the ` +
        `worst case changes every value but a stream's reference to its endpoint ` +
        `(${count(changed.everything)} lines, ${((changed.everything / base.lines) * 100).toFixed(0)}%), ` +
        'saved before the base is activated so that its own save does not diff. Every endpoint reaches a ' +
        'loopback HTTP server in the bench process (`SWITCHBOARD_ENDPOINT_HOSTS` is its address), and every ' +
        'stream polls every 1 to 12 hours: activating the base starts a producer per stream, each polls once, ' +
        'and the measurements begin once those polls are over (the per-run table counts them, and any that ' +
        'came during the measurements). With the base active the server also renews one producer lease per ' +
        `stream every few seconds, as it would in service: ${cores(idle)} cores with nothing asked of it ` +
        `(median over ${IDLE_MS / 1000} s before the measurements). A diff masks the values of secret ` +
        'variables on both sides, so a changed `secret` flag shows as two changed lines.',
      httpTable,
      `**Result:** save ${ms(http.save.median)} ms, diff of a draft ${ms(http.draft.median)} ms, diff of two ` +
        `versions ${ms(http.versions.median)} ms (medians; target under ${TARGET_MS} ms each): ` +
        `**${met ? 'met' : 'not met'}**${trial ? ' (trial)' : ''}. Worst case (every value changed): ` +
        `${ms(http.worst.median)} ms, answered with ${answerText(first.http.worst)}.`,
      'Where the time goes: the same steps in the bench process, on the same documents, with the functions ' +
        "the server calls (`src/endpoints`, run by tsx), after the run's server has stopped. A diff " +
        'canonicalizes both sides and then compares them line by line (jsdiff): of a diff, ' +
        `${ms(canonicalizing)} ms are the two canonicalizations (the diff of a document with itself), the rest ` +
        `is the comparison: ${ms(steps.diffSmall.median - canonicalizing)} ms with one value changed, ` +
        `${ms(steps.diffOnePercent.median - canonicalizing)} ms with 1% of the lines, ` +
        `${ms(steps.diffWorst.median - canonicalizing)} ms with every value. A save parses the body, reads and ` +
        'parses the active version, validates, canonicalizes, stores the text in SQLite in one transaction ' +
        'with its audit entry, and diffs against the active version: parse + validate + canonicalize + diff ' +
        `of one value here add up to ${ms(savePath)} ms of the ${ms(http.save.median)} ms a save takes over HTTP.`,
      stepTable,
      '**Crafted drafts** (issue 12): bodies of `POST /api/v1/config/diff` made to cost the server as much as ' +
        'their size allows, each around the base document, at 1 MB and 8 MB (the config routes accept up to ' +
        `8 MiB): ${CRAFTED_KINDS.map((kind) => CRAFTED_LABELS[kind]).join('; ')}. Per draft and run: ` +
        `${options.crafted.warmup} warm-up, then ${options.crafted.iterations} measured, one at a time. While ` +
        'each is in flight the bench asks `GET /healthz` again and again on a connection of its own (closed ' +
        'loop): its latency is how long the draft holds the event loop. "/healthz during" counts every probe ' +
        'sent while a measured draft was in flight, over all runs (median, p99, max); "at rest" is the same ' +
        `probe for ${HEALTH_IDLE_MS / 1000} s with nothing else asked. Answer times are medians of the runs' ` +
        'medians, with the fastest and slowest single answer. Before the fix, 200 KB of `${` in a draft held ' +
        'every request of the server for 41 s (issue 12).',
      crafted.table,
      crafted.result,
    ],
    perRun,
  });
  return { markdown, targets };
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('config', options);
  const dirty = uncommittedSources();
  const upstream = await startUpstream();
  try {
    process.stderr.write(
      `bench config: ${options.runs} run(s); per operation ${options.repeats.warmup} warm-up + ` +
        `${options.repeats.iterations} measured request(s); generating the documents\n`,
    );
    const documents = prepareDocuments(options, upstream);
    process.stderr.write(
      `  document: ${count(documents.base.bytes)} bytes, ${count(documents.base.lines)} lines; ` +
        `1%: ${documents.changed.onePercent} lines changed, worst case: ${documents.changed.everything}\n`,
    );
    const runs: RunResult[] = [];
    for (let i = 0; i < options.runs; i += 1) {
      const result = await runOnce(options, documents, upstream);
      runs.push(result);
      process.stderr.write(
        `  run ${i + 1}/${options.runs}: ${OPERATIONS.map((op) => `${op} ${ms(median(result.http[op].samples))}`).join(', ')} ms ` +
          `(medians); upstream polls at activation ${result.pollsAtActivation}, during ${result.pollsDuring}\n`,
      );
    }
    const { markdown, targets } = report(options, bench, documents, runs, dirty);
    return bench.publish(markdown, { targets });
  } finally {
    await upstream.close();
  }
}
