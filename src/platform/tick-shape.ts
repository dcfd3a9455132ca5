import { createHook } from 'node:async_hooks';

let held: object | undefined;

/**
 * Keeps one entry of `process.nextTick`'s queue alive for the life of the process, so that V8 keeps the
 * shape (hidden class) every entry is built with.
 *
 * Node builds each entry as an object literal with two symbol keys. V8 holds that literal's shape only
 * weakly, so a full collection at a moment when no entry is alive (an idle server) frees it, and the next
 * entry gets a new one. The optimised `nextTick` records every shape it meets; after three or four it
 * stops specialising, and from then on each entry's two keys are added through V8's runtime: 280 ns an
 * entry instead of 60. An HTTP answer takes nine entries (Node's stream and socket code), so a server that
 * had idled a few times paid 2–3 µs more per request than a fresh one, 10–15% of a `/healthz` answer
 * (docs/BENCHMARKS.md, hot path). An entry held here keeps the shape reachable. Once per process.
 */
export function holdTickShape(): void {
  if (held) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') held ??= resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
}

/** The entry held, for tests. */
export function heldTickEntry(): object | undefined {
  return held;
}
