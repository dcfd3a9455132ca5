/**
 * Run by tick-shape.test.ts in a process of its own (--expose-gc --allow-natives-syntax): holds the shape,
 * idles through full collections, then says whether a new queue entry still has the held entry's shape.
 */
import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { heldTickEntry, holdTickShape } from '../../src/platform/tick-shape.js';

declare const gc: () => void;
const haveSameShape = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (
  a: object,
  b: object,
) => boolean;

function newTickEntry(): object | undefined {
  let entry: object | undefined;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject') entry = resource;
    },
  }).enable();
  process.nextTick(() => {});
  hook.disable();
  return entry;
}

if (process.argv.includes('--hold')) holdTickShape();
for (let round = 0; round < 6; round += 1) {
  for (let i = 0; i < 10_000; i += 1) process.nextTick(() => {});
  await sleep(5);
  gc();
}
const held = heldTickEntry();
const fresh = newTickEntry();
process.stdout.write(
  JSON.stringify({ held: held !== undefined, sameShape: held && fresh ? haveSameShape(held, fresh) : null }),
);
