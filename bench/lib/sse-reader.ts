/** What one read of a raw socket gave: the answer's head once it is complete, the frames it completed. */
export interface SseRead {
  /** The status line and headers, the first time they are complete. */
  head?: string;
  frames: string[];
  /** The last chunk (size 0) arrived: the server ended the stream. */
  ended: boolean;
}

/**
 * Reads a chunked `text/event-stream` answer off the bytes of a raw socket, as the bench clients open them
 * (no HTTP client in the way of the timings): the head, then each frame as the text between blank lines.
 */
export class ChunkedSseReader {
  private pending: Buffer = Buffer.alloc(0);
  private text = '';
  private headDone = false;

  push(chunk: Buffer): SseRead {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const read: SseRead = { frames: [], ended: false };
    if (!this.headDone) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end === -1) return read;
      read.head = this.pending.subarray(0, end).toString('latin1');
      this.pending = this.pending.subarray(end + 4);
      this.headDone = true;
    }
    // Chunks: <hex size>\r\n<bytes>\r\n, until one of size 0.
    for (;;) {
      const line = this.pending.indexOf('\r\n');
      if (line === -1) break;
      const size = Number.parseInt(this.pending.subarray(0, line).toString('latin1'), 16);
      if (size === 0) {
        read.ended = true;
        break;
      }
      if (this.pending.length < line + 2 + size + 2) break;
      this.text += this.pending.subarray(line + 2, line + 2 + size).toString('utf8');
      this.pending = this.pending.subarray(line + 2 + size + 2);
    }
    let end = this.text.indexOf('\n\n');
    while (end !== -1) {
      read.frames.push(this.text.slice(0, end));
      this.text = this.text.slice(end + 2);
      end = this.text.indexOf('\n\n');
    }
    return read;
  }
}
