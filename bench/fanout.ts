/**
 * bench/fanout: how do Switchboard's WebSocket and SSE deliver one channel to many subscribers, against a
 * bare `ws` broadcast server and a Socket.IO server? Each server, in a child process of its own and one at a
 * time, gets N subscribers of one channel and a small JSON event published 10 times a second; we measure
 * deliveries per second, delivery latency (receive time − the publisher's `sent_at`, same machine, same
 * clock) and server memory per idle connection. Targets: deliveries at least 0.9 of bare ws, p99 at most
 * 1.3 times bare ws, at most 20 KB of server memory per idle connection.
 * Run with `npm run bench -- fanout [options]`.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeChartPng } from './fanout/chart.js';
import {
  CONNECT_CONCURRENCY,
  connectSubscribers,
  DRAIN_MS,
  publishAndCollect,
  type Tally,
  tally,
} from './fanout/deliveries.js';
import { preciseNow } from './fanout/protocol.js';
import {
  CHANNEL,
  SERVER_IDS,
  SERVER_LABELS,
  type ServerId,
  startTarget,
  type Target,
} from './fanout/servers.js';
import { SubscriberWorker } from './fanout/workers.js';
import { openLoop } from './lib/load.js';
import { listOption, parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import { coresUsed, machineCpuSeconds, processCpuSeconds, residentKiB } from './lib/proc.js';
import {
  BENCHMARKS_DOC,
  type BenchRun,
  benchRun,
  cores,
  count,
  type MachineConditions,
  markdownTable,
  ms,
  type TargetResult,
} from './lib/report.js';
import { ROOT } from './lib/server.js';
import { type LatencySummary, median, minMax, summarize } from './lib/stats.js';

const USAGE = usageText('fanout', {
  width: 20,
  options: [
    [
      '--runs N',
      'rounds; each measures every server at every subscriber count, each on a fresh\nserver process (default 3)',
    ],
    ['--duration S', 'measured seconds of publishing per measurement (default 10)'],
    ['--warmup S', 'seconds of publishing before each measurement, not measured (default 3)'],
    ['--subscribers LIST', 'subscriber counts, comma-separated (default 1000,5000)'],
    ['--rate N', 'events published per second (default 10)'],
    [
      '--servers LIST',
      `which servers, comma-separated, from ${SERVER_IDS.join(', ')} (default all;\n${BENCHMARKS_DOC} is written only when all are measured)`,
    ],
    ['--workers N', 'subscriber worker processes sharing the connections (default 1)'],
  ],
  source: "run Switchboard's src/ with tsx instead of building and running dist/",
  noDocs: `print only; do not update ${BENCHMARKS_DOC} and docs/bench-fanout.png`,
});

const TARGETS = { deliveries: 0.9, p99: 1.3, memoryKB: 20 } as const;
const CHART = 'docs/bench-fanout.png';
/**
 * How long the subscribers stay connected and idle before the memory is read, the server's CPU measured
 * meanwhile: long enough for two rounds of whatever a server does periodically per connection (Switchboard
 * re-reads sessions every 5 s by default).
 */
const IDLE_MS = 10_000;
/** Readings in a row that must agree before the memory counts as settled. */
const STABLE_READINGS = 6;

interface Options extends TimedOptions {
  subscribers: number[];
  rate: number;
  servers: ServerId[];
  workers: number;
}

interface Measurement extends Tally {
  server: ServerId;
  subscribers: number;
  /** Subscribers that connected and confirmed their subscription. */
  ready: number;
  connectFailures: string[];
  connectS: number;
  events: number;
  /** Server memory per idle connection, KB (1,000 bytes): (RSS with N idle subscribers − RSS before) / N. */
  memoryKB: number;
  /** The same from the server's own account of its JavaScript heap plus external memory, KB. */
  heldKB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Cores the server used while every subscriber was connected and idle. */
  idleServerCpu: number;
  /** Server CPU per delivery over the window, µs. */
  serverCpuUs: number;
  /** Cores the subscriber workers used over the window. */
  workerCpu: number;
  /** Cores nobody used over the window (/proc/stat). */
  idleCpu: number;
  workerLoopP99: number;
  publish: LatencySummary;
  publishFailed: number;
  publishFailures: string[];
  dropped: Record<string, number>;
  unexpected: number;
  unexpectedSamples: string[];
}

interface Round {
  order: ServerId[];
  results: Measurement[];
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 3, duration: 10 },
    { subscribers: '1000,5000', rate: '10', servers: SERVER_IDS.join(','), workers: '1' },
  );
  if (!args) return undefined;
  const servers = listOption('servers', args.own.servers, USAGE);
  const unknown = servers.filter((s) => !(SERVER_IDS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`--servers: unknown ${unknown.join(', ')}\n\n${USAGE}`);
  const subscribers = listOption('subscribers', args.own.subscribers, USAGE).map((n) =>
    positiveOption('subscribers', n, true, USAGE),
  );
  if (subscribers.some((n) => n > 10_000)) {
    throw new Error(`--subscribers: at most 10000 (Switchboard's per-user connection cap)\n\n${USAGE}`);
  }
  return {
    ...args.common,
    subscribers: [...new Set(subscribers)].sort((a, b) => a - b),
    rate: positiveOption('rate', args.own.rate, false, USAGE),
    servers: SERVER_IDS.filter((id) => servers.includes(id)),
    workers: positiveOption('workers', args.own.workers, true, USAGE),
  };
}

/**
 * Has the server collect its garbage, waits for it to say so (its event loop may be busy), then reads its
 * resident memory (KiB, /proc) and what it holds on the JavaScript heap and outside it (bytes, its
 * process.memoryUsage(); NaN when it did not answer within 20 s).
 */
interface Memory {
  rssKiB: number;
  /** heapUsed + external, bytes. */
  heldBytes: number;
  heapTotal: number;
}

async function settledMemory(target: Target): Promise<Memory> {
  const stderr = target.server.child.stderr;
  let heldBytes = Number.NaN;
  let heapTotal = Number.NaN;
  let listener: ((chunk: Buffer) => void) | undefined;
  const said = new Promise<void>((resolve) => {
    let text = '';
    listener = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /^bench-memory (\{.*\})$/m.exec(text);
      if (!match?.[1]) return;
      const usage = JSON.parse(match[1]) as { heapTotal: number; heapUsed: number; external: number };
      heldBytes = usage.heapUsed + usage.external;
      heapTotal = usage.heapTotal;
      resolve();
    };
    stderr?.on('data', listener);
  });
  target.server.child.kill('SIGUSR2');
  await Promise.race([said, sleep(20_000)]);
  if (listener) stderr?.off('data', listener);
  await sleep(200);
  return { rssKiB: residentKiB(target.server.child.pid), heldBytes, heapTotal };
}

/**
 * settledMemory every second until the heap has kept its size (and the RSS within 1%) for STABLE_READINGS
 * readings in a row, at most 25 readings. V8 shrinks a heap in steps, the last some seconds after the forced
 * collections begin (its memory reducer), so two agreeing readings are not enough.
 */
async function stableMemory(target: Target): Promise<Memory> {
  let last = await settledMemory(target);
  let steady = 0;
  for (let i = 0; i < 24 && steady < STABLE_READINGS; i += 1) {
    await sleep(1000);
    const next = await settledMemory(target);
    const same =
      next.heapTotal === last.heapTotal &&
      Math.abs(next.rssKiB - last.rssKiB) <= Math.max(512, last.rssKiB * 0.01);
    steady = same ? steady + 1 : 0;
    last = next;
  }
  return last;
}

/** Opens `count` more subscribers of the bench's channel on `target`, shared among the workers. */
const connectAll = (workers: SubscriberWorker[], target: Target, count: number, events: number) =>
  connectSubscribers(
    workers,
    { kind: target.kind, origin: target.server.origin, channel: CHANNEL, token: target.token, events },
    count,
  );

/** One server at one subscriber count, on a fresh server process. */
async function measure(options: Options, id: ServerId, subscribers: number): Promise<Measurement> {
  const target = await startTarget(id, options.runtime);
  const workers: SubscriberWorker[] = [];
  try {
    const events = Math.floor(options.durationS * options.rate);
    // A primer (seq 0, not measured): Switchboard's subscribers then get it as their snapshot.
    if (!(await target.publish({ seq: 0, sent_at: preciseNow() }))) {
      throw new Error(`${id}: the primer publish was refused`);
    }
    const before = await stableMemory(target);

    for (let i = 0; i < options.workers; i += 1) workers.push(SubscriberWorker.start());
    const connected = await connectAll(workers, target, subscribers, events);
    const connectS = connected.seconds;
    const ready = connected.ready;
    const connectFailures = connected.failures;
    // Idle: connected, subscribed, nothing published. Long enough for one round of whatever the server
    // does periodically per connection (Switchboard re-reads sessions every 5 s by default).
    const idleServerCpu = await coresUsed(target.server.child.pid, IDLE_MS);
    const after = await stableMemory(target);

    const warmupFailures: string[] = [];
    if (options.warmupS > 0) {
      const warmup = await openLoop({
        ratePerSecond: options.rate,
        durationMs: options.warmupS * 1000,
        request: () => target.publish({ seq: 0, sent_at: preciseNow() }),
      });
      warmupFailures.push(...warmup.failures.map((f) => `warm-up: ${f}`));
    }

    for (const worker of workers) worker.tell({ type: 'start' });
    const serverCpuBefore = processCpuSeconds(target.server.child.pid);
    const workerCpuBefore = workers.map((w) => processCpuSeconds(w.pid));
    const machineBefore = machineCpuSeconds();
    const {
      publishing,
      collected,
      firstSentAt,
      spanS: span,
    } = await publishAndCollect(
      workers,
      { rate: options.rate, durationS: options.durationS, expected: ready * events },
      (seq) => target.publish({ seq, sent_at: preciseNow() }),
    );
    const serverCpu = processCpuSeconds(target.server.child.pid) - serverCpuBefore;
    const workerCpu = workers.reduce(
      (sum, w, i) => sum + processCpuSeconds(w.pid) - (workerCpuBefore[i] ?? 0),
      0,
    );
    const machine = machineCpuSeconds() - machineBefore;

    const { delivered, duplicates, missing, rate, latency } = tally(collected, {
      subscribers,
      ready,
      events,
      durationS: options.durationS,
      firstSentAt,
    });
    const dropped: Record<string, number> = {};
    for (const c of collected) {
      for (const [reason, n] of Object.entries(c.dropped)) dropped[reason] = (dropped[reason] ?? 0) + n;
    }
    if (target.server.child.exitCode !== null) {
      throw new Error(`${id}: the server exited:\n${target.server.output()}`);
    }
    return {
      server: id,
      subscribers,
      ready,
      connectFailures,
      connectS,
      events,
      delivered,
      missing,
      duplicates,
      rate,
      latency,
      memoryKB: ready ? ((after.rssKiB - before.rssKiB) * 1024) / 1000 / ready : Number.NaN,
      heldKB: ready ? (after.heldBytes - before.heldBytes) / 1000 / ready : Number.NaN,
      rssBeforeMiB: before.rssKiB / 1024,
      rssAfterMiB: after.rssKiB / 1024,
      idleServerCpu,
      serverCpuUs: delivered ? (serverCpu * 1e6) / delivered : Number.NaN,
      workerCpu: workerCpu / span,
      idleCpu: Math.max(0, availableParallelism() - machine / span),
      workerLoopP99: Math.max(...collected.map((c) => c.loopDelay.p99)),
      publish: summarize(publishing.samples.filter((s) => s.ok).map((s) => s.latencyMs)),
      publishFailed: publishing.samples.filter((s) => !s.ok).length + publishing.unfinished,
      publishFailures: [...warmupFailures, ...publishing.failures].slice(0, 3),
      dropped,
      unexpected: collected.reduce((sum, c) => sum + c.unexpected, 0),
      unexpectedSamples: collected.flatMap((c) => c.unexpectedSamples).slice(0, 5),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await target.stop();
  }
}

/**
 * What makes a measurement unusable: it did not measure what it says (not every subscriber connected, frames
 * the harness does not understand). Publishes the server failed to answer are a result, not a problem: their
 * deliveries count as missing and the per-run table shows them.
 */
function problems(m: Measurement): string[] {
  const out: string[] = [];
  if (m.connectFailures.length) out.push(`connections: ${m.connectFailures.join('; ')}`);
  if (m.unexpected) out.push(`${m.unexpected} unexpected frame(s): ${m.unexpectedSamples.join(' | ')}`);
  return out;
}

const isTrial = (options: Options) => options.runs < 3 || options.durationS < 10;
const isSwitchboard = (id: ServerId) => id === 'switchboard-ws' || id === 'switchboard-sse';
const perSecond = (n: number) => (Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const ratioText = (r: number) =>
  Number.isFinite(r) ? r.toFixed(2) : r === Number.POSITIVE_INFINITY ? '∞' : 'n/a';
/** Latency in ms; ∞ when the deliveries it stands for never came. */
const lat = (v: number) => (v === Number.POSITIVE_INFINITY ? '∞' : ms(v));
const kb = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(1));
const missingText = (missing: number, publishFailed: number) =>
  `${count(missing)}${publishFailed ? ` (${count(publishFailed)} publishes unanswered)` : ''}`;

interface Cell {
  server: ServerId;
  subscribers: number;
  runs: Measurement[];
  /** Per-run ratios against bare ws of the same round and subscriber count; empty without bare ws. */
  rateRatios: number[];
  p99Ratios: number[];
}

function cells(options: Options, rounds: Round[]): Cell[] {
  return options.subscribers.flatMap((subscribers) =>
    options.servers.map((server) => {
      const pairs = rounds.map((r) => ({
        m: r.results.find((x) => x.server === server && x.subscribers === subscribers),
        base: r.results.find((x) => x.server === 'ws' && x.subscribers === subscribers),
      }));
      const runs = pairs.flatMap((p) => (p.m ? [p.m] : []));
      const withBase = pairs.flatMap((p) => (p.m && p.base ? [{ m: p.m, base: p.base }] : []));
      return {
        server,
        subscribers,
        runs,
        rateRatios: withBase.map(({ m, base }) => m.rate / base.rate),
        p99Ratios: withBase.map(({ m, base }) => m.latency.p99 / base.latency.p99),
      };
    }),
  );
}

const med = (cell: Cell, f: (m: Measurement) => number) => median(cell.runs.map(f));

interface Verdict {
  label: string;
  value: string;
  met: boolean;
}

function verdicts(cell: Cell): Verdict[] {
  const rate = median(cell.rateRatios);
  const p99 = median(cell.p99Ratios);
  const memory = med(cell, (m) => m.memoryKB);
  return [
    {
      label: `deliveries ≥ ${TARGETS.deliveries} × bare ws`,
      value: ratioText(rate),
      met: rate >= TARGETS.deliveries,
    },
    { label: `p99 ≤ ${TARGETS.p99} × bare ws`, value: ratioText(p99), met: p99 <= TARGETS.p99 },
    {
      label: `memory ≤ ${TARGETS.memoryKB} KB per idle connection`,
      value: `${kb(memory)} KB`,
      met: memory <= TARGETS.memoryKB,
    },
  ];
}

function report(
  options: Options,
  bench: BenchRun,
  rounds: Round[],
  chartWritten: boolean,
): { markdown: string; targets: TargetResult[] } {
  const all = cells(options, rounds);
  const table = markdownTable(
    [
      'server',
      'subscribers',
      'deliveries/s',
      'vs bare ws',
      'p50 ms',
      'p99 ms',
      'p99 vs bare ws',
      'p99 range over runs',
      'memory KB / idle connection',
      'heap + external KB',
      'server CPU idle (cores)',
      'missing',
      'server CPU µs / delivery',
      'subscriber CPU / machine idle (cores)',
    ],
    all.map((cell) => {
      const p99 = minMax(cell.runs.map((m) => m.latency.p99));
      const base = cell.server === 'ws';
      return [
        SERVER_LABELS[cell.server],
        count(cell.subscribers),
        `**${perSecond(med(cell, (m) => m.rate))}**`,
        base ? '1' : ratioText(median(cell.rateRatios)),
        lat(med(cell, (m) => m.latency.p50)),
        `**${lat(med(cell, (m) => m.latency.p99))}**`,
        base ? '1' : ratioText(median(cell.p99Ratios)),
        `${lat(p99.min)}–${lat(p99.max)}`,
        kb(med(cell, (m) => m.memoryKB)),
        kb(med(cell, (m) => m.heldKB)),
        cores(med(cell, (m) => m.idleServerCpu)),
        missingText(
          cell.runs.reduce((sum, m) => sum + m.missing, 0),
          cell.runs.reduce((sum, m) => sum + m.publishFailed, 0),
        ),
        perSecond(med(cell, (m) => m.serverCpuUs)),
        `${cores(med(cell, (m) => m.workerCpu))} / ${cores(med(cell, (m) => m.idleCpu))}`,
      ];
    }),
  );
  // Each Switchboard cell's verdicts, worked out once: the verdict table, the Result and the targets.
  const judged = all.filter((c) => isSwitchboard(c.server)).map((cell) => ({ cell, checks: verdicts(cell) }));
  const verdictRows = judged.map(({ cell, checks }) => [
    `${SERVER_LABELS[cell.server]}, ${count(cell.subscribers)}`,
    ...checks.map((v) => `${v.value}: **${v.met ? 'met' : 'not met'}**`),
  ]);
  const verdictTable = verdictRows.length
    ? markdownTable(['Switchboard', ...(judged[0]?.checks.map((v) => v.label) ?? [])], verdictRows)
    : '';
  const failedTargets = judged.flatMap(({ cell, checks }) =>
    checks
      .filter((v) => !v.met)
      .map((v) => `${SERVER_LABELS[cell.server]} at ${count(cell.subscribers)}: ${v.label} (${v.value})`),
  );
  const targets: TargetResult[] = judged.flatMap(({ cell, checks }) =>
    checks.map((v) => ({
      target: `${SERVER_LABELS[cell.server]}, ${count(cell.subscribers)} subscribers: ${v.label}`,
      measured: v.value,
      met: v.met,
    })),
  );
  const perRun = markdownTable(
    [
      'run',
      'server',
      'subscribers',
      'connected in s',
      'deliveries/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'RSS before / after MiB',
      'KB / connection',
      'heap + external KB / connection',
      'idle server CPU (cores)',
      'missing',
      'dropped',
      'publish p99 ms',
      'publishes failed',
      'subscriber loop delay p99 ms',
    ],
    rounds.flatMap((r, i) =>
      r.results.map((m) => [
        String(i + 1),
        SERVER_LABELS[m.server],
        count(m.subscribers),
        m.connectS.toFixed(1),
        perSecond(m.rate),
        lat(m.latency.p50),
        lat(m.latency.p99),
        lat(m.latency.max),
        `${m.rssBeforeMiB.toFixed(0)} / ${m.rssAfterMiB.toFixed(0)}`,
        kb(m.memoryKB),
        kb(m.heldKB),
        cores(m.idleServerCpu),
        count(m.missing),
        Object.entries(m.dropped)
          .map(([reason, n]) => `${n} ${reason}`)
          .join(', ') || '0',
        ms(m.publish.p99),
        String(m.publishFailed),
        ms(m.workerLoopP99),
      ]),
    ),
  );
  const command = bench.command([
    ['subscribers', options.subscribers.join(',')],
    ['rate', options.rate],
    ['workers', options.workers],
    options.servers.length < SERVER_IDS.length && ['servers', options.servers.join(',')],
  ]);
  const result = failedTargets.length
    ? `**Result${isTrial(options) ? ' (trial)' : ''}:** targets not met: ${failedTargets.join('; ')}.`
    : `**Result${isTrial(options) ? ' (trial)' : ''}:** every target met by both transports at every count.`;
  const markdown = bench.report({
    title: 'Live fan-out',
    question: [
      `How fast do Switchboard's WebSocket and SSE deliver one channel to many subscribers, against a bare`,
      '`ws` broadcast server and a Socket.IO server? A small JSON event (`{"seq", "sent_at"}`) published',
      `${options.rate} times a second to ${options.subscribers.map(count).join(' and ')} subscribers of one channel.`,
      `**Targets** (Switchboard, each transport): deliveries at least ${TARGETS.deliveries} of bare ws, p99 at most`,
      `${TARGETS.p99} times bare ws, at most ${TARGETS.memoryKB} KB of server memory per idle connection.`,
    ],
    trial: isTrial(options)
      ? `${options.runs} round(s) of ${options.durationS} s per measurement`
      : undefined,
    paragraphs: [
      `Command: \`${command}\`. ` +
        'Servers, each in a child process of its own, one at a time, fresh for every measurement, on 127.0.0.1: ' +
        `Switchboard (\`${options.runtime === 'dist' ? 'dist/' : 'src/ with tsx'}\`, log level warn, SQLite, in-process bus) ` +
        'started by `bench/fanout/switchboard-server.mjs`, which does what `switchboard serve` does and declares ' +
        `the stream \`${CHANNEL}\` (viewers may follow it) through the channel registry rather than the endpoint ` +
        'configuration, so that no producer of its own publishes besides the bench; per-user WebSocket and SSE caps 10,000, ' +
        'rate-limit tiers 100,000,000 a minute, `streams.publish` limit off. Subscribers are one viewer ' +
        '(`Authorization: Bearer` with its access token on the upgrade or the SSE request); the WebSocket ones send ' +
        '`subscribe` and wait for `subscribed`, the SSE ones (`GET /api/v1/streams/' +
        `${CHANNEL}/events\`, one HTTP/1.1 connection each on a bare TCP socket, status line, chunks and frames read by hand, as lean as \`ws\` is for the WebSocket clients) for the snapshot. ` +
        'The publisher is the first admin: `POST /api/v1/streams/…/publish`. Bare ws: `bench/fanout/bare-ws-server.mjs`, ' +
        '`ws` with compression off, `POST /publish` sends the body as is to every open socket. Socket.IO: ' +
        '`bench/fanout/socketio-server.mjs`, default server options, clients on the WebSocket transport join a ' +
        'room, `POST /publish/{room}` emits to it. WebSocket clients are `ws` with its default options (they offer ' +
        'permessage-deflate, as browsers do; a server may accept it). ' +
        `Subscribers run in ${options.workers} worker process(es) (\`bench/fanout/subscribers.ts\`), ` +
        `${CONNECT_CONCURRENCY} connections opened at a time per worker; the publisher runs in the bench process, an ` +
        `open loop of POSTs over keep-alive connections. A primer event comes first (Switchboard sends it as the ` +
        `snapshot); then, once every subscriber is confirmed, ${options.warmupS} s of events not measured, then ` +
        `${options.durationS} s measured (${Math.floor(options.durationS * options.rate)} events per measurement). ` +
        '**Latency** of a delivery: the time a subscriber received the frame minus the `sent_at` the publisher ' +
        'put in the event just before sending its POST (both `performance.timeOrigin + performance.now()`, same ' +
        'machine), so it includes the publish request, the server and the subscriber process reading the frame; ' +
        'a delivery that never came counts as infinitely late (∞ once more than 1% are missing). ' +
        `**Deliveries/s**: deliveries of the measured events (at most ${DRAIN_MS / 1000} s after the last publish) ` +
        'divided by the publishing time, or by the time to the last delivery when longer; "missing": ' +
        'subscribers × events − distinct deliveries, summed over runs, with the publishes the server did not ' +
        'answer within 10 s in parentheses (a result, not a failure of the bench). **Memory** per idle connection: ' +
        "the server's resident memory (VmRSS) with every subscriber connected, subscribed and idle, minus the " +
        'same before the first connection, divided by the subscribers, in KB of 1,000 bytes. Each reading is taken ' +
        'after a forced garbage collection, repeated every second until the heap has kept its size and the RSS ' +
        `within 1% for ${STABLE_READINGS} readings in a row (V8 shrinks a heap in steps, the last one seconds ` +
        "later: Switchboard's start-up leaves 30 MB to hand back), the second one after the subscribers have been " +
        `idle for ${IDLE_MS / 1000} s; every server runs with glibc told to return freed memory at once ` +
        '(`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`). The figure includes what the first connections cost once (code run for the ' +
        'first time) and moves by a few KB per connection at 1,000 with how V8 happens to size its heap; ' +
        '"heap + external" is the same difference from the server\'s own ' +
        'account (`process.memoryUsage()` heapUsed + external, after the same collection): what live objects ' +
        'hold, steadier across runs and counts, but without native memory or the pages a heap keeps after garbage is freed. "server CPU idle": cores the server used over the ' +
        `${IDLE_MS / 1000} s ` +
        'the subscribers spent connected and idle before that reading (whatever the server does per connection on ' +
        'its own, such as heartbeats and session re-checks). "server CPU µs / delivery": CPU time of the server ' +
        'process (all threads, /proc) over the window divided by the deliveries. "subscriber CPU": cores the ' +
        'worker(s) used; "machine idle": cores nobody used. With no core idle, server, subscribers and publisher ' +
        'took turns on the CPUs and latencies include that wait. Figures are medians across runs; ratios are ' +
        'medians of per-round ratios against bare ws at the same subscriber count. ' +
        `${options.runs} round(s); each runs every server at every count, the servers in an order rotated per round.`,
      table,
      verdictTable,
      verdictTable && result,
      chartWritten &&
        `![fanout: p99 latency, deliveries per second and memory per connection](${CHART.replace('docs/', '')})`,
    ],
    perRun,
  });
  return { markdown, targets };
}

const COLORS: Record<ServerId, string> = {
  ws: '#7f7f7f',
  socketio: '#e69f00',
  'switchboard-ws': '#0072b2',
  'switchboard-sse': '#009e73',
};

function drawChart(options: Options, conditions: MachineConditions, rounds: Round[]): void {
  const all = cells(options, rounds);
  const series = (f: (m: Measurement) => number) =>
    options.servers.map((server) => ({
      label: SERVER_LABELS[server],
      color: COLORS[server],
      values: options.subscribers.map((n) => {
        const cell = all.find((c) => c.server === server && c.subscribers === n);
        return cell ? med(cell, f) : Number.NaN;
      }),
    }));
  writeChartPng(
    {
      title: `Fan-out of one channel, ${options.rate} events/s`,
      subtitle:
        `medians of ${options.runs} run(s) of ${options.durationS} s; ${conditions.cpus} CPUs (${conditions.cpuModel}), ` +
        `Node ${conditions.node}, commit ${conditions.commit}, ${conditions.date}`,
      groups: options.subscribers.map((n) => `${count(n)} subscribers`),
      panels: [
        {
          title: 'p99 delivery latency, ms (lower is better)',
          format: (v) => (v === 0 ? '0' : ms(v)),
          series: series((m) => m.latency.p99),
        },
        {
          title: 'deliveries per second (higher is better)',
          format: (v) => perSecond(v),
          series: series((m) => m.rate),
        },
        {
          title: 'server memory per idle connection, KB',
          format: (v) => (v === 0 ? '0' : kb(v)),
          series: series((m) => m.memoryKB),
          reference: { value: TARGETS.memoryKB, label: `target ≤ ${TARGETS.memoryKB} KB` },
        },
      ],
    },
    `${ROOT}/${CHART}`,
  );
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('fanout', options);
  const measurements = options.servers.length * options.subscribers.length;
  process.stderr.write(
    `bench fanout: ${options.runs} round(s) of ${measurements} measurement(s) (${options.servers.join(', ')} × ` +
      `${options.subscribers.join(', ')} subscribers), ${options.warmupS} s + ${options.durationS} s each at ` +
      `${options.rate} events/s\n`,
  );
  const rounds: Round[] = [];
  const trouble: string[] = [];
  for (let i = 0; i < options.runs; i += 1) {
    const order = options.servers.map(
      (_, k) => options.servers[(i + k) % options.servers.length] as ServerId,
    );
    const results: Measurement[] = [];
    for (const subscribers of options.subscribers) {
      for (const server of order) {
        const m = await measure(options, server, subscribers);
        results.push(m);
        const issues = problems(m);
        trouble.push(...issues.map((p) => `run ${i + 1}, ${server} × ${subscribers}: ${p}`));
        process.stderr.write(
          `  run ${i + 1}/${options.runs} ${SERVER_LABELS[server]} × ${count(subscribers)}: ` +
            `${perSecond(m.rate)} deliveries/s, p50 ${lat(m.latency.p50)} ms, p99 ${lat(m.latency.p99)} ms, ` +
            `${kb(m.memoryKB)} KB/connection, missing ${count(m.missing)}, server CPU ${perSecond(m.serverCpuUs)} µs/delivery, ` +
            `subscriber CPU ${cores(m.workerCpu)}, idle ${cores(m.idleCpu)}, server idle CPU ${cores(m.idleServerCpu)}` +
            (m.publishFailed
              ? `; ${m.publishFailed} publish(es) failed: ${m.publishFailures.join('; ')}`
              : '') +
            `${issues.length ? `; PROBLEM: ${issues.join('; ')}` : ''}\n`,
        );
        await sleep(500);
      }
    }
    rounds.push({ order, results });
  }
  const complete = options.servers.length === SERVER_IDS.length;
  const writeDocs = options.docs && complete && trouble.length === 0;
  if (writeDocs) drawChart(options, bench.conditions, rounds);
  const { markdown, targets } = report(options, bench, rounds, writeDocs);
  return bench.publish(markdown, {
    targets,
    failed: trouble.length ? `${trouble.length} problem(s): ${trouble.slice(0, 3).join(' | ')}` : undefined,
    skipped: complete ? undefined : 'not every server was measured',
    alsoWrote: CHART,
  });
}
