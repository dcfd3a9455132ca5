import { availableParallelism } from 'node:os';
import { Algorithm, hash, verify } from '@node-rs/argon2';

/** OWASP's Argon2id baseline: 19 MiB, two passes, one lane. */
const PARAMETERS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/**
 * Argon2id hashing on libuv's thread pool, never on the event loop. At most `concurrency` hashes run at
 * once (by default one fewer than the cores, at least one), so a burst of sign-ins queues here instead of
 * taking every core from the event loop and the requests it serves.
 */
export class PasswordHasher {
  private readonly dummy: Promise<string>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency = Math.max(1, availableParallelism() - 1)) {
    this.dummy = this.hash('switchboard-dummy-password');
  }

  async hash(password: string): Promise<string> {
    return this.limited(() => hash(password, PARAMETERS));
  }

  /** False for a mismatch and for a hash that cannot be read. */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    return this.limited(() => verify(passwordHash, password).catch(() => false));
  }

  /** The same work as a real verification, for a user who does not exist or has no password. */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(await this.dummy, password);
    return false;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    // A finishing hash hands its slot straight to the next in line, so newcomers cannot overtake.
    if (this.running < this.concurrency) this.running += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
