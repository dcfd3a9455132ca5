import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { ok } from '../platform/envelope.js';
import { Envelope } from '../platform/pagination.js';
import { CHANNEL_KINDS, ChannelName } from './channel-kinds.js';
import type { LiveService } from './service.js';

const tags = ['live'];

const ChannelItem = Type.Object({
  name: Type.String(),
  kind: Type.Union(CHANNEL_KINDS.filter((k) => k.addressable).map((k) => Type.Literal(k.kind))),
  meta: Type.Record(Type.String(), Type.Unknown()),
  history: Type.Object({ size: Type.Integer(), max_age_seconds: Type.Integer() }),
});

const ChannelParams = Type.Object({ channel: ChannelName });

/** Most a published event's data may take, serialized. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** GET /streams and POST /streams/{channel}/publish. */
export const streamRoutes: FastifyPluginAsyncTypebox<{ live: LiveService }> = async (app, { live }) => {
  app.get(
    '',
    {
      schema: {
        tags,
        summary: 'The channels you may subscribe to, with their metadata',
        response: { 200: Envelope(Type.Array(ChannelItem)) },
      },
    },
    async (request) =>
      ok(
        live.channels.visibleTo(request.principal!).map((channel) => ({
          name: channel.name,
          kind: channel.kind,
          meta: channel.meta,
          history: {
            size: channel.history.size,
            max_age_seconds: Math.round(channel.history.maxAgeMs / 1000),
          },
        })),
      ),
  );

  app.post(
    '/:channel/publish',
    {
      bodyLimit: MAX_EVENT_BYTES,
      config: { rateLimit: { operations: ['streams.publish'] } },
      schema: {
        tags,
        summary:
          'Append an event to a declared stream (admins, or API keys with publish:<channel> or publish:*)',
        params: ChannelParams,
        body: Type.Unknown({ description: 'Any JSON value, at most 64 KiB' }),
        response: { 202: Envelope(Type.Object({ id: Type.String() })) },
      },
    },
    async (request, reply) => {
      const event = await live.publish(request.principal!, request.params.channel, request.body);
      reply.code(202);
      return ok({ id: event.id });
    },
  );
};
