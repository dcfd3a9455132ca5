import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipped = promisify(gzip);

interface Rendered {
  etag: string;
  body: Buffer;
  /** Compressed on the thread pool the first time a reader accepts gzip; shared by later reads. */
  gzip?: Promise<Buffer>;
  /** Bytes of the gzip counted against the bound, once it was made while the entry was kept. */
  gzipBytes: number;
}

/**
 * The last `GET /preferences` body sent to each user, by its ETag, and its gzip. The ETag covers
 * everything the body shows (the reader's version, which grows with their document and grants, and the
 * tag of their library), so a body kept under the ETag the database gives now is the body a fresh build
 * would give. Bounded in bytes (a gzip counts once it exists); the least recently used go first.
 */
export class RenderedViews {
  private readonly entries = new Map<string, Rendered>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(userId: string, etag: string): Buffer | undefined {
    return this.find(userId, etag)?.body;
  }

  /** The kept body of this ETag, gzipped; undefined when none is kept. */
  gzip(userId: string, etag: string): Promise<Buffer> | undefined {
    const entry = this.find(userId, etag);
    if (!entry) return undefined;
    entry.gzip ??= gzipped(entry.body).then((compressed) => {
      if (this.entries.get(userId) === entry) {
        entry.gzipBytes = compressed.length;
        this.bytes += compressed.length;
        this.trim();
      }
      return compressed;
    });
    return entry.gzip;
  }

  put(userId: string, etag: string, body: Buffer): void {
    this.remove(userId);
    if (body.length > this.maxBytes) return;
    this.entries.set(userId, { etag, body, gzipBytes: 0 });
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
    this.bytes -= entry.body.length + entry.gzipBytes;
  }
}
