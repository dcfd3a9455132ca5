import { describe, expect, it } from 'vitest';
import { isDiskFull, logDestination, unlessDiskFull } from '../../src/platform/disk-full.js';
import { toAppError } from '../../src/platform/errors.js';
import { ErrorCode } from '../../src/platform/problem.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('telling a full disk from a bug', () => {
  it("knows SQLite's, the system's and PostgreSQL's word for it, and a cause deep down", () => {
    expect(isDiskFull(coded('SQLITE_FULL', 'database or disk is full'))).toBe(true);
    expect(isDiskFull(coded('SQLITE_IOERR_SHMSIZE'))).toBe(true);
    expect(isDiskFull(coded('ENOSPC', 'ENOSPC: no space left on device, write'))).toBe(true);
    expect(isDiskFull(coded('EDQUOT'))).toBe(true);
    expect(isDiskFull(coded('53100', 'could not extend file'))).toBe(true);
    expect(isDiskFull(new Error('query failed', { cause: coded('SQLITE_FULL') }))).toBe(true);
    expect(isDiskFull(new AggregateError([coded('ENOSPC')], 'all failed'))).toBe(true);
  });

  it('leaves everything else alone: another SQLite error, a broken constraint, a bug, a loop of causes', () => {
    expect(isDiskFull(coded('SQLITE_ERROR', 'cannot rollback - no transaction is active'))).toBe(false);
    expect(isDiskFull(coded('SQLITE_IOERR_WRITE'))).toBe(false);
    expect(isDiskFull(coded('SQLITE_CONSTRAINT_UNIQUE'))).toBe(false);
    expect(isDiskFull(coded('23505', 'duplicate key'))).toBe(false);
    expect(isDiskFull(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDiskFull('ENOSPC')).toBe(false);
    const looped = new Error('a');
    (looped as { cause?: unknown }).cause = looped;
    expect(isDiskFull(looped)).toBe(false);
  });

  it('is a 503 of its own with Retry-After, not a 500', () => {
    const error = toAppError(coded('SQLITE_FULL', 'database or disk is full') as never);
    expect(error.code).toBe(ErrorCode.diskFull);
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/disk is full/);
    expect(error.options.retryAfter).toBeGreaterThan(0);
    expect(toAppError(coded('SQLITE_ERROR') as never).status).toBe(500);
  });

  it('lets a read go on when only its record of use could not be written', async () => {
    await expect(Promise.reject(coded('SQLITE_FULL')).catch(unlessDiskFull)).resolves.toBeUndefined();
    await expect(Promise.reject(coded('SQLITE_BUSY')).catch(unlessDiskFull)).rejects.toThrow();
  });

  it('writes the log to any other output as it always did', () => {
    const lines: string[] = [];
    logDestination({ write: (text: string) => lines.push(text) }).write('{"msg":"hello"}\n');
    expect(lines).toEqual(['{"msg":"hello"}\n']);
  });
});
