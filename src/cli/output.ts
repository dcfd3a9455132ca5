import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Where a command reads and writes: the process's own streams, or a test's. */
export interface CliIo {
  /** The result, which scripts read. */
  readonly stdout: { write(text: string): unknown };
  /** What a command says about its run (problems, notices), out of the result's way. */
  readonly stderr: { write(text: string): unknown };
  readonly stdin: Readable;
  /** Where settings come from (SWITCHBOARD_*, PORT, HOST). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The command line as an operator runs it. */
export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

/** Rows as columns two spaces apart, each as wide as its widest cell, without trailing spaces. */
export const table = (rows: string[][]) => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

/** Writes `text` to a file only its owner may read, before the first byte (also when the file was there). */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const file = await open(path, 'w', 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}
