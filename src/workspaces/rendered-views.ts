/**
 * The last `GET /preferences` body sent to each user, by its ETag. The ETag covers everything the body
 * shows (the reader's version, which grows with their document and grants, and the tag of their library),
 * so a body kept under the ETag the database gives now is the body a fresh build would give. Bounded in
 * bytes; the least recently used go first.
 */
export class RenderedViews {
  private readonly entries = new Map<string, { etag: string; body: Buffer }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(userId: string, etag: string): Buffer | undefined {
    const entry = this.entries.get(userId);
    if (entry?.etag !== etag) return undefined;
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    return entry.body;
  }

  put(userId: string, etag: string, body: Buffer): void {
    this.remove(userId);
    if (body.length > this.maxBytes) return;
    this.entries.set(userId, { etag, body });
    this.bytes += body.length;
    for (const id of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(id);
    }
  }

  private remove(userId: string): void {
    const entry = this.entries.get(userId);
    if (!entry) return;
    this.entries.delete(userId);
    this.bytes -= entry.body.length;
  }
}
