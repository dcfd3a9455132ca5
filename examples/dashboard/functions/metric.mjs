// A made-up measurement for the demo: a random walk that drifts back towards `base`, kept within
// `base ± spread`. Each stream runs its function in a process of its own that lives between calls, so
// the walk goes on from where the last call left it.
let value;

export default function metric({ base, spread, step, decimals = 1 }) {
  value ??= base;
  value += (Math.random() * 2 - 1) * step + (base - value) * 0.1;
  value = Math.min(base + spread, Math.max(base - spread, value));
  const scale = 10 ** decimals;
  return { value: Math.round(value * scale) / scale };
}
