/**
 * One measured point of bench/hotpath: the load worker (autocannon in its own process) against one URL,
 * with the server's CPU time (/proc) and the machine's idle cores taken over the measured run only.
 */
import { fileURLToPath } from 'node:url';
import { runLoadWorker } from '../lib/load-worker-run.js';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

export interface LoadPlan {
  url: string;
  connections: number;
  warmupS: number;
  durationS: number;
  headers: Record<string, string>;
}

export interface PointResult {
  /** 2xx answers per second of the measured run. */
  rate: number;
  p50: number;
  p99: number;
  /** Server CPU time (all its threads) per 2xx answer, µs; NaN off Linux. */
  serverCpuUs: number;
  /** Cores nobody used over the measured run (/proc/stat): none means everything took turns for a core. */
  idleCpu: number;
  /** Non-2xx answers, errors and timeouts: any is a failed point. */
  failed: number;
  /** The measured run on the machine's monotonic clock, µs (the clock of a V8 CPU profile's timestamps). */
  windowUs: { start: number; end: number };
}

interface WorkerFigures {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  p50: number;
  p99: number;
}

/** Runs the load worker against `serverPid`'s URL and reads its figures and the server's CPU. */
export async function measurePoint(plan: LoadPlan, serverPid: number | undefined): Promise<PointResult> {
  const run = await runLoadWorker<WorkerFigures>(WORKER, plan, serverPid);
  const { figures } = run;
  const durationS = figures.durationS > 0 ? figures.durationS : plan.durationS;
  return {
    rate: figures.ok / durationS,
    p50: figures.p50,
    p99: figures.p99,
    serverCpuUs: figures.ok ? (run.serverCpuS * 1e6) / figures.ok : Number.NaN,
    idleCpu: run.idleCpu,
    failed: figures.non2xx + figures.errors + figures.timeouts,
    windowUs: run.windowUs,
  };
}
