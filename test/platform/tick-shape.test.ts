import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { heldTickEntry } from '../../src/platform/tick-shape.js';
import { startTestApp } from '../fixture.js';

const run = promisify(execFile);

async function child(...args: string[]) {
  const { stdout } = await run(process.execPath, [
    '--expose-gc',
    '--allow-natives-syntax',
    '--import',
    'tsx',
    'test/platform/tick-shape-child.ts',
    ...args,
  ]);
  return JSON.parse(stdout) as { held: boolean; sameShape: boolean | null };
}

describe('the shape of process.nextTick entries', () => {
  it('is held: entries made after idle full collections share the held entry’s shape', async () => {
    expect(await child('--hold')).toEqual({ held: true, sameShape: true });
  });

  it('is held by every app built', async () => {
    expect(heldTickEntry()).toBeUndefined();
    const t = await startTestApp();
    try {
      expect(heldTickEntry()).toBeDefined();
    } finally {
      await t.close();
    }
  });
});
