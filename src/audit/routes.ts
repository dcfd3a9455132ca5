import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { CursorCodec } from '../platform/cursor.js';
import { keysetPage, PageEnvelope, PageQuery } from '../platform/pagination.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import type { AuditService } from './service.js';
import type { AuditRow } from './store.js';

const AuditItem = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  type: Type.String(),
  outcome: Type.String(),
  actor: Type.Union([
    Type.Object({
      id: Type.Union([Type.String(), Type.Null()]),
      username: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const AuditQuery = Type.Object({
  type: Type.Optional(
    Type.Array(Type.String({ maxLength: 64, pattern: '^[a-z][a-z0-9_.]{0,63}$' }), {
      maxItems: 20,
      description: 'Event types (repeat for several), e.g. auth.login',
    }),
  ),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'User id or username' })),
  since: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 64, description: 'From this time (inclusive)' }),
  ),
  until: Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description: 'Before this time' })),
});

function present(row: AuditRow) {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    outcome: row.outcome,
    actor:
      row.actorId === null && row.actorUsername === null
        ? null
        : { id: row.actorId, username: row.actorUsername },
    ip: row.ip,
    user_agent: row.userAgent,
    target:
      row.targetType === null || row.targetId === null ? null : { type: row.targetType, id: row.targetId },
    detail: row.detail,
  };
}

const normalized = (time: string | undefined) =>
  time === undefined ? undefined : new Date(time).toISOString();

/** GET /audit: the audit log, newest first, for admins. */
export const auditRoutes: FastifyPluginAsyncTypebox<{
  audit: AuditService;
  cursors: () => CursorCodec;
}> = async (app, { audit, cursors }) => {
  app.get(
    '',
    {
      config: { access: { rule: { minRole: 'admin' } } },
      schema: {
        tags: ['audit'],
        summary: 'Security and configuration events, newest first',
        querystring: Type.Composite([PageQuery, AuditQuery]),
        response: { 200: PageEnvelope(AuditItem) },
      },
    },
    async (request) => {
      const { limit: _limit, cursor: _cursor, ...filter } = request.query;
      const since = normalized(filter.since);
      const until = normalized(filter.until);
      if (since && until && since >= until) {
        throw invalidField('/querystring/since', 'must be before until', 'since must be before until');
      }
      return keysetPage({
        query: request.query,
        codec: cursors(),
        scope: `audit:${JSON.stringify(filter)}`,
        fetch: (after, limit) =>
          audit.list({
            types: filter.type,
            actor: filter.actor,
            since,
            until,
            beforeId: after ? Number(after[0]) : undefined,
            limit,
          }),
        keyOf: (row) => [row.id],
        present,
      });
    },
  );
};
