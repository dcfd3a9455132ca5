const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNITS;
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;

/** "90s", "15m", "7d" → milliseconds; undefined for anything else (no bare numbers: the unit is explicit). */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2] as Unit];
}

/** The largest unit that divides the duration exactly: 900000 → "15m". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNITS[unit] && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
