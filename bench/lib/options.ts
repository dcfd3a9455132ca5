import { parseArgs } from 'node:util';
import { BENCHMARKS_DOC } from './report.js';
import type { Runtime } from './server.js';

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

/** A comma-separated list of at least one value. */
export function listOption(name: string, raw: string, usage: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`--${name} must name at least one value\n\n${usage}`);
  return items;
}

/** `listOption` whose every value must be one of `allowed`. */
export function choicesOption<T extends string>(
  name: string,
  raw: string,
  allowed: readonly T[],
  usage: string,
): T[] {
  const items = listOption(name, raw, usage);
  const wrong = items.filter((item) => !allowed.includes(item as T));
  if (wrong.length)
    throw new Error(`--${name}: unknown ${wrong.join(', ')}; one of ${allowed.join(', ')}\n\n${usage}`);
  return items as T[];
}

/**
 * The usage text of a bench: its options (name and text; a text's further lines are indented under the
 * first), then those every bench takes (--source, --no-docs, --note; `source` and `noDocs` replace their
 * texts), then `after`. Option names are padded to `width` so the texts line up.
 */
export function usageText(
  bench: string,
  spec: {
    width: number;
    options: readonly (readonly [string, string])[];
    source?: string;
    noDocs?: string;
    after?: string;
  },
): string {
  const rows: readonly (readonly [string, string])[] = [
    ...spec.options,
    ['--source', spec.source ?? 'run src/ with tsx instead of building and running dist/'],
    ['--no-docs', spec.noDocs ?? `print only; do not update ${BENCHMARKS_DOC}`],
    ['--note TEXT', 'a remark printed and written with the result (say, "machine busy")'],
  ];
  const indent = ' '.repeat(spec.width + 2);
  const lines = rows.map(
    ([name, text]) => `  ${name.padEnd(spec.width)}${text.split('\n').join(`\n${indent}`)}`,
  );
  return `Usage: npm run bench -- ${bench} [options]\n\n${lines.join('\n')}\n${spec.after ? `\n${spec.after}\n` : ''}`;
}

/** What every bench's options hold, read and checked. */
export interface CommonOptions {
  runs: number;
  runtime: Runtime;
  docs: boolean;
  note: string | undefined;
}

/** The common options of a bench that measures for a time: --duration and --warmup in seconds. */
export interface TimedOptions extends CommonOptions {
  durationS: number;
  warmupS: number;
}

/** The common options of a bench that counts repetitions: --warmup is a whole number of them, not seconds. */
export interface CountedOptions extends CommonOptions {
  warmup: number;
}

/**
 * How a bench measures: for a time (`duration`, the default measured seconds; the warm-up is in seconds
 * too) or by repetitions (the warm-up is a whole number of what `counts` names, such as "requests").
 */
export type Measure = { duration: number } | { counts: string };

/** The common options of a bench that measures as `M` says. */
export type CommonOptionsOf<M extends Measure> = M extends { duration: number }
  ? TimedOptions
  : CountedOptions;

/**
 * Reads a bench's command line: the common options (--runs, --duration for a bench that measures for a
 * time, --warmup, --source, --no-docs, --note, --help) and the bench's own string options, given with
 * their defaults (`own`, returned as given: check them with positiveOption and such). Undefined after
 * --help, which prints `usage`.
 */
export function parseBenchArgs<M extends Measure, Own extends string>(
  argv: readonly string[],
  usage: string,
  defaults: { runs: number } & M,
  own: Record<Own, string>,
): { common: CommonOptionsOf<M>; own: Record<Own, string> } | undefined {
  const timed = 'duration' in defaults;
  const text = (value: string) => ({ type: 'string', default: value }) as const;
  const { values }: { values: Record<string, string | boolean | undefined> } = parseArgs({
    args: [...argv],
    options: {
      ...Object.fromEntries(Object.entries<string>(own).map(([name, value]) => [name, text(value)])),
      runs: text(String(defaults.runs)),
      ...(timed && { duration: text(String(defaults.duration)) }),
      warmup: text('3'),
      source: { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      note: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return undefined;
  }
  const given = (name: string) => String(values[name]);
  const common: CommonOptions = {
    runs: positiveOption('runs', given('runs'), true, usage),
    runtime: values.source ? 'source' : 'dist',
    docs: !values['no-docs'],
    note: values.note === undefined ? undefined : given('note'),
  };
  const warmup = given('warmup');
  const measured: TimedOptions | CountedOptions = timed
    ? {
        ...common,
        durationS: positiveOption('duration', given('duration'), false, usage),
        warmupS: warmupOption(warmup, usage),
      }
    : { ...common, warmup: wholeWarmup(warmup, defaults.counts, usage) };
  return {
    common: measured as CommonOptionsOf<M>,
    own: Object.fromEntries(Object.keys(own).map((name) => [name, given(name)])) as Record<Own, string>,
  };
}

function wholeWarmup(raw: string, counts: string, usage: string): number {
  const n = warmupOption(raw, usage);
  if (!Number.isInteger(n))
    throw new Error(`--warmup counts ${counts}: a whole number, got "${raw}"\n\n${usage}`);
  return n;
}
