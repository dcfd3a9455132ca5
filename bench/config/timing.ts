import { performance } from 'node:perf_hooks';
import { median, minMax, summarize } from '../lib/stats.js';

/** How many times a step runs: warm-up runs first (not kept), then the measured ones. */
export interface Repeats {
  warmup: number;
  iterations: number;
}

/**
 * Runs `step` warmup + iterations times, one after the other, and returns the measured durations in ms.
 * `step` gets the index of the run (warm-ups included) and may time a part of itself: when it returns a
 * number, that is the duration kept; otherwise the whole call is.
 */
export async function repeat(
  repeats: Repeats,
  step: (index: number) => Promise<number | void> | number | void,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < repeats.warmup + repeats.iterations; i += 1) {
    const start = performance.now();
    const own = await step(i);
    const elapsed = typeof own === 'number' ? own : performance.now() - start;
    if (i >= repeats.warmup) samples.push(elapsed);
  }
  return samples;
}

/** The figures of one operation over several runs: medians of the runs' medians and p90s, and the spread. */
export interface Aggregate {
  median: number;
  p90: number;
  /** Fastest and slowest single sample of all runs. */
  min: number;
  max: number;
  /** Lowest and highest median of a run. */
  runMedians: { min: number; max: number };
}

export function aggregate(runs: readonly (readonly number[])[]): Aggregate {
  const summaries = runs.map((samples) => summarize(samples));
  const all = minMax(runs.flat());
  return {
    median: median(summaries.map((s) => s.p50)),
    p90: median(summaries.map((s) => s.p90)),
    min: all.min,
    max: all.max,
    runMedians: minMax(summaries.map((s) => s.p50)),
  };
}
