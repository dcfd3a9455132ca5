import { describe, expect, it } from 'vitest';
import { measureBundle } from '../../bench/client/bundle.js';

// bench/client reports these figures in docs/BENCHMARKS.md; what they rest on is checked here.
describe('bench/client bundle measurement', () => {
  it('bundles the client with openapi-fetch and without the generated route types', async () => {
    const bundle = await measureBundle();
    const inputs = bundle.inputs.map((i) => i.input);
    expect(inputs).toContain('packages/client/src/live.ts');
    expect(inputs.some((i) => i.startsWith('node_modules/openapi-fetch/'))).toBe(true);
    // Types only: an import of a value from them would put the whole route table into every bundle.
    expect(inputs.some((i) => i.endsWith('generated/openapi.ts'))).toBe(false);
    const attributed = bundle.inputs.reduce((sum, i) => sum + i.bytes, 0);
    expect(attributed).toBeGreaterThan(bundle.raw * 0.9);
    expect(attributed).toBeLessThanOrEqual(bundle.raw);
    expect(bundle.gzip).toBeGreaterThan(0);
    expect(bundle.gzip).toBeLessThan(bundle.raw);
    expect(bundle.brotli).toBeLessThan(bundle.raw);
  });
});
