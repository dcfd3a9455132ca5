import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { CommonOptions, TimedOptions } from './options.js';
import { ROOT } from './server.js';
import { SUMMARY_SECTION, type TargetResult, targetsComment, withSummary } from './summary.js';

export { type TargetResult, verdictText } from './summary.js';

/** A Markdown table; cells are written as given (escape `|` yourself if a cell may hold one). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Milliseconds with a precision that suits their size: 0.84, 12.3, 187. */
export function ms(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return value.toFixed(0);
}

/** A count with thousands separators: 1,000,000. */
export const count = (n: number) => n.toLocaleString('en-US');

/** Cores (CPU seconds per second) to two places; n/a where /proc could not say. */
export const cores = (n: number) => (Number.isNaN(n) ? 'n/a' : n.toFixed(2));

/** The conditions a result depends on, recorded beside every result. */
export interface MachineConditions {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  loadAverage: string;
  commit: string;
}

export function machineConditions(): MachineConditions {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // Not Linux: os.cpus() said enough.
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // Not a git checkout.
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(', '),
    commit,
  };
}

export function conditionsLine(c: MachineConditions): string {
  return (
    `${c.date}, ${c.cpus} CPUs (${c.cpuModel}), ${c.memoryGiB} GiB, Node ${c.node}, ` +
    `load average at start ${c.loadAverage}, commit ${c.commit}`
  );
}

export const BENCHMARKS_DOC = 'docs/BENCHMARKS.md';

/**
 * Puts `body` between the markers `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` of the document,
 * replacing what a previous run wrote there, or appends a new marked section at the end; then rebuilds the
 * summary of targets (bench/lib/summary.ts) from every section's target comment.
 */
export function writeDocSection(file: string, name: string, body: string): void {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const block = `${open}\n${body.trim()}\n${close}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(open);
  const end = current.indexOf(close);
  const next =
    start !== -1 && end > start
      ? current.slice(0, start) + block + current.slice(end + close.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, name === SUMMARY_SECTION ? next : withSummary(next));
}

/**
 * Writes a bench's report into its section of `file`, its targets (when given) as the comment the summary is
 * rebuilt from, and rebuilds the summary.
 */
export function writeBenchSection(
  file: string,
  name: string,
  markdown: string,
  targets: readonly TargetResult[] | undefined,
): void {
  writeDocSection(file, name, targets ? `${targetsComment(targets)}\n${markdown.trim()}` : markdown);
}

/**
 * The lines every bench report opens its figures with: a warning when the run was too short to count
 * (`trial`, with what one run was, such as "run(s) of 10 s per phase"), the operator's note, and the
 * machine's conditions.
 */
export function reportPreamble(options: {
  bench: string;
  trial: string | undefined;
  note: string | undefined;
  conditions: MachineConditions;
}): string[] {
  const lines: string[] = [];
  if (options.trial) {
    lines.push(
      `> **Trial figures, not a measurement:** ${options.trial}. ` +
        `Re-run on a quiet machine with the defaults (\`npm run bench -- ${options.bench}\`) for the real numbers.`,
      '',
    );
  }
  if (options.note) lines.push(`> Note: ${options.note}`, '');
  lines.push(`Conditions: ${conditionsLine(options.conditions)}.`, '');
  return lines;
}

/** A flag of a bench's command line with its value; `false` for one left out. */
export type Flag = readonly [string, string | number] | false;

/** A bench's section of the report, between its heading and preamble and its per-run table. */
export interface ReportSection {
  /** The heading, before `(bench/NAME)`. */
  title: string;
  /** The lines under the heading: what the bench asks, and its target. */
  question: readonly string[];
  /** What one run was when the run was too short to count (see reportPreamble); undefined otherwise. */
  trial: string | undefined;
  /** Method, tables, result…: each followed by a blank line; those that are `false` or empty are left out. */
  paragraphs: readonly (string | false)[];
  perRun: string;
}

/** How a bench run ended, for publish: `failed` and `skipped` say why the report is not written. */
export interface Outcome {
  /** Something went wrong: exit code 1. */
  failed?: string | undefined;
  /** The run is fine but not one to record (exit code 0). */
  skipped?: string | undefined;
  /** A file the bench wrote beside the report, for the message. */
  alsoWrote?: string;
  /**
   * The targets the report's Result states, made from the same values as its Markdown: written into the
   * section as a target comment, from which the summary at the top of BENCHMARKS_DOC is rebuilt.
   */
  targets?: readonly TargetResult[];
}

/** One run of a bench, from its start: what its report and the recording of it need. */
export interface BenchRun {
  /** Taken when the run started (the load average then). */
  readonly conditions: MachineConditions;
  /** How the server under test was started, as a report says it. */
  readonly serverCommand: string;
  /**
   * The command that reproduces the result: the bench, --source when it ran src/, --runs (and for a bench
   * that measures for a time --duration and --warmup), then `flags`.
   */
  command(flags: readonly Flag[]): string;
  /** The Markdown of the bench's section: heading, question, preamble, paragraphs, per-run table. */
  report(section: ReportSection): string;
  /**
   * Prints the Markdown, then, unless the outcome says otherwise or --no-docs was given, writes it into the
   * bench's section of BENCHMARKS_DOC with the outcome's targets as a comment, and rebuilds the summary of
   * targets. Returns the exit code.
   */
  publish(markdown: string, outcome?: Outcome): number;
}

export function benchRun(bench: string, options: CommonOptions | TimedOptions): BenchRun {
  const conditions = machineConditions();
  const say = (text: string) => process.stderr.write(`bench ${bench}: ${text}\n`);
  return {
    conditions,
    serverCommand:
      options.runtime === 'dist' ? 'node dist/main.js serve' : 'node --import tsx src/main.ts serve',
    command(flags) {
      const timed: Flag[] =
        'durationS' in options
          ? [
              ['duration', options.durationS],
              ['warmup', options.warmupS],
            ]
          : [];
      const given = [['runs', options.runs] as const, ...timed, ...flags].flatMap((flag) =>
        flag ? [` --${flag[0]} ${flag[1]}`] : [],
      );
      return `npm run bench -- ${bench}${options.runtime === 'source' ? ' --source' : ''}${given.join('')}`;
    },
    report(section) {
      return [
        `## ${section.title} (bench/${bench})`,
        '',
        ...section.question,
        '',
        ...reportPreamble({ bench, trial: section.trial, note: options.note, conditions }),
        ...section.paragraphs.flatMap((paragraph) => (paragraph ? [paragraph, ''] : [])),
        'Per run:',
        '',
        section.perRun,
      ].join('\n');
    },
    publish(markdown, outcome = {}) {
      process.stdout.write(`${markdown}\n`);
      if (outcome.failed) {
        say(`${outcome.failed}; ${BENCHMARKS_DOC} not updated`);
        return 1;
      }
      if (!options.docs) return 0;
      if (outcome.skipped) {
        say(`${outcome.skipped}; ${BENCHMARKS_DOC} not updated`);
        return 0;
      }
      writeBenchSection(`${ROOT}/${BENCHMARKS_DOC}`, bench, markdown, outcome.targets);
      say(`wrote the result into ${BENCHMARKS_DOC}${outcome.alsoWrote ? ` and ${outcome.alsoWrote}` : ''}`);
      return 0;
    },
  };
}
