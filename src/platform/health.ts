import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from './problem.js';

export type ReadinessCheck = () => Promise<void>;

export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const CHECK = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok', 'error', 'degraded'] } },
};
/** What the checks answer, for /openapi.json only: Fastify does not reshape these bodies. */
const LIVE = {
  description: 'Alive',
  type: 'object',
  required: ['status', 'version', 'uptime_seconds'],
  properties: {
    status: { const: 'ok' },
    version: { type: 'string' },
    uptime_seconds: { type: 'integer', minimum: 0 },
  },
};
const READY = {
  description: 'Ready; `degraded` names what runs on its fallback',
  type: 'object',
  required: ['status', 'checks', 'degraded'],
  properties: {
    status: { const: 'ready' },
    checks: { type: 'object', additionalProperties: CHECK },
    degraded: { type: 'array', items: { type: 'string' } },
  },
};

/** Liveness always answers; readiness runs each check with a time limit and is a 503, never a 500. */
export function registerHealth(
  app: FastifyInstance,
  options: {
    version: string;
    checks: Record<string, ReadinessCheck>;
    /**
     * Dependencies with a fallback, each answering whether it is there: listed in `checks` as ok or
     * degraded, and by name in `degraded` when away; the answer stays a 200.
     */
    fallbacks: Record<string, () => Promise<boolean>>;
    timeoutMs: number;
    startedAt: number;
  },
): void {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness', answers: { 200: LIVE } } },
    async () => ({
      status: 'ok',
      version: options.version,
      uptime_seconds: Math.floor((Date.now() - options.startedAt) / 1000),
    }),
  );

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness', answers: { 200: READY } } },
    async () => {
      const results: Record<string, { status: 'ok' | 'error' | 'degraded' }> = {};
      await Promise.all([
        ...Object.entries(options.checks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), options.timeoutMs, name);
            results[name] = { status: 'ok' };
          } catch (error) {
            // The reason goes to the log only: it may name hosts and ports.
            app.log.warn(
              { check: name, reason: error instanceof Error ? error.message : String(error) },
              'readiness check failed',
            );
            results[name] = { status: 'error' };
          }
        }),
        ...Object.entries(options.fallbacks).map(async ([name, answers]) => {
          const there = await withTimeout(answers(), options.timeoutMs, name).catch(() => false);
          results[name] = { status: there ? 'ok' : 'degraded' };
        }),
      ]);
      const failed = Object.keys(results).filter((name) => results[name]?.status === 'error');
      if (failed.length > 0) {
        throw new AppError(ErrorCode.unavailable, `not ready: ${failed.join(', ')} unavailable`, {
          retryAfter: 5,
          extensions: { checks: results },
        });
      }
      const degraded = Object.keys(options.fallbacks).filter((name) => results[name]?.status === 'degraded');
      return { status: 'ready', checks: results, degraded };
    },
  );
}
