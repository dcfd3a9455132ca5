import { execFile } from 'node:child_process';

const CHECK_TIMEOUT_MS = 10_000;

/**
 * The line of a module's syntax error, 0 when Node does not say; undefined when `node --check` finds none.
 * import() reports a syntax error without its line. The check runs here, not in the function's child, which
 * may not start processes; it only parses the module, so none of its code runs.
 */
export function syntaxErrorLine(modulePath: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--check', modulePath],
      { env: {}, timeout: CHECK_TIMEOUT_MS, windowsHide: true },
      (error, _stdout, stderr) => {
        if (!error || !stderr.includes('SyntaxError')) {
          resolve(undefined);
          return;
        }
        const line = /:(\d+)\r?$/m.exec(stderr.split('\n')[0] ?? '');
        resolve(line ? Number(line[1]) : 0);
      },
    );
  });
}
