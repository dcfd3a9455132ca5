import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Compression } from '../platform/accept-encoding.js';

const COMPRESS: Record<Compression, (body: Buffer) => Promise<Buffer>> = {
  // Quality 5 of 11: most of brotli's gain over gzip (half its size on workspace JSON) for as little time.
  br: (body) =>
    promisify(brotliCompress)(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }) as Promise<Buffer>,
  gzip: (body) => promisify(gzip)(body) as Promise<Buffer>,
};

interface Rendered {
  etag: string;
  body: Buffer;
  /** Compressed on the thread pool the first time a reader asks for it; shared by later reads. */
  pending: Partial<Record<Compression, Promise<Buffer>>>;
  /** Compressions made, handed out without a promise. */
  made: Partial<Record<Compression, Buffer>>;
  /** Bytes of them counted against the bound (those made while the entry was kept). */
  madeBytes: number;
}

/**
 * The last `GET /preferences` body sent to each user, by its ETag, and its compressions. The ETag covers
 * everything the body shows (the reader's version, which grows with their document and grants, and the
 * tag of their library), so a body kept under the ETag the database gives now is the body a fresh build
 * would give. Bounded in bytes, compressions included once made; the least recently used go first.
 */
export class RenderedViews {
  private readonly entries = new Map<string, Rendered>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(userId: string, etag: string): Buffer | undefined {
    return this.find(userId, etag)?.body;
  }

  /** The kept body of this ETag, compressed (at once when it was before); undefined when none is kept. */
  compressed(userId: string, etag: string, coding: Compression): Buffer | Promise<Buffer> | undefined {
    const entry = this.find(userId, etag);
    if (!entry) return undefined;
    const made = entry.made[coding];
    if (made) return made;
    entry.pending[coding] ??= COMPRESS[coding](entry.body).then((result) => {
      entry.made[coding] = result;
      if (this.entries.get(userId) === entry) {
        entry.madeBytes += result.length;
        this.bytes += result.length;
        this.trim();
      }
      return result;
    });
    return entry.pending[coding];
  }

  put(userId: string, etag: string, body: Buffer): void {
    this.remove(userId);
    if (body.length > this.maxBytes) return;
    this.entries.set(userId, { etag, body, pending: {}, made: {}, madeBytes: 0 });
    this.bytes += body.length;
    this.trim();
  }

  private find(userId: string, etag: string): Rendered | undefined {
    const entry = this.entries.get(userId);
    if (entry?.etag !== etag) return undefined;
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    return entry;
  }

  private trim(): void {
    for (const id of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(id);
    }
  }

  private remove(userId: string): void {
    const entry = this.entries.get(userId);
    if (!entry) return;
    this.entries.delete(userId);
    this.bytes -= entry.body.length + entry.madeBytes;
  }
}
