/**
 * bench/client: the official client (packages/client) end to end. Reconnect: a `@switchboard/client`
 * following a channel loses its network while 1,000 events are published, gets it back, and is timed from
 * the start of its reconnect to the last missed event handed to its subscriber, over WebSocket and SSE,
 * each delivery checked for gaps and duplicates. Bundle: the client bundled for browsers, minified,
 * raw / gzip / brotli bytes. Server in a child process (bench/replay's launcher), client in the bench.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TransportName } from '../packages/client/src/index.js';
import { type BundleSize, CLIENT_ENTRY, measureBundle } from './client/bundle.js';
import { BenchClient, type Trial } from './client/reconnect.js';
import { CHANNEL, startClientTarget } from './client/target.js';
import {
  type CountedOptions,
  choicesOption,
  parseBenchArgs,
  positiveOption,
  usageText,
} from './lib/options.js';
import { benchRun, count, markdownTable, ms, type TargetResult } from './lib/report.js';
import { median, minMax, percentile } from './lib/stats.js';

const RECONNECT_TARGET_MS = 200;
/** "Under 15 KB" read strictly: 15,000 bytes. */
const GZIP_TARGET_BYTES = 15_000;

type Part = 'reconnect' | 'bundle';

const USAGE = usageText('client', {
  width: 20,
  options: [
    ['--parts LIST', 'reconnect,bundle (default both)'],
    ['--runs N', 'runs, each on a fresh server with a fresh client per transport (default 3)'],
    ['--trials N', 'timed reconnects per transport and run (default 20)'],
    ['--warmup N', 'untimed reconnects before them (default 3)'],
    ['--missed N', 'events published while the client is cut off (default 1000)'],
    ['--transports LIST', 'websocket,sse (default both)'],
  ],
});

interface Options extends CountedOptions {
  parts: Part[];
  trials: number;
  missed: number;
  transports: TransportName[];
}

const pick = <T extends string>(name: string, raw: string, allowed: readonly T[]): T[] =>
  choicesOption(name, raw, allowed, USAGE);

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 3, counts: 'reconnects' },
    { parts: 'reconnect,bundle', trials: '20', missed: '1000', transports: 'websocket,sse' },
  );
  if (!args) return undefined;
  const { own } = args;
  return {
    ...args.common,
    parts: pick('parts', own.parts, ['reconnect', 'bundle'] as const),
    trials: positiveOption('trials', own.trials, true, USAGE),
    missed: positiveOption('missed', own.missed, true, USAGE),
    transports: pick('transports', own.transports, ['websocket', 'sse'] as const),
  };
}

const TRANSPORT_LABEL: Record<TransportName, string> = { websocket: 'WebSocket', sse: 'SSE' };

interface RunResult {
  run: number;
  transport: TransportName;
  trials: Trial[];
}

const timesOf = (trials: readonly Trial[], f: (t: Trial) => number) =>
  trials
    .filter((t) => t.problem === undefined)
    .map(f)
    .sort((a, b) => a - b);

async function measureRun(options: Options, run: number): Promise<RunResult[]> {
  const target = await startClientTarget(options.runtime, Math.max(options.missed, 1000) * 2);
  const results: RunResult[] = [];
  try {
    // Which transport goes first turns with the run.
    const order = run % 2 === 1 ? options.transports : [...options.transports].reverse();
    for (const transport of order) {
      const client = await BenchClient.open(target, transport);
      const result: RunResult = { run, transport, trials: [] };
      try {
        for (let i = 0; i < options.warmup + options.trials; i += 1) {
          const trial = await client.trial(options.missed);
          // A warm-up trial is not timed, but a delivery it got wrong counts like any other.
          if (i >= options.warmup || trial.problem) result.trials.push(trial);
        }
      } finally {
        await client.close();
      }
      const times = timesOf(result.trials, (t) => t.toLastMs);
      const problems = result.trials.filter((t) => t.problem).length;
      process.stderr.write(
        `  run ${run}/${options.runs} ${transport}: p50 ${ms(percentile(times, 50))} ms, ` +
          `p99 ${ms(percentile(times, 99))} ms, problems ${problems}\n`,
      );
      results.push(result);
      await sleep(200);
    }
  } finally {
    await target.close();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface Check {
  result: TargetResult;
  missed: string;
}

interface TransportSummary {
  transport: TransportName;
  trials: Trial[];
  runs: RunResult[];
  check: Check;
}

function summarizeTransport(options: Options, transport: TransportName, runs: RunResult[]): TransportSummary {
  const mine = runs.filter((r) => r.transport === transport);
  const trials = mine.flatMap((r) => r.trials);
  const times = timesOf(trials, (t) => t.toLastMs);
  const problems = trials.filter((t) => t.problem).length;
  const p99 = percentile(times, 99);
  const met = problems === 0 && times.length > 0 && p99 < RECONNECT_TARGET_MS;
  return {
    transport,
    trials,
    runs: mine,
    check: {
      result: {
        target:
          `client reconnect with ${count(options.missed)} missed events, ${TRANSPORT_LABEL[transport]}: ` +
          `p99 < ${RECONNECT_TARGET_MS} ms to the last delivered, no gap or duplicate`,
        measured: `p99 ${ms(p99)} ms, median ${ms(percentile(times, 50))} ms (${times.length} trials), ${problems} with problems`,
        met,
      },
      missed: `${TRANSPORT_LABEL[transport]} reconnect p99 ${ms(p99)} ms, ${problems} with problems`,
    },
  };
}

function reconnectSection(options: Options, summaries: readonly TransportSummary[]): string[] {
  if (!options.parts.includes('reconnect')) return [];
  const rows = summaries.map((s) => {
    const times = timesOf(s.trials, (t) => t.toLastMs);
    const runMedians = s.runs.map((r) => median(timesOf(r.trials, (t) => t.toLastMs)));
    const spread = minMax(runMedians);
    const range = minMax(times);
    return [
      TRANSPORT_LABEL[s.transport],
      String(times.length),
      ms(percentile(times, 50)),
      ms(percentile(times, 99)),
      `${ms(spread.min)}–${ms(spread.max)}`,
      `${ms(range.min)}–${ms(range.max)}`,
      ms(
        percentile(
          timesOf(s.trials, (t) => t.toFirstMs),
          50,
        ),
      ),
      ms(
        percentile(
          timesOf(s.trials, (t) => t.waitMs),
          50,
        ),
      ),
      count(s.trials.reduce((sum, t) => sum + t.duplicatesDropped, 0)),
      String(s.trials.filter((t) => t.problem).length),
      s.check.result.met ? 'yes' : '**no**',
    ];
  });
  return [
    `### Reconnect with ${count(options.missed)} missed events`,
    'Method: the client (`new Switchboard({ auth: "tokens", live: { transport, WebSocket } })` from ' +
      "`packages/client/src`, the `ws` package as its WebSocket, Node's fetch for the rest) signs in as a " +
      `viewer through a TCP proxy in the bench process (\`bench/client/proxy.ts\`) and subscribes to \`${CHANNEL}\`. ` +
      `Each trial cuts the proxy (every connection dropped, new ones refused), waits for the client to notice, ` +
      `publishes ${count(options.missed)} events straight to the server (eight requests in flight), then mends ` +
      'the proxy; the client reconnects by itself (back-off 50–500 ms) and resumes after the last event it ' +
      'delivered. **Time**: from the first request of the reconnect attempt that got through (`POST ' +
      '/api/v1/auth/ws-ticket` on WebSocket, `GET /api/v1/events` on SSE; the ticket, the upgrade or the ' +
      `stream, the \`since\` / \`Last-Event-ID\`, the replay) to the ${count(options.missed)}th missed event ` +
      "handed to the subscriber's `event` callback. Every trial checks that the callback got exactly the " +
      'missed events, each once, in order, with no `reset` or snapshot; the client dropping an event as seen ' +
      'already is counted apart. ' +
      `${options.warmup} untimed trials first, then ${options.trials} timed, per transport and run; ` +
      `${options.runs} run(s), each on a fresh server with a fresh client per transport, the transport going ` +
      'first turning each run. p50 and p99 over every timed trial (nearest rank); **run medians**: the ' +
      'fastest and slowest run median; **first event**: the same start to the first missed event; **wait**: ' +
      'from the proxy mending to the attempt starting (the back-off, not timed).',
    markdownTable(
      [
        'transport',
        'trials',
        'p50 ms',
        'p99 ms',
        'run medians ms',
        'range ms',
        'first event p50 ms',
        'wait p50 ms',
        'duplicates dropped',
        'problems',
        `p99 < ${RECONNECT_TARGET_MS} ms`,
      ],
      rows,
    ),
  ];
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

function bundleCheck(bundle: BundleSize): Check[] {
  return [
    {
      result: {
        target: `client bundle (browser, minified ESM), gzip < ${count(GZIP_TARGET_BYTES)} bytes`,
        measured: `${count(bundle.gzip)} bytes gzip (${count(bundle.raw)} raw, ${count(bundle.brotli)} brotli)`,
        met: bundle.gzip < GZIP_TARGET_BYTES,
      },
      missed: `bundle ${count(bundle.gzip)} bytes gzip`,
    },
  ];
}

function bundleSection(bundle: BundleSize | undefined): string[] {
  if (!bundle) return [];
  const generatedTypes = bundle.inputs.some((i) => i.input.endsWith('generated/openapi.ts'));
  return [
    '### Bundle size',
    `Method: esbuild ${bundle.esbuild} (the bundler Vite runs) bundles \`${CLIENT_ENTRY}\` for the browser ` +
      'into one minified ES module (es2022), openapi-fetch included; gzip at level 9, brotli at quality 11 ' +
      '(`bench/client/bundle.ts`). The generated route types (`generated/openapi.ts`) are ' +
      (generatedTypes
        ? '**in the bundle**: something imports a value from them.'
        : 'types only: they are not among the inputs of the output.') +
      ' `generated/errors.ts` (the error codes, a value) is.',
    markdownTable(
      ['raw', 'gzip', 'brotli', `gzip < ${count(GZIP_TARGET_BYTES)} bytes`],
      [
        [
          `${count(bundle.raw)} bytes`,
          `${count(bundle.gzip)} bytes (${kb(bundle.gzip)})`,
          `${count(bundle.brotli)} bytes`,
          bundle.gzip < GZIP_TARGET_BYTES ? 'yes' : '**no**',
        ],
      ],
    ),
    'Minified bytes by input (before compression):',
    markdownTable(
      ['input', 'bytes'],
      bundle.inputs.filter((i) => i.bytes > 0).map((i) => [`\`${i.input}\``, count(i.bytes)]),
    ),
  ];
}

function perRunTable(runs: readonly RunResult[]): string {
  return markdownTable(
    ['run', 'transport', 'trials', 'p50 ms', 'p99 ms', 'min ms', 'max ms', 'problems'],
    runs.map((r) => {
      const times = timesOf(r.trials, (t) => t.toLastMs);
      const problems = r.trials.filter((t) => t.problem);
      return [
        String(r.run),
        TRANSPORT_LABEL[r.transport],
        String(times.length),
        ms(percentile(times, 50)),
        ms(percentile(times, 99)),
        ms(minMax(times).min),
        ms(minMax(times).max),
        problems.length ? `${problems.length}: ${problems[0]?.problem ?? ''}`.replace(/\|/g, '\\|') : '—',
      ];
    }),
  );
}

function verdict(found: readonly Check[]): string {
  const missed = found.filter((c) => !c.result.met).map((c) => c.missed);
  return missed.length
    ? `**Result:** targets not met: ${missed.join('; ')}.`
    : '**Result:** every target met.';
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('client', options);
  const loadAtStart = loadavg()[0] ?? 0;
  let bundle: BundleSize | undefined;
  if (options.parts.includes('bundle')) {
    bundle = await measureBundle();
    process.stderr.write(
      `  bundle: ${count(bundle.raw)} raw, ${count(bundle.gzip)} gzip, ${count(bundle.brotli)} brotli bytes\n`,
    );
  }
  const runs: RunResult[] = [];
  if (options.parts.includes('reconnect')) {
    for (let r = 1; r <= options.runs; r += 1) runs.push(...(await measureRun(options, r)));
  }
  const loadAfter = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  // Half the cores busy with something else is enough to move figures of a few tens of milliseconds.
  const busy = Math.max(loadAtStart, loadavg()[0] ?? 0) >= bench.conditions.cpus / 2;
  const summaries = options.parts.includes('reconnect')
    ? options.transports.map((t) => summarizeTransport(options, t, runs))
    : [];
  const found = [...summaries.map((s) => s.check), ...(bundle ? bundleCheck(bundle) : [])];
  const problems = runs.flatMap((r) =>
    r.trials.flatMap((t) => (t.problem ? [`run ${r.run} ${r.transport}: ${t.problem}`] : [])),
  );
  const command = bench.command([
    ['parts', options.parts.join(',')],
    ['trials', options.trials],
    ['warmup', options.warmup],
    ['missed', options.missed],
    ['transports', options.transports.join(',')],
  ]);
  const markdown = bench.report({
    title: 'Client reconnect and bundle size',
    question: [
      `How long the official client (\`@switchboard/client\`, packages/client) takes, from the start of its ` +
        `reconnect, to hand its subscriber all of ${count(options.missed)} events it missed while cut off, ` +
        `over WebSocket and over SSE, each once and in order (target: under ${RECONNECT_TARGET_MS} ms end to ` +
        `end, read as p99 < ${RECONNECT_TARGET_MS} ms over every trial with none incomplete), and how big the ` +
        `client is in a browser bundle (target: gzip under 15 KB, read as < ${count(GZIP_TARGET_BYTES)} bytes, ` +
        'the generated types erasing).',
    ],
    trial:
      options.parts.includes('reconnect') && (options.runs < 3 || options.trials < 20)
        ? `${options.runs} run(s) of ${options.trials} trial(s) per transport`
        : undefined,
    paragraphs: [
      `Command: \`${command}\`. Load average at the end: ${loadAfter}` +
        (busy
          ? ` — **the machine was busy** (other work on its ${bench.conditions.cpus} CPUs, one-minute load ` +
            'at or above half of them at the start or the end): the times are those of a loaded machine, ' +
            'higher and more spread than on a quiet one.'
          : '.') +
        (options.parts.includes('reconnect')
          ? ` Switchboard (\`${options.runtime === 'dist' ? 'dist/' : 'src/ with tsx'}\`, log level warn, ` +
            `SQLite in a fresh temporary directory) started by \`bench/replay/server.mjs\` (what \`switchboard ` +
            `serve\` does, plus the stream \`${CHANNEL}\` declared for viewers with a history of ` +
            `${count(Math.max(options.missed, 1000) * 2)} events), rate limiting off; the first admin publishes ` +
            `(\`POST /api/v1/streams/${CHANNEL}/publish\`). Client, proxy and publisher share the bench process, ` +
            'one Node event loop: publishing is over before the timed span starts.'
          : ''),
      ...reconnectSection(options, summaries),
      ...bundleSection(bundle),
      verdict(found),
    ],
    perRun: runs.length ? perRunTable(runs) : '(no reconnect part in this run)',
  });
  return bench.publish(markdown, {
    targets: found.map((c) => c.result),
    failed: problems.length
      ? `${problems.length} problem(s): ${problems.slice(0, 3).join(' | ')}`
      : undefined,
  });
}
