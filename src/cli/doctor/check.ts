/** What one check found: `skipped` when it could not or need not run (the finding says why). */
export type Status = 'ok' | 'warn' | 'fail' | 'skipped';

/** One line of the report; the names are the JSON's. */
export interface Finding {
  /** Short and stable, for scripts: "database", "clock-skew". */
  readonly name: string;
  readonly status: Status;
  /** One line: what was found. */
  readonly finding: string;
  /** What to do (a command to run, a setting to change) when the status is warn or fail; else null. */
  readonly fix: string | null;
}

export const ok = (name: string, finding: string): Finding => ({ name, status: 'ok', finding, fix: null });
export const warn = (name: string, finding: string, fix: string): Finding => ({
  name,
  status: 'warn',
  finding,
  fix,
});
export const fail = (name: string, finding: string, fix: string): Finding => ({
  name,
  status: 'fail',
  finding,
  fix,
});
export const skipped = (name: string, why: string): Finding => ({
  name,
  status: 'skipped',
  finding: why,
  fix: null,
});

/** One of several things wrong with what one check looks at. */
export interface Problem {
  readonly status: 'warn' | 'fail';
  readonly finding: string;
  readonly fix: string;
}

/**
 * Several problems of one thing (a directory too open and owned by someone else) as one finding: the
 * worst status, the findings and the fixes each joined. Undefined when there is no problem.
 */
export function combine(name: string, problems: readonly Problem[]): Finding | undefined {
  if (problems.length === 0) return undefined;
  return {
    name,
    status: problems.some((p) => p.status === 'fail') ? 'fail' : 'warn',
    finding: problems.map((p) => p.finding).join('; '),
    fix: problems.map((p) => p.fix).join('; '),
  };
}

/** An error's message for a finding, on one line. */
export function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message.replace(/\s*\n\s*/g, ' ').trim() || error.name;
}

/** The file mode bits as chmod takes them: 0755. */
export const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
