import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditSampler } from '../../src/audit/sampler.js';

describe('AuditSampler', () => {
  it('lets one record per key per window through, and counts those it left out', () => {
    let now = 0;
    const sampler = new AuditSampler({ windowMs: 1000, maxKeys: 10, maxPerWindow: 100 }, () => now);
    expect(sampler.admit('a')).toBe(0);
    expect(sampler.admit('a')).toBeUndefined();
    expect(sampler.admit('b')).toBe(0);
    now = 999;
    expect(sampler.admit('a')).toBeUndefined();
    now = 1000;
    expect(sampler.admit('a')).toBe(2);
    expect(sampler.admit('a')).toBeUndefined();
  });

  it('never lets more than maxPerWindow through in a window, however many keys', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ key: fc.integer({ min: 0, max: 50 }), step: fc.integer({ min: 0, max: 300 }) }),
          {
            maxLength: 400,
          },
        ),
        (calls) => {
          let now = 0;
          const policy = { windowMs: 1000, maxKeys: 100, maxPerWindow: 15 };
          const sampler = new AuditSampler(policy, () => now);
          const admitted: { key: number; at: number }[] = [];
          for (const { key, step } of calls) {
            now += step;
            if (sampler.admit(String(key)) !== undefined) admitted.push({ key, at: now });
          }
          for (const a of admitted) {
            const inWindow = admitted.filter((b) => b.at >= a.at && b.at < a.at + policy.windowMs);
            // The global window restarts at its first admission, so any span of one window holds at most two of them.
            expect(inWindow.length).toBeLessThanOrEqual(2 * policy.maxPerWindow);
            expect(inWindow.filter((b) => b.key === a.key)).toHaveLength(1);
          }
        },
      ),
    );
  });

  it('remembers at most maxKeys keys, forgetting the stalest first', () => {
    let now = 0;
    const sampler = new AuditSampler({ windowMs: 1000, maxKeys: 3, maxPerWindow: 100 }, () => now);
    for (const key of ['a', 'b', 'c', 'd']) {
      now += 1;
      expect(sampler.admit(key)).toBe(0);
    }
    // `a` was forgotten to make room for `d`; coming back, it pushes out `b`, now the stalest.
    expect(sampler.admit('a')).toBe(0);
    expect(sampler.admit('c')).toBeUndefined();
    expect(sampler.admit('b')).toBe(0);
  });
});
