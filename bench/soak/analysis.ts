/**
 * Whether a quantity sampled over a soak keeps rising once warmed up: a least-squares slope, and the rule
 * that turns samples into a verdict. A heap in use rises and falls with every garbage collection, so neither
 * one slope nor two samples decide; the rule asks two things at once:
 *
 * 1. the slope over the second half of the measured samples is significantly positive: its 95% confidence
 *    interval (slope − 2 standard errors) lies above zero; and
 * 2. the level moved: the lowest sample of the last third is above the highest of the first third.
 *
 * The first alone fails on the noise of a short run, the second alone on a step that then stays flat (a
 * cache filling once); a leak does both. The same rule applies to active handles.
 */

export interface Fit {
  /** Units per second. */
  slope: number;
  /** Standard error of the slope, units per second. */
  stderr: number;
  intercept: number;
  n: number;
}

/** Ordinary least squares of `y` on `t` (seconds). NaN slope with fewer than 3 points. */
export function leastSquares(t: readonly number[], y: readonly number[]): Fit {
  const n = Math.min(t.length, y.length);
  if (n < 3) return { slope: Number.NaN, stderr: Number.NaN, intercept: Number.NaN, n };
  let tMean = 0;
  let yMean = 0;
  for (let i = 0; i < n; i += 1) {
    tMean += t[i] as number;
    yMean += y[i] as number;
  }
  tMean /= n;
  yMean /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i += 1) {
    const dt = (t[i] as number) - tMean;
    sxx += dt * dt;
    sxy += dt * ((y[i] as number) - yMean);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = yMean - slope * tMean;
  let residuals = 0;
  for (let i = 0; i < n; i += 1) {
    const r = (y[i] as number) - (intercept + slope * (t[i] as number));
    residuals += r * r;
  }
  const stderr = sxx === 0 ? Number.NaN : Math.sqrt(residuals / (n - 2) / sxx);
  return { slope, stderr, intercept, n };
}

export interface Trend {
  /** Samples after the warm-up that the verdict reads. */
  measured: number;
  /** The least-squares slope over every measured sample, units per hour. */
  slopePerHour: number;
  /** That slope as a share of the mean measured level, per hour (0.01 = 1% an hour). */
  sharePerHour: number;
  /** What the slope adds over the measured span, as a share of the mean level. */
  shareOverRun: number;
  /** The second half's slope, units per hour, and its lower 95% bound (slope − 2 standard errors). */
  secondHalfPerHour: number;
  secondHalfLowerPerHour: number;
  /** Lowest sample of the last third, highest of the first third. */
  lastThirdMin: number;
  firstThirdMax: number;
  mean: number;
  /** Both conditions of the rule hold: the quantity keeps rising. */
  rising: boolean;
  /** Too few samples after the warm-up to judge (fewer than 9): not judged, not rising. */
  tooShort: boolean;
}

/** The trend of `values` sampled at `t` (seconds since the start), judged on the samples from `warmupS` on. */
export function trendOf(t: readonly number[], values: readonly number[], warmupS: number): Trend {
  const points = t
    .map((time, i) => ({ time, value: values[i] as number }))
    .filter((p) => p.time >= warmupS && Number.isFinite(p.value));
  const times = points.map((p) => p.time);
  const ys = points.map((p) => p.value);
  const n = points.length;
  const mean = n ? ys.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const all = leastSquares(times, ys);
  const half = Math.floor(n / 2);
  const second = leastSquares(times.slice(half), ys.slice(half));
  const third = Math.floor(n / 3);
  const firstThirdMax = third ? Math.max(...ys.slice(0, third)) : Number.NaN;
  const lastThirdMin = third ? Math.min(...ys.slice(n - third)) : Number.NaN;
  const span = n ? (times[n - 1] as number) - (times[0] as number) : 0;
  const tooShort = n < 9;
  const secondLower = second.slope - 2 * second.stderr;
  return {
    measured: n,
    slopePerHour: all.slope * 3600,
    sharePerHour: (all.slope * 3600) / mean,
    shareOverRun: (all.slope * span) / mean,
    secondHalfPerHour: second.slope * 3600,
    secondHalfLowerPerHour: secondLower * 3600,
    lastThirdMin,
    firstThirdMax,
    mean,
    rising: !tooShort && secondLower > 0 && lastThirdMin > firstThirdMax,
    tooShort,
  };
}
