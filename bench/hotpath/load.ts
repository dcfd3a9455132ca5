/**
 * One measured point of bench/hotpath: the load worker (autocannon in its own process) against one URL,
 * with the server's CPU time (/proc) and the machine's idle cores taken over the measured run only.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machineCpuSeconds, processCpuSeconds } from '../lib/proc.js';

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
export function measurePoint(plan: LoadPlan, serverPid: number | undefined): Promise<PointResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let before: ReturnType<typeof snapshot> | undefined;
    let figures: WorkerFigures | undefined;
    let after: ReturnType<typeof snapshot> | undefined;
    let buffered = '';
    let errorText = '';
    const snapshot = () => ({
      server: processCpuSeconds(serverPid),
      machine: machineCpuSeconds(),
      at: performance.now(),
      monotonicUs: Number(process.hrtime.bigint() / 1000n),
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === 'measuring') before = snapshot();
        else if (line.startsWith('{')) {
          after = snapshot();
          figures = JSON.parse(line) as WorkerFigures;
        }
        newline = buffered.indexOf('\n');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errorText = (errorText + chunk.toString('utf8')).slice(-2000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!figures || !before || !after) {
        reject(new Error(`the load worker exited with ${code} without figures: ${errorText.trim()}`));
        return;
      }
      const span = (after.at - before.at) / 1000;
      const durationS = figures.durationS > 0 ? figures.durationS : plan.durationS;
      resolve({
        rate: figures.ok / durationS,
        p50: figures.p50,
        p99: figures.p99,
        serverCpuUs: figures.ok ? ((after.server - before.server) * 1e6) / figures.ok : Number.NaN,
        idleCpu: Math.max(0, availableParallelism() - (after.machine - before.machine) / span),
        failed: figures.non2xx + figures.errors + figures.timeouts,
        windowUs: { start: before.monotonicUs, end: after.monotonicUs },
      });
    });
  });
}
