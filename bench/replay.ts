/**
 * bench/replay: how fast a reconnecting client gets what it missed. Replay: one WebSocket or SSE client
 * resuming 1,000 events back, p50/p99 of the time until it holds them all, on the in-process bus and on
 * Redis. Storm: thousands of clients resuming within one second, each checked for gaps and duplicates, and
 * the time until the last is live, with the SQLite connection lock of src/storage/sqlite-fifo.ts and with
 * Kysely's own (before/after). Server in a child process, clients in worker processes.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeChartPng } from './fanout/chart.js';
import {
  type CountedOptions,
  choicesOption,
  listOption,
  parseBenchArgs,
  positiveOption,
  usageText,
} from './lib/options.js';
import { processCpuSeconds } from './lib/proc.js';
import { BENCHMARKS_DOC, benchRun, count, markdownTable, ms, type TargetResult } from './lib/report.js';
import { ROOT } from './lib/server.js';
import { median, minMax, percentile, summarize } from './lib/stats.js';
import { type ClientKind, preciseNow, seqOf } from './replay/protocol.js';
import {
  type Bus,
  CHANNEL,
  type Lock,
  REDIS_URL,
  redisReachable,
  startTarget,
  type Target,
  VIEWERS,
} from './replay/target.js';
import { ClientWorker } from './replay/workers.js';

const CHART = 'docs/bench-replay.png';
const REPLAY_TARGET_MS = 100;
/** Untimed trials before the timed ones: the first connections run code for the first time. */
const REPLAY_WARMUP = 2;
/** Live events published during a storm, one every this many ms, to check the replay/live boundary. */
const LIVE_EVERY_MS = 250;

const USAGE = usageText('replay', {
  width: 22,
  options: [
    ['--parts LIST', 'replay,storm (default both)'],
    ['--runs N', 'storm rounds, each every count × transport × lock (default 3)'],
    ['--trials N', 'timed replays per transport and bus (default 20)'],
    ['--missed N', 'events a replaying client missed (default 1000)'],
    ['--clients LIST', 'storm sizes (default 1000,2500,5000)'],
    ['--storm-missed N', 'events each storm client missed (default 50)'],
    ['--spread MS', 'storm clients start evenly over this window (default 1000)'],
    ['--transports LIST', 'ws,sse (default both)'],
    ['--buses LIST', 'replay on memory,redis (default both; Redis at redis://127.0.0.1:6379)'],
    ['--locks LIST', 'storm with fifo,kysely SQLite connection locks (default both)'],
    ['--workers N', 'client worker processes (default 2)'],
  ],
  noDocs: `print only; do not update ${BENCHMARKS_DOC} and ${CHART}`,
});

interface Options extends CountedOptions {
  parts: ('replay' | 'storm')[];
  trials: number;
  missed: number;
  clients: number[];
  stormMissed: number;
  spreadMs: number;
  transports: ClientKind[];
  buses: Bus[];
  locks: Lock[];
  workers: number;
}

const pick = <T extends string>(name: string, raw: string, allowed: readonly T[]): T[] =>
  choicesOption(name, raw, allowed, USAGE);

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 3, counts: 'trials' },
    {
      parts: 'replay,storm',
      trials: '20',
      missed: '1000',
      clients: '1000,2500,5000',
      'storm-missed': '50',
      spread: '1000',
      transports: 'ws,sse',
      buses: 'memory,redis',
      locks: 'fifo,kysely',
      workers: '2',
    },
  );
  if (!args) return undefined;
  const { own } = args;
  return {
    ...args.common,
    parts: pick('parts', own.parts, ['replay', 'storm'] as const),
    trials: positiveOption('trials', own.trials, true, USAGE),
    missed: positiveOption('missed', own.missed, true, USAGE),
    clients: listOption('clients', own.clients, USAGE).map((n) => positiveOption('clients', n, true, USAGE)),
    stormMissed: positiveOption('storm-missed', own['storm-missed'], true, USAGE),
    spreadMs: positiveOption('spread', own.spread, false, USAGE),
    transports: pick('transports', own.transports, ['ws', 'sse'] as const),
    buses: pick('buses', own.buses, ['memory', 'redis'] as const),
    locks: pick('locks', own.locks, ['fifo', 'kysely'] as const),
    workers: positiveOption('workers', own.workers, true, USAGE),
  };
}

/** The soft limit on open files of this process (the workers and the server inherit it); NaN off Linux. */
function openFilesLimit(): number {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match?.[1]);
  } catch {
    return Number.NaN;
  }
}

const TRANSPORT_LABEL: Record<ClientKind, string> = { ws: 'WebSocket', sse: 'SSE' };
const LOCK_LABEL: Record<Lock, string> = { fifo: 'FIFO lock (after)', kysely: "Kysely's lock (before)" };

// ---------------------------------------------------------------------------------------------------------
// Replay

interface ReplayResult {
  bus: Bus;
  kind: ClientKind;
  times: number[];
  /** Trials whose client did not hold every missed event exactly once. */
  incomplete: number;
  samples: string[];
}

async function publishMany(target: Target, n: number, from: number): Promise<string> {
  let last = '';
  // Eight in flight: ids are given in the order the server takes them, whatever the order of answers.
  for (let i = 0; i < n; i += 8) {
    const batch = Array.from({ length: Math.min(8, n - i) }, (_, k) => target.publish({ n: from + i + k }));
    for (const id of await Promise.all(batch)) if (seqOf(id) > seqOf(last) || last === '') last = id;
  }
  return last;
}

async function measureReplay(options: Options, bus: Bus, workers: ClientWorker[]): Promise<ReplayResult[]> {
  const target = await startTarget(options.runtime, bus, 'fifo', Math.max(options.missed, 1000) * 2);
  const results: ReplayResult[] = [];
  try {
    const since = await target.publish({ n: 0 });
    const last = await publishMany(target, options.missed, 1);
    const lastSeq = seqOf(last);
    if (lastSeq !== seqOf(since) + options.missed) throw new Error(`published up to ${last} after ${since}`);
    const worker = workers[0] as ClientWorker;
    for (const kind of options.transports) {
      const result: ReplayResult = { bus, kind, times: [], incomplete: 0, samples: [] };
      for (let trial = 0; trial < REPLAY_WARMUP + options.trials; trial += 1) {
        const answer = await worker.ask(
          {
            type: 'reconnect',
            kind,
            origin: target.server.origin,
            channel: CHANNEL,
            tokens: [target.tokens[trial % target.tokens.length] as string],
            count: 1,
            since,
            caughtUpSeq: lastSeq,
            startAt: preciseNow(),
            spreadMs: 0,
          },
          'reconnected',
          90_000,
        );
        const verified = await worker.ask({ type: 'verify', lastSeq }, 'verified', 10_000);
        worker.tell({ type: 'drop' });
        if (trial < REPLAY_WARMUP) continue;
        if (answer.failed || verified.complete !== 1) {
          result.incomplete += 1;
          result.samples.push(...answer.failures, ...verified.samples);
        } else result.times.push(answer.toLive[0] as number);
        // The server forgets the closed connection before the next one arrives.
        await sleep(20);
      }
      process.stderr.write(
        `  replay ${bus} ${kind}: p50 ${ms(percentile(sortedOf(result.times), 50))} ms, ` +
          `p99 ${ms(percentile(sortedOf(result.times), 99))} ms, incomplete ${result.incomplete}\n`,
      );
      results.push(result);
    }
  } finally {
    await target.stop();
  }
  return results;
}

const sortedOf = (values: readonly number[]) => [...values].sort((a, b) => a - b);

// ---------------------------------------------------------------------------------------------------------
// Storm

interface StormResult {
  round: number;
  kind: ClientKind;
  lock: Lock;
  clients: number;
  /** From the first client's start to the last client live, ms. */
  lastLiveMs: number;
  /** Per client, from its own start to live. */
  toLive: { p50: number; p99: number; max: number };
  live: number;
  complete: number;
  gaps: number;
  duplicates: number;
  resets: number;
  dropped: number;
  failures: string[];
  /** Server CPU seconds over the storm, per client, µs. */
  serverCpuUsPerClient: number;
}

async function measureStorm(
  options: Options,
  round: number,
  kind: ClientKind,
  lock: Lock,
  clients: number,
  workers: ClientWorker[],
): Promise<StormResult> {
  const target = await startTarget(options.runtime, 'memory', lock, 10_000);
  try {
    const since = await target.publish({ n: 0 });
    const caughtUpSeq = seqOf(await publishMany(target, options.stormMissed, 1));
    const startAt = preciseNow() + 300;
    const cpuBefore = processCpuSeconds(target.server.child.pid);
    let publishing = true;
    let published = 0;
    const livePublisher = (async () => {
      while (publishing) {
        await sleep(LIVE_EVERY_MS);
        if (publishing) await target.publish({ live: (published += 1) });
      }
    })();
    const shares = workers.map(
      (_, w) => Math.floor(clients / workers.length) + (w < clients % workers.length ? 1 : 0),
    );
    const answers = await Promise.all(
      workers.map((worker, w) => {
        return worker.ask(
          {
            type: 'reconnect',
            kind,
            origin: target.server.origin,
            channel: CHANNEL,
            tokens: target.tokens,
            count: shares[w] as number,
            since,
            caughtUpSeq,
            // The workers' clients interleave over the same window, one slot apart.
            startAt: startAt + (options.spreadMs * w) / clients,
            spreadMs: options.spreadMs,
          },
          'reconnected',
          180_000,
        );
      }),
    );
    const cpu = processCpuSeconds(target.server.child.pid) - cpuBefore;
    publishing = false;
    await livePublisher;
    const lastSeq = seqOf(await target.publish({ final: true }));
    // Every client holds the final event once it has arrived everywhere; checked until then, or 10 s.
    let verified = await Promise.all(
      workers.map((w) => w.ask({ type: 'verify', lastSeq }, 'verified', 30_000)),
    );
    const live = answers.reduce((sum, a) => sum + a.live, 0);
    for (let waited = 0; waited < 10_000; waited += 250) {
      if (verified.reduce((sum, v) => sum + v.complete, 0) >= live) break;
      await sleep(250);
      verified = await Promise.all(
        workers.map((w) => w.ask({ type: 'verify', lastSeq }, 'verified', 30_000)),
      );
    }
    for (const worker of workers) worker.tell({ type: 'drop' });
    const all = answers.flatMap((a) => [...a.toLive].filter((t) => !Number.isNaN(t)));
    const summary = summarize(all);
    const sum = (f: (v: (typeof verified)[number]) => number) => verified.reduce((s, v) => s + f(v), 0);
    const lastLiveAt = Math.max(...answers.map((a) => (Number.isNaN(a.lastLiveAt) ? 0 : a.lastLiveAt)));
    return {
      round,
      kind,
      lock,
      clients,
      lastLiveMs: live === clients ? lastLiveAt - startAt : Number.POSITIVE_INFINITY,
      toLive: { p50: summary.p50, p99: summary.p99, max: summary.max },
      live,
      complete: sum((v) => v.complete),
      gaps: sum((v) => v.gaps),
      duplicates: sum((v) => v.duplicates),
      resets: sum((v) => v.resets),
      dropped: sum((v) => v.dropped),
      failures: [...answers.flatMap((a) => a.failures), ...verified.flatMap((v) => v.samples)].slice(0, 5),
      serverCpuUsPerClient: (cpu * 1e6) / clients,
    };
  } finally {
    await target.stop();
  }
}

const stormProblems = (r: StormResult): string[] => [
  ...(r.live < r.clients ? [`${r.clients - r.live} never live (${r.failures.join('; ')})`] : []),
  ...(r.complete < r.clients ? [`${r.clients - r.complete} incomplete (${r.failures.join('; ')})`] : []),
  ...(r.duplicates ? [`${r.duplicates} with duplicates`] : []),
  ...(r.gaps ? [`${r.gaps} with gaps`] : []),
  ...(r.resets ? [`${r.resets} reset`] : []),
];

// ---------------------------------------------------------------------------------------------------------
// Report

/** A verdict of the report: the target as the summary lists it, and how the Result names it when missed. */
interface Check {
  result: TargetResult;
  missed: string;
}

const BUS_LABEL: Record<Bus, string> = { memory: 'in-process', redis: 'Redis' };

type ReplayCheck = Check & { replay: ReplayResult; p99: number };

/** A replay's target: p99 within REPLAY_TARGET_MS, every trial complete. */
function replayCheck(options: Options, r: ReplayResult): ReplayCheck {
  const p99 = percentile(sortedOf(r.times), 99);
  const met = r.incomplete === 0 && p99 <= REPLAY_TARGET_MS;
  return {
    replay: r,
    p99,
    result: {
      target:
        `replay of ${count(options.missed)} missed events, ${BUS_LABEL[r.bus]} bus, ${TRANSPORT_LABEL[r.kind]}: ` +
        `p99 ≤ ${REPLAY_TARGET_MS} ms, every trial complete`,
      measured: `p99 ${ms(p99)} ms, ${r.incomplete} incomplete`,
      met,
    },
    missed: `replay ${r.bus} ${TRANSPORT_LABEL[r.kind]} p99 ${ms(p99)} ms`,
  };
}

function replaySection(options: Options, results: readonly ReplayCheck[], redisSkipped: boolean): string[] {
  if (!options.parts.includes('replay')) return [];
  const rows = results.map((check) => {
    const r = check.replay;
    const sorted = sortedOf(r.times);
    return [
      BUS_LABEL[r.bus],
      TRANSPORT_LABEL[r.kind],
      String(r.times.length),
      ms(percentile(sorted, 50)),
      ms(check.p99),
      `${ms(minMax(r.times).min)}–${ms(minMax(r.times).max)}`,
      String(r.incomplete),
      check.result.met ? 'yes' : '**no**',
    ];
  });
  return [
    `### Replay of ${count(options.missed)} missed events`,
    `Method: one client at a time reconnects (a new TCP connection; WebSocket: bearer on the upgrade, then ` +
      '`subscribe` with `since`; SSE: bearer and `Last-Event-ID`) with the id of the event just before ' +
      `${count(options.missed)} others; the time runs from the client starting its connection to it holding the ` +
      `last of them, each checked once and in order. ${REPLAY_WARMUP} untimed trials first, then ` +
      `${options.trials} timed, per transport; p99 is the nearest rank (with 20 trials, the slowest).` +
      (redisSkipped ? ` Redis was not reachable at ${REDIS_URL}: its part was skipped.` : ''),
    markdownTable(
      [
        'bus',
        'transport',
        'trials',
        'p50 ms',
        'p99 ms',
        'range ms',
        'incomplete',
        `p99 ≤ ${REPLAY_TARGET_MS} ms`,
      ],
      rows,
    ),
  ];
}

interface Cell {
  kind: ClientKind;
  lock: Lock;
  clients: number;
  runs: StormResult[];
}

function cellsOf(options: Options, storms: StormResult[]): Cell[] {
  return options.transports.flatMap((kind) =>
    options.locks.flatMap((lock) =>
      options.clients.map((clients) => ({
        kind,
        lock,
        clients,
        runs: storms.filter((s) => s.kind === kind && s.lock === lock && s.clients === clients),
      })),
    ),
  );
}

const medianOf = (cell: Cell, f: (r: StormResult) => number) => median(cell.runs.map(f));

/** A storm's last-live time (median) and its growth from the smallest client count, same transport and lock. */
function growthOf(cells: readonly Cell[], cell: Cell, smallest: number) {
  const lastLive = medianOf(cell, (r) => r.lastLiveMs);
  const base = cells.find((c) => c.kind === cell.kind && c.lock === cell.lock && c.clients === smallest);
  return { lastLive, growth: base ? lastLive / medianOf(base, (r) => r.lastLiveMs) : Number.NaN };
}

function stormSection(options: Options, storms: StormResult[]): string[] {
  if (!options.parts.includes('storm')) return [];
  const cells = cellsOf(options, storms);
  const smallest = Math.min(...options.clients);
  const rows = cells.map((cell) => {
    const { lastLive, growth } = growthOf(cells, cell, smallest);
    const spread = minMax(cell.runs.map((r) => r.lastLiveMs));
    return [
      TRANSPORT_LABEL[cell.kind],
      LOCK_LABEL[cell.lock],
      count(cell.clients),
      ms(lastLive),
      `${ms(spread.min)}–${ms(spread.max)}`,
      `${(growth || 0).toFixed(2)} (clients ×${(cell.clients / smallest).toFixed(1)})`,
      ms(medianOf(cell, (r) => r.toLive.p50)),
      ms(medianOf(cell, (r) => r.toLive.p99)),
      Math.round(medianOf(cell, (r) => r.serverCpuUsPerClient)).toLocaleString('en-US'),
      count(cell.runs.reduce((s, r) => s + r.complete, 0)),
      count(cell.runs.reduce((s, r) => s + r.gaps + r.duplicates + r.resets, 0)),
    ];
  });
  return [
    'Range: the fastest and the slowest round.',
    markdownTable(
      [
        'transport',
        'SQLite lock',
        'clients',
        'last live ms',
        'range ms',
        `growth vs ${count(smallest)}`,
        'client p50 ms',
        'client p99 ms',
        'server CPU µs / client',
        'complete (all runs)',
        'gap/dup/reset',
      ],
      rows,
    ),
  ];
}

function perRunTable(storms: StormResult[]): string {
  return markdownTable(
    [
      'round',
      'transport',
      'lock',
      'clients',
      'last live ms',
      'client p50 ms',
      'client p99 ms',
      'live',
      'complete',
      'problems',
    ],
    storms.map((r) => [
      String(r.round),
      TRANSPORT_LABEL[r.kind],
      r.lock,
      count(r.clients),
      ms(r.lastLiveMs),
      ms(r.toLive.p50),
      ms(r.toLive.p99),
      count(r.live),
      count(r.complete),
      stormProblems(r).join('; ').replace(/\|/g, '\\|') || '—',
    ]),
  );
}

/** The targets: replay p99 within REPLAY_TARGET_MS, and storm times growing no faster than the client count. */
function checks(
  options: Options,
  replays: ReplayResult[],
  storms: StormResult[],
): { replay: ReplayCheck[]; storm: Check[] } {
  const storm: Check[] = [];
  const cells = cellsOf(options, storms).filter((c) => c.lock === 'fifo' && c.runs.length > 0);
  const smallest = Math.min(...options.clients);
  for (const cell of cells) {
    const base = cells.find((c) => c.kind === cell.kind && c.clients === smallest);
    if (!base || cell === base) continue;
    const { lastLive, growth } = growthOf(cells, cell, smallest);
    const clients = cell.clients / smallest;
    storm.push({
      result: {
        target:
          `reconnect storm, ${TRANSPORT_LABEL[cell.kind]}, ${count(cell.clients)} clients, FIFO lock: ` +
          `the time until the last is live grows no faster than the clients from ${count(smallest)}`,
        measured: `last live ${ms(lastLive)} ms, ${growth.toFixed(2)} × that at ${count(smallest)} (clients ×${clients.toFixed(1)})`,
        met: growth <= clients,
      },
      missed: `${TRANSPORT_LABEL[cell.kind]} storm ×${growth.toFixed(2)} from ${count(smallest)} to ${count(cell.clients)}`,
    });
  }
  return { replay: replays.map((r) => replayCheck(options, r)), storm };
}

function verdict(found: readonly Check[]): string {
  const missed = found.filter((c) => !c.result.met).map((c) => c.missed);
  return missed.length
    ? `**Result:** targets not met: ${missed.join('; ')}.`
    : '**Result:** every replay within its target and every storm time growing no faster than the client count.';
}

const COLORS: Record<Lock, string> = { kysely: '#d55e00', fifo: '#0072b2' };

function drawChart(options: Options, storms: StormResult[], subtitle: string): boolean {
  if (!options.parts.includes('storm') || storms.length === 0) return false;
  const cells = cellsOf(options, storms);
  writeChartPng(
    {
      title: 'Reconnect storm: time until the last client is live',
      subtitle,
      groups: options.clients.map((n) => `${count(n)} clients`),
      panels: options.transports.map((kind) => ({
        title: `${TRANSPORT_LABEL[kind]}, ms (lower is better)`,
        format: (v: number) => (v === 0 ? '0' : ms(v)),
        series: options.locks.map((lock) => ({
          label: LOCK_LABEL[lock],
          color: COLORS[lock],
          values: options.clients.map((n) => {
            const cell = cells.find((c) => c.kind === kind && c.lock === lock && c.clients === n);
            return cell ? medianOf(cell, (r) => r.lastLiveMs) : Number.NaN;
          }),
        })),
      })),
    },
    `${ROOT}/${CHART}`,
  );
  return true;
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('replay', options);
  const openFiles = openFilesLimit();
  const largest = options.parts.includes('storm') ? Math.max(...options.clients) : 1;
  // The server holds every client's socket; each worker its share. Node cannot raise its own limit.
  if (openFiles < largest + 1024) {
    throw new Error(
      `the open-files limit is ${openFiles}, too low for ${largest} clients: raise it (ulimit -n ${largest + 1024}) or pass --clients`,
    );
  }
  const workers = Array.from({ length: options.workers }, () => ClientWorker.start());
  const replays: ReplayResult[] = [];
  const storms: StormResult[] = [];
  const trouble: string[] = [];
  let redisSkipped = false;
  try {
    if (options.parts.includes('replay')) {
      for (const bus of options.buses) {
        if (bus === 'redis' && !(await redisReachable())) {
          redisSkipped = true;
          process.stderr.write(`bench replay: Redis is not reachable at ${REDIS_URL}; its part is skipped\n`);
          continue;
        }
        const results = await measureReplay(options, bus, workers);
        replays.push(...results);
        for (const r of results)
          if (r.incomplete) trouble.push(`replay ${bus} ${r.kind}: ${r.samples.slice(0, 2).join('; ')}`);
      }
    }
    if (options.parts.includes('storm')) {
      for (let round = 1; round <= options.runs; round += 1) {
        for (const clients of options.clients) {
          for (const kind of options.transports) {
            // Before and after alternate, and which goes first turns with the round.
            const locks = round % 2 === 1 ? options.locks : [...options.locks].reverse();
            for (const lock of locks) {
              const r = await measureStorm(options, round, kind, lock, clients, workers);
              storms.push(r);
              const issues = stormProblems(r);
              trouble.push(...issues.map((p) => `round ${round}, ${kind} ${lock} × ${clients}: ${p}`));
              process.stderr.write(
                `  storm ${round}/${options.runs} ${kind} ${lock} × ${count(clients)}: last live ${ms(r.lastLiveMs)} ms, ` +
                  `client p50 ${ms(r.toLive.p50)} ms p99 ${ms(r.toLive.p99)} ms, complete ${count(r.complete)}, ` +
                  `server CPU ${Math.round(r.serverCpuUsPerClient)} µs/client${issues.length ? `; PROBLEM: ${issues.join('; ')}` : ''}\n`,
              );
              await sleep(500);
            }
          }
        }
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  const conditions = bench.conditions;
  const subtitle =
    `medians of ${options.runs} round(s), clients started over ${options.spreadMs} ms; ${conditions.cpus} CPUs, ` +
    `Node ${conditions.node}, commit ${conditions.commit}, ${conditions.date}`;
  const writeDocs = options.docs && trouble.length === 0;
  const chartWritten = writeDocs && drawChart(options, storms, subtitle);
  const command = bench.command([
    ['parts', options.parts.join(',')],
    ['trials', options.trials],
    ['missed', options.missed],
    ['clients', options.clients.join(',')],
    ['storm-missed', options.stormMissed],
    ['spread', options.spreadMs],
    ['transports', options.transports.join(',')],
    ['buses', options.buses.join(',')],
    ['locks', options.locks.join(',')],
    ['workers', options.workers],
  ]);
  const { replay, storm } = checks(options, replays, storms);
  const found = [...replay, ...storm];
  const markdown = bench.report({
    title: 'Replay and reconnect storms',
    question: [
      `How long a client that reconnects with the id of ${count(options.missed)} missed events waits for them ` +
        `(target: p99 ≤ ${REPLAY_TARGET_MS} ms over ${options.trials} trials, WebSocket and SSE, in-process bus and ` +
        'Redis), and how long until the last of thousands of clients reconnecting within one second is live, ' +
        'each with no gap and no duplicate (target: growing no faster than the number of clients), with the ' +
        'SQLite connection lock that serves waiters first come, first served (src/storage/sqlite-fifo.ts) and ' +
        "with Kysely's own, which wakes every waiter on each release.",
    ],
    trial:
      options.runs < 3 || options.trials < 20
        ? `${options.runs} storm round(s), ${options.trials} replay trial(s)`
        : undefined,
    paragraphs: [
      `Command: \`${command}\`. Switchboard (\`${options.runtime === 'dist' ? 'dist/' : 'src/ with tsx'}\`, log ` +
        'level warn, SQLite) started fresh for every measurement by `bench/replay/server.mjs`, which does what ' +
        `\`switchboard serve\` does and declares the stream \`${CHANNEL}\` for viewers; per-user WebSocket and SSE ` +
        'caps 10,000, rate-limit tiers 100,000,000 a minute, `streams.publish` off. The first admin publishes ' +
        `(\`POST /api/v1/streams/${CHANNEL}/publish\`). Clients use the bearer tokens of ${VIEWERS} viewers in ` +
        `turn, one session each, and run in ${options.workers} worker process(es) (\`bench/replay/clients.ts\`, ` +
        '`ws` without compression, SSE read by hand on a bare TCP socket). Open-files limit of the bench and ' +
        `its children: ${openFiles} (the server holds one per client).`,
      ...replaySection(options, replay, redisSkipped),
      options.parts.includes('storm') &&
        `### Reconnect storm\nMethod: on the in-process bus, ${count(options.stormMissed)} events are published ` +
          'after the id every client resumes from; then the clients start evenly over ' +
          `${options.spreadMs} ms, the workers' interleaved, while the bench publishes a live event every ` +
          `${LIVE_EVERY_MS} ms. A client is live once it is confirmed (WebSocket: \`subscribed\` with ` +
          '`recovered: true`; SSE: the 200) and holds every event it missed. **Last live**: from the first ' +
          'client starting to the last being live. Once all are live a final event is published, and every ' +
          'client must then hold each event after its id exactly once, in order, without a `reset` ' +
          '("complete"). **Growth**: last live at that count over last live at the smallest, beside the ratio ' +
          'of the counts (linear or better when not above it). Server CPU: /proc, over the storm, per client. ' +
          `Medians over ${options.runs} round(s), before and after alternating, the first turning each round. ` +
          "Only the SQLite lock differs between before and after (bench/replay/server.mjs puts back Kysely's).",
      ...stormSection(options, storms),
      chartWritten && `![reconnect storm: time until the last client is live](${CHART.replace('docs/', '')})`,
      verdict(found),
    ],
    perRun: perRunTable(storms),
  });
  return bench.publish(markdown, {
    targets: found.map((c) => c.result),
    failed: trouble.length ? `${trouble.length} problem(s): ${trouble.slice(0, 3).join(' | ')}` : undefined,
    alsoWrote: chartWritten ? CHART : undefined,
  });
}
