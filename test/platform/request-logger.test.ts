import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyRequestLoggers } from '../../src/platform/request-logger.js';

/** A pino logger at `level` writing its lines, parsed, into `lines`. */
function recording(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('request loggers made on their first line', () => {
  it('write nothing below the level, and lines at it with the request binding', () => {
    const { logger, lines } = recording('warn');
    const log = lazyRequestLoggers(logger, { request_id: 'r-1' }, {});
    log.info({ secret: 'x' }, 'not written');
    log.debug('nor this');
    log.warn({ a: 1 }, 'written');
    log.error('also %s', 'written');
    expect(lines.map((l) => [l.msg, l.request_id, l.a])).toEqual([
      ['written', 'r-1', 1],
      ['also written', 'r-1', undefined],
    ]);
    expect(log.level).toBe('warn');
  });

  it('hand children the request binding, and follow a level of their own', () => {
    const { logger, lines } = recording('warn');
    const log = lazyRequestLoggers(logger, { request_id: 'r-2' }, {});
    log.child({ stream: 's' }).warn('from the child');
    expect(lines.at(-1)).toMatchObject({ msg: 'from the child', request_id: 'r-2', stream: 's' });
    const chatty = lazyRequestLoggers(logger, { request_id: 'r-3' }, { level: 'debug' });
    chatty.debug('a route that logs more');
    expect(lines.at(-1)).toMatchObject({ msg: 'a route that logs more', request_id: 'r-3' });
    log.level = 'info';
    log.info('now written');
    expect(lines.at(-1)).toMatchObject({ msg: 'now written', request_id: 'r-2' });
  });
});
