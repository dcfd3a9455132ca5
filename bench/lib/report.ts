import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

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
 * replacing what a previous run wrote there, or appends a new marked section at the end.
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
  writeFileSync(file, next);
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
