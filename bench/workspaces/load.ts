/**
 * One measured point of bench/workspaces: the load worker (autocannon in its own process) against one
 * route, with the CPU time of the server and of the load worker (/proc) and the machine's idle cores,
 * taken over the measured run only. Like bench/hotpath/load.ts, plus requests that differ by connection
 * (each its own user, or its own key) and the load generator's own CPU: with answers of a few hundred
 * kilobytes, autocannon (which decodes every body) may need a core as much as the server does.
 */
import { fileURLToPath } from 'node:url';
import { runLoadWorker } from '../lib/load-worker-run.js';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

/** What one connection sends: its own headers (a bearer token, say) and the bodies it cycles through. */
export interface ClientPlan {
  headers?: Record<string, string>;
  bodies: string[];
}

export interface LoadPlan {
  url: string;
  method: 'GET' | 'PATCH';
  connections: number;
  warmupS: number;
  durationS: number;
  headers: Record<string, string>;
  /** Connection k sends clients[k % length]; none: every connection sends the same request. */
  clients?: ClientPlan[];
  /** The status that counts as a success (304 for a conditional read); by default any 2xx. */
  expect?: number;
}

export interface PointResult {
  /** Successful answers (2xx, or the status expected) per second of the measured run. */
  rate: number;
  p50: number;
  p99: number;
  /** Server CPU time (all its threads) per successful answer, µs; NaN off Linux. */
  serverCpuUs: number;
  /** The load worker's CPU time per successful answer, µs; NaN off Linux. */
  clientCpuUs: number;
  /** Bytes received per answer, head included. */
  bytesPerAnswer: number;
  /** Cores nobody used over the measured run (/proc/stat). */
  idleCpu: number;
  /** Unexpected answers, errors and timeouts: any is a failed point. */
  failed: number;
  /** The measured run on the machine's monotonic clock, µs (the clock of a V8 CPU profile's timestamps). */
  windowUs: { start: number; end: number };
}

interface WorkerFigures {
  ok: number;
  unexpected: number;
  errors: number;
  timeouts: number;
  durationS: number;
  p50: number;
  p99: number;
  bytes: number;
}

/** Runs the load worker as `plan` says and reads its figures and the CPU of the server and the worker. */
export async function measurePoint(plan: LoadPlan, serverPid: number | undefined): Promise<PointResult> {
  const run = await runLoadWorker<WorkerFigures>(WORKER, plan, serverPid);
  const { figures } = run;
  const durationS = figures.durationS > 0 ? figures.durationS : plan.durationS;
  const perAnswer = (seconds: number) => (figures.ok ? (seconds * 1e6) / figures.ok : Number.NaN);
  const answers = figures.ok + figures.unexpected;
  return {
    rate: figures.ok / durationS,
    p50: figures.p50,
    p99: figures.p99,
    serverCpuUs: perAnswer(run.serverCpuS),
    clientCpuUs: perAnswer(run.workerCpuS),
    bytesPerAnswer: answers > 0 ? figures.bytes / answers : Number.NaN,
    idleCpu: run.idleCpu,
    failed: figures.unexpected + figures.errors + figures.timeouts,
    windowUs: run.windowUs,
  };
}
