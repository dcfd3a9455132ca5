import type { Operation } from './contract.js';
import type { Built } from './requests.js';
import type { Identity, World } from './world.js';

/** SWITCHBOARD_FUZZ_REQUESTS: 10,000 by default (the CI run); the full run is 100,000. */
export function fuzzRequests(): number {
  const value = Number(process.env.SWITCHBOARD_FUZZ_REQUESTS ?? 10_000);
  if (!Number.isInteger(value) || value < 1)
    throw new Error('SWITCHBOARD_FUZZ_REQUESTS must be a positive integer');
  return value;
}

/** SWITCHBOARD_FUZZ_SEED replays a run; without it each run draws its own and prints it. */
export function fuzzSeed(): number {
  const given = process.env.SWITCHBOARD_FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed)) throw new Error('SWITCHBOARD_FUZZ_SEED must be an integer');
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

export const replayHint = (seed: number, requests: number) =>
  `replay with SWITCHBOARD_FUZZ_SEED=${seed} SWITCHBOARD_FUZZ_REQUESTS=${requests} npm run test:fuzz`;

interface Failure {
  index: number;
  op: string;
  identity: string;
  request: string;
  how: string | null;
  status: number;
  violations: string[];
}

/** What a run sent and got back, per operation and status, and what broke the contract. */
export class Tally {
  failures = 0;
  requests = 0;
  broken = 0;
  private readonly kept: Failure[] = [];
  private readonly byOp = new Map<string, Map<number, number>>();
  private readonly statuses = new Map<number, number>();
  private readonly undescribed = new Map<string, number>();
  private readonly notes = new Map<string, number>();
  private readonly byIdentity = new Map<string, number>();

  constructor(
    readonly seed: number,
    readonly planned: number,
  ) {}

  /** A request that got no answer to judge (its connection closed under an oversized body). */
  unanswered(op: Operation, identity: Identity, what: string): void {
    this.requests += 1;
    this.broken += 1;
    this.byIdentity.set(identity.name, (this.byIdentity.get(identity.name) ?? 0) + 1);
    this.count(op, 0);
    this.note(op, what);
  }

  /** Something worth reporting about an answer that is not a failure. */
  note(op: Operation, what: string): void {
    const key = `${op.id}: ${what}`;
    this.notes.set(key, (this.notes.get(key) ?? 0) + 1);
  }

  private count(op: Operation, status: number): void {
    const statuses = this.byOp.get(op.id) ?? new Map<number, number>();
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    this.byOp.set(op.id, statuses);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  record(
    index: number,
    op: Operation,
    identity: Identity,
    built: Built,
    status: number,
    undescribed: boolean,
    violations: string[],
  ): void {
    this.requests += 1;
    if (built.how !== null) this.broken += 1;
    this.count(op, status);
    this.byIdentity.set(identity.name, (this.byIdentity.get(identity.name) ?? 0) + 1);
    if (undescribed) this.undescribed.set(op.id, (this.undescribed.get(op.id) ?? 0) + 1);
    if (violations.length > 0) this.fail(index, op, identity, built, status, violations);
  }

  fail(
    index: number,
    op: Operation,
    identity: Identity,
    built: Built,
    status: number,
    violations: string[],
  ): void {
    this.failures += 1;
    if (status === 0) {
      this.requests += 1;
      this.count(op, 0);
    }
    if (this.kept.length < 40) {
      this.kept.push({
        index,
        op: op.id,
        identity: identity.name,
        request: `${built.method} ${built.path.slice(0, 300)} ${JSON.stringify(built.headers).slice(0, 300)} ${built.body?.slice(0, 300) ?? ''}`,
        how: built.how,
        status,
        violations,
      });
    }
  }

  /** Operations no request reached at all. */
  coverage(operations: Operation[]): string[] {
    return operations.filter((op) => !this.byOp.has(op.id)).map((op) => op.id);
  }

  replayHint(): string {
    return replayHint(this.seed, this.planned);
  }

  failureReport(): string {
    if (this.failures === 0) return '';
    return [
      `${this.failures} answer(s) broke the contract; seed ${this.seed} (${this.replayHint()}); the first ${this.kept.length}:`,
      ...this.kept.map(
        (f) =>
          `#${f.index} ${f.op} as ${f.identity}${f.how ? ` [${f.how}]` : ' [valid]'} -> ${f.status}\n    ${f.request}\n    ${f.violations.join('\n    ')}`,
      ),
    ].join('\n');
  }

  report(operations: Operation[], seconds: number, world: World): string {
    const statusLine = [...this.statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    const perOp = operations
      .map((op) => {
        const statuses = [...(this.byOp.get(op.id) ?? new Map<number, number>())]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ');
        return `  ${op.id.padEnd(52)} ${statuses}`;
      })
      .join('\n');
    const undescribed = operations.filter((op) => !op.described).map((op) => op.id);
    return [
      `fuzz: ${this.requests} requests (${this.broken} broken on purpose) in ${seconds.toFixed(1)} s (${Math.round(this.requests / seconds)}/s), seed ${this.seed}`,
      `fuzz: ${operations.length - this.coverage(operations).length}/${operations.length} operations reached; statuses: ${statusLine}`,
      `fuzz: ${this.failures} contract violation(s); ${world.bookkeeping} bookkeeping requests, ${world.repairs} repairs`,
      `fuzz: by identity: ${[...this.byIdentity].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `fuzz: ${undescribed.length} operations document no response schema (answers not checkable beyond status and problems): ${undescribed.join(', ')}`,
      `fuzz: answers of those: ${[...this.undescribed].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      ...(this.notes.size
        ? [`fuzz: notes: ${[...this.notes].map(([k, n]) => `${k} ×${n}`).join('; ')}`]
        : []),
      'fuzz: statuses per operation:',
      perOp,
    ].join('\n');
  }
}

/**
 * Error-level log lines a run may cause by design: a version whose activation is refused (the running one
 * stays, docs/endpoint-configuration.md, Recover). Any other error line is a failure of the run.
 */
const EXPECTED_ERROR_LOGS = new Set(['endpoint configuration could not be loaded']);

/** The server's error-level log lines that no request of the run should have caused. */
export function unexpectedErrorLogs(logs: Record<string, unknown>[]): string[] {
  return logs
    .filter((line) => Number(line.level) >= 50 && !EXPECTED_ERROR_LOGS.has(String(line.msg)))
    .map((line) => JSON.stringify(line).slice(0, 600));
}
