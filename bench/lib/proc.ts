/** What Linux's /proc says about a process and the machine: CPU time and resident memory. NaN elsewhere. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

let clockTicks: number | undefined;

/** Seconds of one /proc clock tick. */
function tick(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return 1 / clockTicks;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * tick();
  } catch {
    return Number.NaN;
  }
}

/** Cores (CPU seconds per second) a process uses over the next `forMs`, while the caller waits. */
export async function coresUsed(pid: number | undefined, forMs: number): Promise<number> {
  const before = processCpuSeconds(pid);
  const start = performance.now();
  await sleep(forMs);
  return (processCpuSeconds(pid) - before) / ((performance.now() - start) / 1000);
}

/** CPU seconds all processes of the machine have used so far (every state but idle and iowait). */
export function machineCpuSeconds(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = (
      readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    )
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * tick();
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process (VmRSS), in KiB. */
export function residentKiB(pid: number | undefined): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}
