import { createServer } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isUnreachableService } from '../../src/platform/unreachable.js';

/** What node-postgres throws when it tries `port`. */
async function pgFailure(port: number): Promise<unknown> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
  } catch (error) {
    return error;
  } finally {
    await client.end().catch(() => {});
  }
  throw new Error('connected');
}

describe('telling an unreachable database from a bug', () => {
  it('knows a refused connection', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(isUnreachableService(await pgFailure(port))).toBe(true);
  });

  it('knows a connection the database dropped', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const error = await pgFailure((server.address() as { port: number }).port);
    server.close();
    expect(String(error)).toMatch(/Connection terminated/);
    expect(isUnreachableService(error)).toBe(true);
  });

  it('knows the SQLSTATEs of a database shutting down or refusing connections, and a cause deep down', () => {
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(isUnreachableService(shutdown)).toBe(true);
    expect(isUnreachableService(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isUnreachableService(new Error('query failed', { cause: shutdown }))).toBe(true);
    expect(isUnreachableService(new AggregateError([shutdown], 'all failed'))).toBe(true);
  });

  it('leaves everything else a 500: a bad query, a broken constraint, a bug', () => {
    expect(
      isUnreachableService(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' })),
    ).toBe(false);
    expect(isUnreachableService(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUnreachableService(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(
      false,
    );
    expect(isUnreachableService('ECONNREFUSED')).toBe(false);
    // A cycle of causes ends.
    const looped = new Error('a');
    (looped as { cause?: unknown }).cause = looped;
    expect(isUnreachableService(looped)).toBe(false);
  });
});
