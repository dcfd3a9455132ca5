/**
 * Runs a load worker (autocannon in a process of its own) and takes the CPU time of the server, of the
 * worker and of the machine at the edges of its measured run: the worker prints `measuring` when the
 * warm-up ends and one JSON line of figures when the run ends.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { machineCpuSeconds, processCpuSeconds } from './proc.js';

export interface MeasuredRun<Figures> {
  figures: Figures;
  /** Seconds of CPU over the measured run: the server's and the worker's (all threads; NaN off Linux). */
  serverCpuS: number;
  workerCpuS: number;
  /** Cores nobody used over the measured run (/proc/stat). */
  idleCpu: number;
  /** The measured run on the machine's monotonic clock, µs (the clock of a V8 CPU profile's timestamps). */
  windowUs: { start: number; end: number };
}

export function runLoadWorker<Figures>(
  worker: string,
  plan: unknown,
  serverPid: number | undefined,
): Promise<MeasuredRun<Figures>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const snapshot = () => ({
      server: processCpuSeconds(serverPid),
      worker: processCpuSeconds(child.pid),
      machine: machineCpuSeconds(),
      at: performance.now(),
      monotonicUs: Number(process.hrtime.bigint() / 1000n),
    });
    let before: ReturnType<typeof snapshot> | undefined;
    let after: ReturnType<typeof snapshot> | undefined;
    let figures: Figures | undefined;
    let buffered = '';
    let errorText = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === 'measuring') before = snapshot();
        else if (line.startsWith('{')) {
          after = snapshot();
          figures = JSON.parse(line) as Figures;
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
      resolve({
        figures,
        serverCpuS: after.server - before.server,
        workerCpuS: after.worker - before.worker,
        idleCpu: Math.max(0, availableParallelism() - (after.machine - before.machine) / span),
        windowUs: { start: before.monotonicUs, end: after.monotonicUs },
      });
    });
  });
}
