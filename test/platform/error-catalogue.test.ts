import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, categoryOf, ERRORS, ErrorCode, statusOf } from '../../src/platform/problem.js';

/** The rows of the code table in docs/errors.md, as `code|status|meaning`. */
function documentedRows(): string[] {
  const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  return [...text.matchAll(/^\| (\d{4}) \| (\d{3}) \| (.+) \|$/gm)].map(([, code, status, meaning]) =>
    [code, status, meaning].join('|'),
  );
}

describe('the error catalogue', () => {
  const catalogued = Object.values(ERRORS).map((e) => [e.code, e.status, e.doc].join('|'));

  it('and docs/errors.md list the same codes, statuses and meanings, both ways', () => {
    const documented = documentedRows();
    expect(documented.filter((row) => !catalogued.includes(row))).toEqual([]);
    expect(catalogued.filter((row) => !documented.includes(row))).toEqual([]);
  });

  it('gives each code one 4xx or 5xx status and a known category', () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const spec of Object.values(ERRORS)) {
      expect(spec.status >= 400 && spec.status < 600, `${spec.code}`).toBe(true);
      expect('1234578', `${spec.code}`).toContain(String(spec.code).charAt(0));
    }
  });

  it('gives 408, 426 and 431 codes of their own in the validation range', () => {
    const byStatus = (status: number) =>
      Object.values(ERRORS)
        .filter((e) => e.status === status)
        .map((e) => e.code);
    for (const status of [400, 408, 413, 415, 426, 431]) {
      const codes = byStatus(status);
      expect(codes).toHaveLength(1);
      expect(categoryOf(codes[0] ?? 0).name).toBe('validation');
    }
  });

  it('makes every AppError go out with its code’s status', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(new AppError(code, 'x').status).toBe(statusOf(code));
    }
  });
});
