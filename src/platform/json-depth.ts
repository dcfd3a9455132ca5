/**
 * Whether objects and arrays in `value` nest more than `max` levels. Walks with a stack of its own: a parsed
 * body can nest far deeper (JSON.parse takes 100,000 levels) than JSON.stringify or any recursive walk can
 * follow before the stack overflows.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}
