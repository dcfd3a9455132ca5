/**
 * Preloaded into the soak's server (`node --expose-gc --import ./bench/soak/gc-on-signal.mjs`): SIGUSR2
 * runs a full garbage collection, so that the soak can read the heap still in use (what a leak raises)
 * apart from garbage not yet collected, and says so on stderr (`soak-gc N`) once it is done, so that the
 * soak reads the heap after it. Nothing else of the server changes.
 */
let collections = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  collections += 1;
  process.stderr.write(`soak-gc ${collections}\n`);
});
