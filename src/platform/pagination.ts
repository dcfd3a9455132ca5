import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { CursorCodec, CursorPosition } from './cursor.js';
import { MAX_CURSOR_LENGTH } from './cursor.js';
import { type Pagination, page } from './envelope.js';
import { AppError, ErrorCode, invalidField } from './problem.js';

const DEFAULT_LIMIT = 50;

/** `limit` and `cursor` as every list takes them (docs/api.md, Pagination). */
export const PageQuery = Type.Object({
  // Optional in the document (a client may leave it out); the validator fills in the default.
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 200,
      default: DEFAULT_LIMIT,
      description: `Items per page (1..200, default ${DEFAULT_LIMIT}).`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      description: 'next_cursor of the previous page.',
    }),
  ),
});
export type PageQuery = Static<typeof PageQuery>;

export const PaginationSchema = Type.Object({
  limit: Type.Integer(),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});

/** The success envelope around `data`, for response schemas. */
export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({
    data,
    error: Type.Null(),
    error_detail: Type.Null(),
    success: Type.Literal(true),
  });
}

export function PageEnvelope<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    error: Type.Null(),
    error_detail: Type.Null(),
    success: Type.Literal(true),
    pagination: PaginationSchema,
  });
}

/**
 * Keyset pagination: `fetch` is asked for one row more than the page so `has_more` needs no count, and
 * the cursor records the last row's sort key, signed and bound to `scope` (the list and its filters).
 */
export async function keysetPage<Row, Item>(options: {
  query: PageQuery;
  codec: CursorCodec;
  scope: string;
  fetch: (after: (string | number)[] | undefined, limit: number) => Promise<Row[]>;
  keyOf: (row: Row) => (string | number)[];
  present: (row: Row) => Item;
}): Promise<{ data: Item[]; error: null; error_detail: null; success: true; pagination: Pagination }> {
  const { query, codec, scope } = options;
  let after: (string | number)[] | undefined;
  if (query.cursor !== undefined) {
    const { position } = codec.decode(query.cursor, scope);
    if (!('after' in position)) {
      throw invalidField(
        '/cursor',
        'is of another kind for this list',
        'cursor is of another kind for this list',
      );
    }
    after = position.after;
  }
  const limit = query.limit ?? DEFAULT_LIMIT;
  const rows = await options.fetch(after, limit + 1);
  const hasMore = rows.length > limit;
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  const position: CursorPosition | undefined =
    hasMore && last !== undefined ? { after: options.keyOf(last) } : undefined;
  return page(shown.map(options.present), {
    limit,
    next_cursor: position ? codec.encode(scope, position) : null,
    has_more: hasMore,
  });
}
