import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../fixture.js';

/**
 * Node prints process warnings (Fastify's FSTDEP deprecations among them) on standard error, where an
 * operator reads them at every start. This file builds and starts the first app of its process, so each
 * warning, emitted once per process, is emitted here if anything still causes it.
 */
const warnings: string[] = [];
const onWarning = (warning: Error & { code?: string }) => {
  warnings.push(`${warning.name}${warning.code ? ` ${warning.code}` : ''}: ${warning.message}`);
};
process.on('warning', onWarning);

let t: TestApp | undefined;
afterAll(async () => {
  process.off('warning', onWarning);
  await t?.close();
});

describe('a start', () => {
  it('emits no process warning: no deprecation, nothing else', async () => {
    t = await startTestApp();
    expect((await t.client().call('/healthz')).status).toBe(200);
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
  });
});
