import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode, invalidField } from './problem.js';

/** Where a list resumes: after `offset` rows, or after the row whose sort key is `after`. */
export type CursorPosition = { offset: number } | { after: (string | number)[] };

export interface CursorPayload {
  /** The list the cursor belongs to, including its filters: a cursor from another list is foreign. */
  scope: string;
  position: CursorPosition;
  issuedAt: number;
}

export const MAX_CURSOR_LENGTH = 512;
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

const invalid = (detail: string): AppError => invalidField('/cursor', detail, detail);

/** HMAC-SHA256-signed opaque pagination cursors (docs/api.md, Pagination). */
export class CursorCodec {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'switchboard', 'pagination-cursor-v1', 32));
  }

  encode(scope: string, position: CursorPosition): string {
    const body = Buffer.from(JSON.stringify({ s: scope, p: position, t: this.now() })).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** Throws a 422 for a malformed, tampered, foreign-key-signed, other-list or expired cursor. */
  decode(cursor: string, scope: string): CursorPayload {
    if (cursor.length > MAX_CURSOR_LENGTH)
      throw invalid(`cursor is longer than ${MAX_CURSOR_LENGTH} characters`);
    const [body, mac, extra] = cursor.split('.');
    if (!body || !mac || extra !== undefined)
      throw invalid('cursor is malformed; use next_cursor exactly as returned');
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw invalid('cursor signature is not valid; use next_cursor exactly as returned');
    }
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
      s: string;
      p: CursorPosition;
      t: number;
    };
    if (payload.s !== scope)
      throw invalid('cursor belongs to another list or other filters; start again without it');
    if (this.now() - payload.t > MAX_AGE_MS) throw invalid('cursor has expired; start again without it');
    return { scope: payload.s, position: payload.p, issuedAt: payload.t };
  }

  /** Offset form: also refuses a cursor pointing past the end of the list. */
  decodeOffset(cursor: string, scope: string, total: number): number {
    const { position } = this.decode(cursor, scope);
    if (!('offset' in position)) throw invalid('cursor is of another kind for this list');
    if (position.offset > total)
      throw invalid('cursor points past the end of the list; start again without it');
    return position.offset;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
