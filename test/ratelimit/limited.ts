import { expect } from 'vitest';
import { errorCode, type Reply } from '../client.js';

/** Asserts a rate-limit refusal: 429, the code, Retry-After of at least a second, and nothing left. */
export function expectRefused(res: Reply, code: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(errorCode(res)).toBe(code);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(res.body.error_detail.retry_after).toBe(Number(res.headers['retry-after']));
  expect(res.body.error_detail.retryable).toBe(true);
  // A concurrency cap is not a window: the RateLimit fields keep describing the caller's windows.
  if (code !== 5002) expect(res.headers['ratelimit-remaining']).toBe('0');
}

/** Runs `n` calls one after another and returns their replies. */
export async function times(n: number, call: () => Promise<Reply>): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < n; i += 1) replies.push(await call());
  return replies;
}
