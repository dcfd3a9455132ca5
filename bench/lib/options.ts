/** A positive number from a command-line option, or an error that names the option and shows the usage. */
export function positiveOption(name: string, raw: string, integer: boolean, usage: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(
      `--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"\n\n${usage}`,
    );
  }
  return n;
}

/** A warm-up may be zero. */
export function warmupOption(raw: string, usage: string): number {
  return Number(raw) >= 0 ? Number(raw) : positiveOption('warmup', raw, false, usage);
}

/** The options every bench takes; spread into `parseArgs` beside its own. */
export function commonOptionSpecs(defaults: { runs: number; duration: number }) {
  return {
    runs: { type: 'string', default: String(defaults.runs) },
    duration: { type: 'string', default: String(defaults.duration) },
    warmup: { type: 'string', default: '3' },
    source: { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    note: { type: 'string' },
    help: { type: 'boolean', default: false },
  } as const;
}

export interface CommonOptions {
  runs: number;
  durationS: number;
  warmupS: number;
  runtime: 'dist' | 'source';
  docs: boolean;
  note: string | undefined;
}

/** The common options read and checked. */
export function commonOptions(
  values: {
    runs: string;
    duration: string;
    warmup: string;
    source: boolean;
    'no-docs': boolean;
    note?: string;
  },
  usage: string,
): CommonOptions {
  return {
    runs: positiveOption('runs', values.runs, true, usage),
    durationS: positiveOption('duration', values.duration, false, usage),
    warmupS: warmupOption(values.warmup, usage),
    runtime: values.source ? 'source' : 'dist',
    docs: !values['no-docs'],
    note: values.note,
  };
}
