import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATES, runSoak, type SoakResult } from '../../bench/soak/engine.js';

/**
 * The soak of bench/soak (the same engine, bench/soak/engine.ts) for SWITCHBOARD_SOAK_SECONDS (default 180)
 * against the built server: sign-ins, reads, preference patches, SWITCHBOARD_SOAK_SUBSCRIBERS live
 * subscribers (default 2,000, WebSocket and SSE, some reconnecting every second), producers polling a
 * loopback upstream, a configuration activated every minute. It checks what must hold however busy the
 * machine is, never how fast: every request answered as it must be, every event delivered once to every
 * subscriber, the heap in use and the active handles not rising after the warm-up, the server ready
 * throughout and stopping cleanly. Run by `npm run test:soak` (vitest.soak.config.ts); `npm test` leaves it out.
 */
const SECONDS = Number(process.env.SWITCHBOARD_SOAK_SECONDS ?? 180);
const SUBSCRIBERS = Number(process.env.SWITCHBOARD_SOAK_SUBSCRIBERS ?? 2000);
const ACTIVATION_EVERY_S = 60;

describe(`soak: ${SECONDS} s of mixed load`, () => {
  let result: SoakResult;

  beforeAll(async () => {
    result = await runSoak({
      durationS: SECONDS,
      subscribers: SUBSCRIBERS,
      workers: 2,
      sampleEveryS: 10,
      activationEveryS: ACTIVATION_EVERY_S,
      rates: { ...DEFAULT_RATES },
      runtime: 'dist',
      build: false,
      progress: (line) => process.stderr.write(`soak: ${line}\n`),
    });
  });

  afterAll(() => {
    if (result)
      process.stderr.write(`soak: errors: ${result.errors.length ? result.errors.join('\n') : 'none'}\n`);
  });

  it('ran the load it was asked for', () => {
    expect(result.subscribers.connectedAtStart).toBe(SUBSCRIBERS + 2);
    expect(result.requests.sent).toBeGreaterThan(SECONDS * DEFAULT_RATES.reads * 0.9);
    for (const name of [
      'POST /auth/login',
      'PATCH /preferences (editor)',
      'PATCH /preferences (viewer)',
      'GET /preferences',
    ]) {
      expect(result.requests.routes.get(name)?.ok, name).toBeGreaterThan(0);
    }
    // The first activation is part of the set-up; then one a minute (the last may fall on the end).
    expect(result.activations.done).toBeGreaterThanOrEqual(Math.floor(SECONDS / ACTIVATION_EVERY_S));
    expect(result.subscribers.reconnects).toBeGreaterThan(SECONDS * DEFAULT_RATES.churn * 0.5);
    expect(result.subscribers.events).toBeGreaterThan(SECONDS * SUBSCRIBERS * 0.5);
    expect(result.upstreamRequests).toBeGreaterThan(SECONDS * 8);
  });

  it('answers every request as it must', () => {
    expect(result.requests.failureSamples).toEqual([]);
    expect(result.requests.failed).toBe(0);
    expect(result.activations.failed).toBe(0);
  });

  it('delivers every event once to every subscriber, across reconnects and activations', () => {
    const subs = result.subscribers;
    expect(subs.samples).toEqual([]);
    expect({
      gaps: subs.gaps,
      duplicates: subs.duplicates,
      resets: subs.resets,
      epochChanges: subs.epochChanges,
      dropped: subs.dropped,
      reconnectFailures: subs.reconnectFailures,
      unexpected: subs.unexpected,
      statusErrors: subs.statusErrors,
      stalledSamples: subs.stalledSamples,
      lagging: subs.lagging,
    }).toEqual({
      gaps: 0,
      duplicates: 0,
      resets: 0,
      epochChanges: 0,
      dropped: {},
      reconnectFailures: 0,
      unexpected: 0,
      statusErrors: 0,
      stalledSamples: 0,
      lagging: [],
    });
  });

  it('keeps the heap in use flat after the warm-up', () => {
    expect(result.heap.tooShort).toBe(false);
    expect(result.heap.rising, `the heap in use keeps rising: ${JSON.stringify(result.heap)}`).toBe(false);
  });

  it('keeps the active handles flat after the warm-up', () => {
    expect(result.handles.tooShort).toBe(false);
    expect(result.handles.rising, `the active handles keep rising: ${JSON.stringify(result.handles)}`).toBe(
      false,
    );
  });

  it('stays ready throughout and stops cleanly', () => {
    expect(result.scrapeFailures).toBe(0);
    expect(result.notReady).toBe(0);
    expect(result.samples.every((s) => s.ready)).toBe(true);
    expect(result.serverExit).toBeUndefined();
    expect(result.errors).toEqual([]);
  });
});
