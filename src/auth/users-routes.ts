import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { CursorCodec } from '../platform/cursor.js';
import { ok } from '../platform/envelope.js';
import { NO_CONTENT } from '../platform/openapi-answers.js';
import { Envelope, keysetPage, PageEnvelope, PageQuery } from '../platform/pagination.js';
import { userItem } from './present.js';
import { auditContext } from './request.js';
import { IdParams, NewUserBody, UserItem, UserListQuery, UserPatchBody } from './schemas.js';
import type { Auth } from './service.js';

const admins = { access: { rule: { minRole: 'admin' as const } } };
const adminWrites = { ...admins, rateLimit: { operations: ['users.write' as const] } };
const tags = ['users'];

/** /users: local accounts, for admins. */
export const usersRoutes: FastifyPluginAsyncTypebox<{ auth: Auth; cursors: () => CursorCodec }> = async (
  app,
  { auth, cursors },
) => {
  app.get(
    '',
    {
      config: admins,
      schema: {
        tags,
        summary: 'List users by username, filtered by role, group, disabled or part of the username',
        querystring: Type.Composite([PageQuery, UserListQuery]),
        response: { 200: PageEnvelope(UserItem) },
      },
    },
    async (request) => {
      const { limit: _limit, cursor: _cursor, ...filter } = request.query;
      return keysetPage({
        query: request.query,
        codec: cursors(),
        scope: `users:${JSON.stringify(filter)}`,
        fetch: (after, limit) => auth.users.list(filter, after ? String(after[0]) : undefined, limit),
        keyOf: (u) => [u.username],
        present: userItem,
      });
    },
  );

  app.post(
    '',
    {
      config: adminWrites,
      schema: {
        tags,
        summary: 'Create a user: local, or an account for single sign-on',
        body: NewUserBody,
        response: { 201: Envelope(UserItem) },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const user = await auth.users.create(
        {
          username: body.username,
          password: body.password,
          authSource: body.auth_source,
          fullName: body.full_name,
          role: body.role,
          groups: body.groups,
          mustChangePassword: body.must_change_password,
        },
        auditContext(request),
        request.principal!,
      );
      reply.code(201).header('location', `/api/v1/users/${user.id}`);
      return ok(userItem(user));
    },
  );

  app.get(
    '/:id',
    {
      config: admins,
      schema: { tags, summary: 'One user', params: IdParams, response: { 200: Envelope(UserItem) } },
    },
    async (request) => ok(userItem(await auth.users.get(request.params.id))),
  );

  app.patch(
    '/:id',
    {
      config: adminWrites,
      schema: {
        tags,
        summary: "Change name, role, groups, disabled, or reset the password (ends the user's sessions)",
        params: IdParams,
        body: UserPatchBody,
        response: { 200: Envelope(UserItem) },
      },
    },
    async (request) => {
      const { body } = request;
      const user = await auth.users.update(
        request.params.id,
        {
          fullName: body.full_name,
          role: body.role,
          groups: body.groups,
          disabled: body.disabled,
          password: body.password,
          mustChangePassword: body.must_change_password,
        },
        auditContext(request),
        request.principal!,
      );
      return ok(userItem(user));
    },
  );

  app.delete(
    '/:id',
    {
      config: adminWrites,
      schema: {
        tags,
        summary: 'Delete a user (never the last admin)',
        params: IdParams,
        answers: { 204: NO_CONTENT },
      },
    },
    async (request, reply) => {
      await auth.users.delete(request.params.id, auditContext(request));
      return reply.code(204).send();
    },
  );
};
