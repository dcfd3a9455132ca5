/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) for bench/hotpath: where the server's time goes, by
 * function and by package, self (the frame itself was running) and inclusive (the frame was on the stack).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownTable } from '../lib/report.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  /** When sampling started, µs on the machine's monotonic clock. */
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A share of the profiled time. */
export interface Frame {
  name: string;
  /** Fraction (0..1) of the busy time (sampled time that was not idle). */
  share: number;
}

export interface ProfileSummary {
  /** Sampled time, ms (idle included). */
  totalMs: number;
  /** Whether only the samples inside the window asked for were counted (else the whole profile was). */
  windowed: boolean;
  /** Fraction of the sampled time the thread was idle (waiting for I/O). */
  idle: number;
  selfByFunction: Frame[];
  inclusiveByFunction: Frame[];
  selfByPackage: Frame[];
  inclusiveByPackage: Frame[];
}

/** V8's pseudo-frames: not code of anyone's. */
const PSEUDO = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** The package a script belongs to: `jose`, `@fastify/cookie`, `switchboard` (our dist/ or src/), `node:internal`… */
export function packageOf(frame: CallFrame): string {
  if (PSEUDO.has(frame.functionName) && frame.url === '') return frame.functionName;
  const url = frame.url;
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node (core)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  const ours = /\/(dist|src)\/(.+?)(?:\.[cm]?[jt]s)?$/.exec(url);
  if (ours) return `switchboard ${ours[2]?.split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

/** A function named by what it is and where: `verify (jose)`, `authenticate (switchboard auth)`. */
function functionOf(frame: CallFrame): string {
  if (PSEUDO.has(frame.functionName) && frame.url === '') return frame.functionName;
  const file = frame.url.split('/').pop() ?? '';
  return `${frame.functionName || '(anonymous)'} (${packageOf(frame)}${file ? ` ${file}:${frame.lineNumber + 1}` : ''})`;
}

function top(map: Map<string, number>, total: number, n: number): Frame[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, share: total > 0 ? us / total : 0 }));
}

/**
 * The top `n` frames of `profile`; with a `window` (µs on the monotonic clock), of the samples taken inside
 * it only, so that start-up and set-up do not count, unless none fall inside it (clocks that do not match).
 */
export function summariseProfile(
  profile: CpuProfile,
  n = 15,
  window?: { start: number; end: number },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  const selfFn = new Map<string, number>();
  const inclFn = new Map<string, number>();
  const selfPkg = new Map<string, number>();
  const inclPkg = new Map<string, number>();
  let at = profile.startTime;
  const times = profile.timeDeltas.map((delta) => {
    at += delta;
    return at;
  });
  const windowed = window !== undefined && times.some((t) => t >= window.start && t <= window.end);
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const t = times[i] ?? 0;
    if (windowed && window && (t < window.start || t > window.end)) return;
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    total += us;
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      return;
    }
    add(selfFn, functionOf(node.callFrame), us);
    add(selfPkg, packageOf(node.callFrame), us);
    // Each function and package counts once per sample, however often it recurses on the stack.
    const fns = new Set<string>();
    const pkgs = new Set<string>();
    for (let frameId: number | undefined = id; frameId !== undefined; frameId = parent.get(frameId)) {
      const frame = byId.get(frameId)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      fns.add(functionOf(frame));
      pkgs.add(packageOf(frame));
    }
    for (const fn of fns) add(inclFn, fn, us);
    for (const pkg of pkgs) add(inclPkg, pkg, us);
  });
  const busy = total - idle;
  return {
    totalMs: total / 1000,
    windowed,
    idle: total > 0 ? idle / total : 0,
    selfByFunction: top(selfFn, busy, n),
    inclusiveByFunction: top(inclFn, busy, n),
    selfByPackage: top(selfPkg, busy, n),
    inclusiveByPackage: top(inclPkg, busy, n),
  };
}

/** The summary of the one profile a server wrote into `dir` (the newest, should there be more). */
export function summariseProfileDir(
  dir: string,
  n = 15,
  window?: { start: number; end: number },
): ProfileSummary {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const newest = files[files.length - 1];
  if (!newest) throw new Error(`no .cpuprofile in ${dir}: did the server exit cleanly?`);
  return summariseProfile(JSON.parse(readFileSync(join(dir, newest), 'utf8')) as CpuProfile, n, window);
}

/** One ranking of a profile as a markdown table under its title: rank, share of busy time, name. */
export function profileTable(title: string, column: string, frames: readonly Frame[]): string {
  const rows = frames.map((f, i) => [
    String(i + 1),
    `${(f.share * 100).toFixed(1)}%`,
    `\`${f.name.replace(/\|/g, '\\|')}\``,
  ]);
  return `${title}\n\n${markdownTable(['#', 'share of busy time', column], rows)}`;
}
