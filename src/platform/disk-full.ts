import { fstatSync, writeSync } from 'node:fs';

/** What the system says when a write finds no room: the file system is full, or the user's quota is. */
const ERRNO = new Set(['ENOSPC', 'EDQUOT']);
/**
 * SQLite's word for it, and the one other failure only a full disk causes: the shared-memory index of the
 * write-ahead log could not grow (SQLite keeps the system's errno of either to itself).
 */
const SQLITE = new Set(['SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE']);
/** PostgreSQL's SQLSTATE disk_full. */
const SQLSTATE_DISK_FULL = '53100';

/**
 * Whether an error says the disk the server writes its data to is full, rather than that the request or
 * the code was wrong. The database refused the change whole, and the same request passes once an operator
 * has freed space: a 503, not a 500.
 */
export function isDiskFull(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (ERRNO.has(code) || SQLITE.has(code) || code === SQLSTATE_DISK_FULL))
    return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDiskFull(inner, depth + 1)))
    return true;
  return isDiskFull(error.cause, depth + 1);
}

/**
 * For a write a read makes on the side (when a session or an API key was last used): a full disk skips it
 * rather than refusing the read. Anything else is thrown on.
 */
export function unlessDiskFull(error: unknown): void {
  if (!isDiskFull(error)) throw error;
}

/** What the problem document of a full disk says. */
export const DISK_FULL_DETAIL =
  "the server's disk is full: nothing of this change was kept; reads still work; try again once space is freed";

export interface LogDestination {
  write(line: string): void;
}

function isFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * The log's destination. Where standard output is a file, Node writes it synchronously and reports a failed
 * write as an 'error' event the process dies of, and a full disk fails every write: so lines are written
 * straight to the file here, those the disk has no room for are dropped and counted, and the first line that
 * fits again is preceded by one saying how many were lost. Any other failure, or any other output, goes the
 * way it always did.
 */
export function logDestination(stdout: { write(text: string): unknown }): LogDestination {
  if (stdout !== process.stdout || !isFile(1)) return { write: (line) => void stdout.write(line) };
  let lost = 0;
  const writeAll = (text: string) => {
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; ) at += writeSync(1, bytes, at);
  };
  return {
    write(line) {
      try {
        if (lost > 0) {
          // A line cut short by the full disk ends here, so that the next one starts on a line of its own.
          writeAll(
            `\n${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, msg: `${lost} log lines were lost while the disk was full` })}\n`,
          );
          lost = 0;
        }
        writeAll(line);
      } catch (error) {
        if (!isDiskFull(error)) {
          stdout.write(line);
          return;
        }
        lost += 1;
      }
    },
  };
}
