/**
 * bench/soak: does Switchboard hold steady for half an hour of mixed load? One `switchboard serve` on a fresh
 * SQLite directory with sign-ins, reads, preference patches, 2,000 live subscribers (WebSocket and SSE, in
 * worker processes, some reconnecting all the time), producers polling a loopback upstream every second, and
 * a configuration activated every minute (bench/soak/engine.ts). The server is sampled every 10 s: heap (as
 * found and after a full collection), resident memory, external memory, handles, event-loop delay. Target:
 * no failed request, no gap or duplicate at any subscriber, and a heap that does not keep rising after the
 * warm-up (the rule in bench/soak/analysis.ts). Run with `npm run bench -- soak [options]`; the 3-minute
 * version runs in CI as `npm run test:soak` (test/soak/soak.test.ts).
 */
import { loadavg } from 'node:os';
import { parseBenchArgs, positiveOption, type TimedOptions, usageText } from './lib/options.js';
import {
  BENCHMARKS_DOC,
  type BenchRun,
  benchRun,
  cores,
  count,
  markdownTable,
  ms,
  type TargetResult,
} from './lib/report.js';
import { ROOT } from './lib/server.js';
import { minMax, summarize } from './lib/stats.js';
import { type Trend, trendOf } from './soak/analysis.js';
import { writeTimeChartPng } from './soak/chart.js';
import { DEFAULT_RATES, defaultWarmupS, runSoak, type Sample, type SoakResult } from './soak/engine.js';

const CHART = 'docs/bench-soak.png';
const FULL_DURATION_S = 1800;

const USAGE = usageText('soak', {
  width: 24,
  options: [
    ['--duration S', `seconds of load after set-up (default ${FULL_DURATION_S})`],
    ['--warmup S', 'seconds left out of the verdicts (default 20% of the duration, at least 60)'],
    ['--subscribers N', "live subscribers besides the admin's two (default 2000)"],
    ['--workers N', 'subscriber processes (default 2)'],
    ['--sample-every S', 'seconds between samples of the server (default 10)'],
    ['--activation-every S', 'seconds between configuration activations (default 60)'],
    ['--login-rate R', `sign-ins (login, me, logout) per second (default ${DEFAULT_RATES.logins})`],
    ['--read-rate R', `reads per second (default ${DEFAULT_RATES.reads})`],
    ['--patch-rate R', `preference patches per second (default ${DEFAULT_RATES.patches})`],
    ['--churn R', `subscribers closed and reopened per second (default ${DEFAULT_RATES.churn})`],
  ],
  noDocs: `print only; do not update ${BENCHMARKS_DOC} and ${CHART}`,
  after:
    'SWITCHBOARD_SOAK_NODE_FLAGS adds Node flags to the server under test, such as\n' +
    "'--heapsnapshot-signal=SIGWINCH --diagnostic-dir=/tmp' to take heap snapshots of it during the run.",
});

interface Options extends TimedOptions {
  subscribers: number;
  workers: number;
  sampleEveryS: number;
  activationEveryS: number;
  rates: { logins: number; reads: number; patches: number; churn: number };
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseBenchArgs(
    argv,
    USAGE,
    { runs: 1, duration: FULL_DURATION_S },
    {
      subscribers: '2000',
      workers: '2',
      'sample-every': '10',
      'activation-every': '60',
      'login-rate': String(DEFAULT_RATES.logins),
      'read-rate': String(DEFAULT_RATES.reads),
      'patch-rate': String(DEFAULT_RATES.patches),
      churn: String(DEFAULT_RATES.churn),
    },
  );
  if (!args) return undefined;
  const { common, own } = args;
  if (common.runs !== 1) throw new Error(`a soak is one run: --runs must be 1\n\n${USAGE}`);
  const warmupGiven = argv.some((a) => a === '--warmup' || a.startsWith('--warmup='));
  const warmupS = warmupGiven ? common.warmupS : defaultWarmupS(common.durationS);
  if (warmupS >= common.durationS) {
    throw new Error(`--warmup must be shorter than --duration\n\n${USAGE}`);
  }
  const rate = (name: string) => positiveOption(name, own[name as keyof typeof own], false, USAGE);
  return {
    ...common,
    warmupS,
    subscribers: positiveOption('subscribers', own.subscribers, true, USAGE),
    workers: positiveOption('workers', own.workers, true, USAGE),
    sampleEveryS: rate('sample-every'),
    activationEveryS: rate('activation-every'),
    rates: {
      logins: rate('login-rate'),
      reads: rate('read-rate'),
      patches: rate('patch-rate'),
      churn: rate('churn'),
    },
  };
}

const mib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(1) : 'n/a');
const signed = (value: number, digits = 1) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}` : 'n/a';
const percent = (share: number) => (Number.isFinite(share) ? `${signed(share * 100, 2)}%` : 'n/a');
const duration = (seconds: number) =>
  seconds >= 120 ? `${(seconds / 60).toFixed(seconds % 60 === 0 ? 0 : 1)} min` : `${Math.round(seconds)} s`;

/**
 * A row of the memory table: where the quantity stood, and how it moved after the warm-up; the rule's answer
 * is in bold for the rows it decides on.
 */
function trendRow(
  label: string,
  trend: Trend,
  unit: (v: number) => string,
  perHour: (v: number) => string,
  decides = false,
) {
  const answer = trend.rising ? 'yes' : 'no';
  return [
    label,
    unit(trend.mean),
    `${unit(trend.firstThirdMax)} / ${unit(trend.lastThirdMin)}`,
    perHour(trend.slopePerHour),
    percent(trend.sharePerHour),
    perHour(trend.secondHalfLowerPerHour),
    trend.tooShort ? 'too few samples' : decides ? `**${answer}**` : answer,
  ];
}

function drawChart(result: SoakResult, subtitle: string): void {
  const times = result.samples.map((s) => s.t);
  const of = (pick: (s: Sample) => number | undefined) => result.samples.map((s) => pick(s) ?? Number.NaN);
  const measured = result.samples.filter((s) => s.t >= result.warmupS);
  const first = measured[0];
  const last = measured.at(-1);
  const heap = of((s) => s.afterGc?.heapUsedBytes).map((b) => b / 2 ** 20);
  // The fitted line of the verdict, through the measured samples' mean.
  const fit = () => {
    if (!first || !last) return undefined;
    const t = measured.map((s) => s.t);
    const tMean = t.reduce((a, b) => a + b, 0) / t.length;
    const yMean = result.heap.mean / 2 ** 20;
    const slope = result.heap.slopePerHour / 3600 / 2 ** 20;
    return {
      t0: first.t,
      y0: yMean + slope * (first.t - tMean),
      t1: last.t,
      y1: yMean + slope * (last.t - tMean),
      label: `${signed(result.heap.slopePerHour / 2 ** 20)} MiB/h`,
    };
  };
  const fitted = fit();
  writeTimeChartPng(
    {
      title: `Switchboard soak: ${duration(result.options.durationS)} of mixed load, ${count(result.subscribers.subscribers)} subscribers`,
      subtitle,
      times,
      warmupS: result.warmupS,
      panels: [
        {
          title: 'Heap used',
          unit: 'MiB',
          lines: [
            { label: 'after a full GC', color: '#1f77b4', values: heap },
            {
              label: 'as found',
              color: '#aec7e8',
              values: of((s) => s.server?.heapUsedBytes).map((b) => b / 2 ** 20),
            },
          ],
          ...(fitted && { fit: fitted }),
        },
        {
          title: 'Memory of the process',
          unit: 'MiB',
          lines: [
            {
              label: 'resident (RSS)',
              color: '#2ca02c',
              values: of((s) => s.rssBytes).map((b) => b / 2 ** 20),
            },
            {
              label: 'external (after GC)',
              color: '#98df8a',
              values: of((s) => s.afterGc?.externalBytes).map((b) => b / 2 ** 20),
            },
          ],
        },
        {
          title: 'Active handles and open subscribers',
          unit: 'count',
          lines: [
            { label: 'active handles', color: '#9467bd', values: of((s) => s.server?.activeHandles) },
            {
              label: 'subscribers open',
              color: '#c5b0d5',
              values: of((s) => s.subscribersOpen),
              dashed: true,
            },
          ],
        },
        {
          title: 'Event-loop delay per 10 s interval',
          unit: 'ms',
          lines: [
            { label: 'p99', color: '#ff7f0e', values: of((s) => s.server?.loopP99Ms) },
            { label: 'max', color: '#d62728', values: of((s) => s.server?.loopMaxMs), dashed: true },
          ],
        },
      ],
    },
    `${ROOT}/${CHART}`,
  );
}

/** Every tenth sample or so, the first and the last: the run in about 20 rows. */
function samplesTable(result: SoakResult): string {
  const step = Math.max(1, Math.round(result.samples.length / 20));
  const rows = result.samples.filter((_, i) => i % step === 0 || i === result.samples.length - 1);
  return markdownTable(
    [
      't',
      'heap MiB after GC / as found',
      'RSS MiB',
      'external MiB',
      'handles',
      'loop p99 / max ms',
      'server cores',
      'subscribers open',
      'events received',
      'requests (failed)',
      'load average',
    ],
    rows.map((s) => [
      duration(s.t),
      `${mib(s.afterGc?.heapUsedBytes ?? Number.NaN)} / ${mib(s.server?.heapUsedBytes ?? Number.NaN)}`,
      mib(s.rssBytes),
      mib(s.afterGc?.externalBytes ?? Number.NaN),
      String(s.server?.activeHandles ?? 'n/a'),
      `${ms(s.server?.loopP99Ms ?? Number.NaN)} / ${ms(s.server?.loopMaxMs ?? Number.NaN)}`,
      cores(s.serverCores),
      count(s.subscribersOpen),
      count(s.events),
      `${count(s.requests)} (${count(s.failedRequests)})`,
      s.loadAverage.toFixed(2),
    ]),
  );
}

const unjudged = (trend: Trend) => (trend.tooShort ? ', too few samples to judge' : '');

/** The targets of the Result, as the summary of BENCHMARKS_DOC lists them. */
function targetsOf(result: SoakResult): TargetResult[] {
  const { subscribers: subs, requests } = result;
  const perHour = (v: number) =>
    `${signed(v / 2 ** 20)} MiB/h (${percent(result.heap.sharePerHour)} an hour)`;
  return [
    {
      target: 'soak: no failed request',
      measured: `${count(requests.failed)} of ${count(requests.sent)} failed`,
      met: requests.failed === 0,
    },
    {
      target: 'soak: every event once at every subscriber (no gap, duplicate, reset, drop or stall)',
      measured: `${count(subs.gaps)} missing, ${count(subs.duplicates)} duplicates, ${count(subs.resets)} resets, ${count(subs.droppedTotal)} drops, ${count(subs.stalledSamples)} stalls`,
      met:
        subs.gaps === 0 &&
        subs.duplicates === 0 &&
        subs.resets === 0 &&
        subs.droppedTotal === 0 &&
        subs.stalledSamples === 0 &&
        subs.lagging.length === 0,
    },
    {
      target: 'soak: heap in use does not keep rising after the warm-up',
      measured: `${perHour(result.heap.slopePerHour)}${unjudged(result.heap)}`,
      met: result.heap.tooShort ? null : !result.heap.rising,
    },
    {
      target: 'soak: active handles do not keep rising after the warm-up',
      measured: `${signed(result.handles.slopePerHour)}/h around ${result.handles.mean.toFixed(0)}${unjudged(result.handles)}`,
      met: result.handles.tooShort ? null : !result.handles.rising,
    },
  ];
}

function report(options: Options, bench: BenchRun, result: SoakResult, endLoad: string): string {
  const { subscribers: subs, requests, activations } = result;
  const measured = result.samples.filter((s) => s.t >= result.warmupS);
  const loadRange = minMax(result.samples.map((s) => s.loadAverage));
  const loopP99 = minMax(measured.map((s) => s.server?.loopP99Ms ?? Number.NaN));
  const loopMax = minMax(measured.map((s) => s.server?.loopMaxMs ?? Number.NaN));
  const serverCores = measured.map((s) => s.serverCores).filter(Number.isFinite);
  const meanCores = serverCores.reduce((a, b) => a + b, 0) / Math.max(1, serverCores.length);
  const oldSpace = trendOf(
    result.samples.map((s) => s.t),
    result.samples.map((s) => s.afterGc?.oldSpaceUsedBytes ?? Number.NaN),
    result.warmupS,
  );
  const bytesPerHour = (v: number) => `${signed(v / 2 ** 20)} MiB/h`;
  const memory = markdownTable(
    [
      'after the warm-up',
      'mean',
      'first third max / last third min',
      'slope',
      'slope / mean, per hour',
      'second half: slope − 2 SE',
      'keeps rising (the rule)',
    ],
    [
      trendRow(
        '**heap used after a full GC** (the verdict)',
        result.heap,
        (v) => `${mib(v)} MiB`,
        bytesPerHour,
        true,
      ),
      trendRow('old space after a full GC', oldSpace, (v) => `${mib(v)} MiB`, bytesPerHour),
      trendRow('heap used as found', result.heapAsFound, (v) => `${mib(v)} MiB`, bytesPerHour),
      trendRow('external memory after a full GC', result.external, (v) => `${mib(v)} MiB`, bytesPerHour),
      trendRow('resident memory (RSS, /proc)', result.rss, (v) => `${mib(v)} MiB`, bytesPerHour),
      trendRow(
        '**active handles**',
        result.handles,
        (v) => v.toFixed(0),
        (v) => `${signed(v)}/h`,
        true,
      ),
    ],
  );
  const failedByRoute = markdownTable(
    ['requests', 'sent', 'failed', 'p50 ms', 'p99 ms', 'max ms'],
    [...requests.routes].map(([name, tally]) => {
      const s = summarize(tally.latencies);
      return [name, count(tally.sent), count(tally.failed), ms(s.p50), ms(s.p99), ms(s.max)];
    }),
  );
  const dropped = Object.entries(subs.dropped)
    .map(([reason, n]) => `${reason} ×${n}`)
    .join(', ');
  const errorRows: [string, string][] = [
    ['failed requests', `${count(requests.failed)} of ${count(requests.sent)}`],
    ['activations failed', `${activations.failed} of ${activations.done + activations.failed}`],
    ['events missing at a subscriber (gaps)', count(subs.gaps)],
    ['duplicate events', count(subs.duplicates)],
    ['resets on resuming (history no longer reached back)', count(subs.resets)],
    ['epoch changes', count(subs.epochChanges)],
    ['connections the server dropped', `${count(subs.droppedTotal)}${dropped ? ` (${dropped})` : ''}`],
    [
      'reconnects (churn and after a drop) / failed',
      `${count(subs.reconnects)} / ${count(subs.reconnectFailures)}`,
    ],
    ['unexpected frames', count(subs.unexpected)],
    ['producer `status` frames saying error', count(subs.statusErrors)],
    [`samples with a subscriber whose stream was silent > 15 s`, count(subs.stalledSamples)],
    ['subscribers behind their channel at the end', subs.lagging.length ? subs.lagging.join('; ') : '0'],
    ['samples where GET /readyz was not 200', count(result.notReady)],
    ['server stopped cleanly (SIGTERM, exit 0) after the run', result.serverExit ?? 'yes'],
  ];
  const clean = result.errors.length === 0;
  const judged = !result.heap.tooShort && !result.handles.tooShort;
  const met = clean && judged && !result.heap.rising && !result.handles.rising;
  const trial = options.durationS < FULL_DURATION_S;
  const command = bench.command([
    ['subscribers', options.subscribers],
    ['workers', options.workers],
    ['sample-every', options.sampleEveryS],
    ['activation-every', options.activationEveryS],
    ['login-rate', options.rates.logins],
    ['read-rate', options.rates.reads],
    ['patch-rate', options.rates.patches],
    ['churn', options.rates.churn],
  ]);
  const heapLine =
    `the heap in use (after a full collection) went ${bytesPerHour(result.heap.slopePerHour)} ` +
    `(${percent(result.heap.sharePerHour)} of its mean of ${mib(result.heap.mean)} MiB an hour; ` +
    `${percent(result.heap.shareOverRun)} over the ${duration((measured.at(-1)?.t ?? 0) - (measured[0]?.t ?? 0))} measured)`;
  return bench.report({
    title: 'Soak: half an hour of mixed load',
    question: [
      'Does one server hold steady under everything at once for 30 minutes (issue 20): sign-ins, reads,',
      'preference patches, 2,000 live subscribers (WebSocket and SSE), producers polling an upstream every',
      'second, and a configuration activated every minute? **Target:** no failed request, no gap or duplicate',
      'at any subscriber, and neither the heap in use nor the active handles keep rising after the warm-up.',
    ],
    trial: trial
      ? `one run of ${duration(options.durationS)} (the soak is ${duration(FULL_DURATION_S)})`
      : undefined,
    paragraphs: [
      `Command: \`${command}\`. Server: \`${bench.serverCommand}\` with \`--expose-gc\` and ` +
        '`bench/soak/gc-on-signal.mjs` preloaded (SIGUSR2 runs a full garbage collection; nothing else changes), ' +
        'on 127.0.0.1, a fresh SQLite data directory, log level warn, the rate-limit tiers out of reach and the ' +
        'set-up limits off (bench/lib/accounts.ts), `SWITCHBOARD_STREAM_HISTORY_AGE` ' +
        `${result.historyAgeS} s (half the warm-up, so the replay windows are full before the verdicts begin; ` +
        'the default of 10 minutes would be filling for a third of the run), access tokens of ' +
        `${result.accessTokenTtl} (issued at set-up, they outlive the run). The machine is shared: its 1-minute ` +
        `load average ran ${loadRange.min.toFixed(2)}–${loadRange.max.toFixed(2)} over the samples (at the end: ` +
        `${endLoad}).`,
      `**Load**, for ${duration(options.durationS)} after set-up (${result.setupSeconds.toFixed(0)} s: users, ` +
        `the first configuration, subscribers connected in ${subs.connectSeconds.toFixed(1)} s), open loops ` +
        `from the bench process over 16 keep-alive connections: ${options.rates.logins} sign-in(s) a second ` +
        '(login, `GET /auth/me` with the new token, logout; 10 viewers in turn), ' +
        `${options.rates.reads} reads a second (\`/auth/me\`, preferences, their summary, the streams and ` +
        "workspaces lists, and the admin's lists of users, configuration versions and audit events), " +
        `${options.rates.patches} preference merge patches a second (viewers their theme and time range, ` +
        "editors panels as well; each is announced on the user's channel). " +
        `**Subscribers:** ${count(subs.subscribers)} in ${options.workers} worker process(es) ` +
        '(bench/soak/subscribers.ts), 10 per user (the per-user caps are the defaults): ' +
        `${count(subs.byKind.ws)} WebSockets (a stream and the user's \`user:{id}\` channel; two of them the ` +
        `admin's, on \`config\`), ${count(subs.byKind.sse)} one-channel SSE responses (a stream) and ` +
        `${count(subs.byKind['sse-multi'])} several-channel SSE responses (a stream and the user's channel), ` +
        `read on bare sockets; ${options.rates.churn} a second are closed and reopened at random, resuming from ` +
        "their last id (`since`, `Last-Event-ID`). Every event id is checked: each channel's seq must grow " +
        'by one at every subscriber, across its reconnects. **Producers:** 9 streams polling a loopback HTTP ' +
        'upstream in the bench process every second (8 that no activation changes, half with a `select`; one ' +
        `redefined by every activation, alternating 1 s and 2 s). **Activations:** every ${options.activationEveryS} s ` +
        'the admin saves a new version (`POST /config`, `activate: false`) and activates it, which restarts the ' +
        `redefined stream's producer and adds or removes a tenth stream: ${activations.done} activations ` +
        `(median ${ms(summarize(activations.latencies).p50)} ms for both requests).`,
      `**Samples**, every ${options.sampleEveryS} s, from the server itself: \`GET /metrics\` (prom-client's ` +
        'default metrics: heap, external memory, active handles and requests, event-loop delay p99 and max since ' +
        'the previous scrape, garbage collections), then SIGUSR2 and, once the server has written that it collected, ' +
        '`/metrics` again for the heap still in use (this second scrape starts the next interval of the ' +
        'event-loop delay, so no collection forced by the bench is in its figures); `/proc` for the resident ' +
        'memory and CPU time; `GET /readyz`; and what the subscribers counted. ' +
        `The verdicts read the samples after the warm-up (${duration(result.warmupS)}: 20% of the run, at least ` +
        `a minute, at most half of it): ${result.heap.measured} samples (at least 9 are needed to judge). **The rule** ` +
        '(bench/soak/analysis.ts): a quantity keeps rising when both (1) the least-squares slope over the second ' +
        'half of those samples is significantly positive (slope − 2 standard errors > 0) and (2) the lowest ' +
        'sample of the last third is above the highest of the first third. Either alone misreads noise or a ' +
        'cache filling once; a leak does both. It is applied to the heap in use after a full collection ' +
        '(as found, the heap also holds garbage that a collection would free, up to tens of MiB) and to the ' +
        'active handles. "slope" is the least-squares slope over all measured samples; "slope / mean" that ' +
        'slope as a share of the mean level.',
      memory,
      markdownTable(['errors', 'count'], errorRows),
      `**Result:** ${heapLine}; active handles ${signed(result.handles.slopePerHour)}/h around ` +
        `${result.handles.mean.toFixed(0)}; event-loop delay p99 ${ms(loopP99.min)}–${ms(loopP99.max)} ms per ` +
        `interval, max ${ms(loopMax.max)} ms; the server used ${cores(meanCores)} cores on average; ` +
        `${count(subs.events)} events received, ${count(requests.sent)} requests. ` +
        `**${met ? 'met' : 'not met'}**${trial ? ' (trial)' : ''}` +
        (met
          ? '.'
          : `: ${[
              ...result.errors,
              ...(judged ? [] : ['too few samples after the warm-up to judge the trends']),
              ...(result.heap.rising ? ['the heap in use keeps rising'] : []),
              ...(result.handles.rising ? ['the active handles keep rising'] : []),
            ].join('; ')}.`),
      '**What grows.** Heap snapshots of the server taken during soaks (run the bench with ' +
        "`SWITCHBOARD_SOAK_NODE_FLAGS='--heapsnapshot-signal=SIGWINCH --diagnostic-dir=/tmp'` and send the server " +
        'SIGWINCH twice, minutes apart) show what the heap in use gains after the warm-up: mostly compiled code ' +
        'and its deoptimization data, as V8 optimizes more functions the longer the load runs (with sign-ins off ' +
        'as well), and, with sign-ins on, the access tokens verified lately (src/auth/access-tokens.ts): each ' +
        'sign-in adds one entry (the token and the `Authorization` header it came in, under 1 KB) until the cache ' +
        'holds 10,000 and lets the oldest go, which at one sign-in a second takes close to three hours. Both ' +
        'stop by themselves. The heap after a full collection also stands 1–2 MiB higher in the sample right ' +
        'after an activation, and back by the next: those points are the spikes of the chart.',
      `![heap, resident memory, handles and event-loop delay over the soak](${CHART.replace('docs/', '')})`,
      'Requests, by what they ask (latency from sending to the end of the answer, queueing in the bench included):',
      failedByRoute,
      'Samples (about twenty of them, evenly spread):',
      samplesTable(result),
    ],
    perRun: markdownTable(
      [
        'run',
        'duration',
        'subscribers',
        'requests (failed)',
        'events',
        'gaps / duplicates',
        'heap MiB/h',
        'handles/h',
        'verdict',
      ],
      [
        [
          '1',
          duration(options.durationS),
          count(subs.subscribers),
          `${count(requests.sent)} (${count(requests.failed)})`,
          count(subs.events),
          `${count(subs.gaps)} / ${count(subs.duplicates)}`,
          signed(result.heap.slopePerHour / 2 ** 20),
          signed(result.handles.slopePerHour),
          met ? 'met' : 'not met',
        ],
      ],
    ),
  });
}

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const bench = benchRun('soak', options);
  const say = (line: string) => process.stderr.write(`bench soak: ${line}\n`);
  say(
    `${options.durationS} s, ${options.subscribers} subscribers, load average ${bench.conditions.loadAverage}`,
  );
  const result = await runSoak({
    durationS: options.durationS,
    subscribers: options.subscribers,
    workers: options.workers,
    sampleEveryS: options.sampleEveryS,
    activationEveryS: options.activationEveryS,
    rates: options.rates,
    warmupS: options.warmupS,
    runtime: options.runtime,
    progress: say,
  });
  const endLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  const rising = result.heap.rising || result.handles.rising;
  const clean = result.errors.length === 0;
  const conditions = bench.conditions;
  if (options.docs && clean) {
    drawChart(
      result,
      `${result.samples.length} samples every ${options.sampleEveryS} s; ${conditions.cpus} CPUs, Node ${conditions.node}, ` +
        `commit ${conditions.commit}, ${conditions.date}`,
    );
  }
  const code = bench.publish(report(options, bench, result, endLoad), {
    failed: clean ? undefined : `${result.errors.length} kind(s) of error: ${result.errors.join('; ')}`,
    alsoWrote: CHART,
    targets: targetsOf(result),
  });
  if (rising) say(`not met: ${result.heap.rising ? 'the heap' : 'the active handles'} keep rising`);
  return Math.max(code, rising ? 1 : 0);
}
