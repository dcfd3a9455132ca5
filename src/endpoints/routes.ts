import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { auditContext } from '../auth/request.js';
import { ok } from '../platform/envelope.js';
import { NO_CONTENT } from '../platform/openapi-answers.js';
import { Envelope } from '../platform/pagination.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { MAX_DEPTH, MAX_VALUES } from './document-limits.js';
import type { FunctionTester } from './function-test.js';
import { versionListBody } from './present.js';
import { EndpointConfig } from './schema.js';
import { EndpointConfigService } from './service.js';

const tags = ['config'];
const editors = { access: { rule: { minRole: 'editor' as const } } };
const admins = { access: { rule: { minRole: 'admin' as const } } };
/** Diffs run on one shared thread: limited per user in rate and in how many run at once. */
const diffs = {
  ...editors,
  rateLimit: { operations: ['config.diff' as const], concurrency: 'config.diff' as const },
};

const Version = Type.String({ minLength: 1, maxLength: 64, description: 'A semantic version, e.g. 1.4.0' });
const VersionParams = Type.Object({ version: Version });
const Diff = Type.Object({
  ok: Type.Literal(true),
  diff: Type.String({ description: 'Unified diff; empty when equal' }),
});

const VersionItem = Type.Object({
  version: Type.String(),
  created_at: Type.String(),
  created_by: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
});

const DraftRequest = Type.Object(
  { config: Type.Unknown({ description: 'The draft document' }), base_version: Type.Optional(Version) },
  { additionalProperties: false },
);

const DIFF_HEAD = Buffer.from('{"data":{"ok":true,"diff":');
const DIFF_TAIL = Buffer.from('},"error":null,"error_detail":null,"success":true}');

/** The answer around a diff that the diff thread wrote as JSON already: the event loop only copies it. */
function sendDiff(reply: FastifyReply, diffJson: Uint8Array) {
  return reply.type('application/json; charset=utf-8').send(Buffer.concat([DIFF_HEAD, diffJson, DIFF_TAIL]));
}

/** The body as the draft route's parser left it: the text that arrived. */
function textOf(body: unknown): string {
  if (typeof body !== 'string')
    throw new AppError(ErrorCode.unsupportedMediaType, 'send the draft as application/json');
  return body;
}

export interface ConfigRouteOptions {
  service: EndpointConfigService;
  tester: FunctionTester;
  bodyLimit: number;
}

/** /config: versions of the endpoint configuration, their diffs, activation, and function test runs. */
export const configRoutes: FastifyPluginAsyncTypebox<ConfigRouteOptions> = async (app, options) => {
  const { service, tester } = options;

  app.get(
    '',
    {
      config: editors,
      schema: {
        tags,
        summary:
          'A saved version (the active one by default), with its variables resolved and secrets masked',
        querystring: Type.Object({ version: Type.Optional(Version) }),
        etag: true,
        answers: {
          200: {
            description: 'The version; its ETag is the version, quoted',
            type: 'object',
            properties: {
              data: {
                type: 'object',
                properties: {
                  version: { type: 'string' },
                  config: {},
                  vars_resolved: {
                    type: 'object',
                    description: 'Each variable as resolved, secrets masked',
                  },
                  active: { type: 'boolean' },
                  created_at: { type: 'string' },
                  created_by: { type: ['string', 'null'] },
                  message: { type: ['string', 'null'] },
                },
              },
              success: { const: true },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const view = await service.get(request.query.version);
      reply.header('etag', `"${view.version}"`);
      return ok({
        version: view.version,
        config: view.config,
        vars_resolved: view.varsResolved,
        active: view.active,
        created_at: view.createdAt,
        created_by: view.createdBy,
        message: view.message,
      });
    },
  );

  app.get(
    '/schema',
    {
      schema: {
        tags,
        summary: 'The JSON Schema every saved configuration must pass',
        answers: {
          200: {
            description: 'The JSON Schema (draft 2020-12) as `data`',
            type: 'object',
            properties: { data: { type: 'object' }, success: { const: true } },
          },
        },
      },
    },
    async () => ok(EndpointConfig),
  );

  app.get(
    '/versions',
    {
      config: editors,
      schema: {
        tags,
        summary:
          'Saved versions, newest first, with what is active, what this instance runs and whether it is in recovery',
        response: {
          200: Envelope(
            Type.Object({
              versions: Type.Array(VersionItem),
              active: Type.Union([Type.String(), Type.Null()]),
              loaded: Type.Union([Type.String(), Type.Null()]),
              last_good: Type.Union([Type.String(), Type.Null()]),
              recovery: Type.Boolean(),
              recovery_version: Type.Union([Type.String(), Type.Null()]),
              recovery_reason: Type.Union([Type.String(), Type.Null()]),
            }),
          ),
        },
      },
    },
    async () => ok(versionListBody(await service.list())),
  );

  app.post(
    '',
    {
      bodyLimit: options.bodyLimit,
      config: { ...admins, rateLimit: { operations: ['config.save'] } },
      schema: {
        tags,
        summary:
          'Save a version: the raw document (patch bumped, activated) or {config, version?, activate?, message?}',
        description:
          'A body is the wrapper exactly when it has a top-level `config` key. Every schema problem is listed ' +
          'at once in `error_detail.errors` with its JSON pointer (422). A saved version that fails to load ' +
          'is kept, reported in `activation_error`, and the running version stays (recovery).',
        body: Type.Unknown({ description: 'The configuration, or the save wrapper' }),
        etag: true,
        errors: [409, 412],
        answers: {
          201: {
            description: 'Saved; its ETag is the new version, quoted',
            type: 'object',
            properties: {
              data: {
                type: 'object',
                required: ['version', 'diff', 'active'],
                properties: {
                  version: { type: 'string' },
                  diff: { type: 'string' },
                  active: { type: 'boolean' },
                  activation_error: { type: 'string' },
                },
              },
              success: { const: true },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const result = await service.save(
        EndpointConfigService.saveRequestOf(request.body),
        auditContext(request),
      );
      reply.code(201).header('etag', `"${result.version}"`);
      return ok({
        version: result.version,
        diff: result.diff,
        active: result.active,
        ...(result.activationError !== undefined && { activation_error: result.activationError }),
      });
    },
  );

  app.post(
    '/versions/:version/activate',
    {
      config: { ...admins, rateLimit: { operations: ['config.activate'] } },
      schema: {
        tags,
        summary:
          'Activate a saved version: built completely first, then swapped without dropping subscribers',
        params: VersionParams,
        errors: [409],
        answers: {
          200: {
            description: 'Active',
            type: 'object',
            properties: {
              data: {
                type: 'object',
                properties: { version: { type: 'string' }, active: { const: true } },
              },
              success: { const: true },
            },
          },
        },
      },
    },
    async (request) => {
      await service.activate(request.params.version, auditContext(request));
      return ok({ version: request.params.version, active: true });
    },
  );

  app.delete(
    '/versions/:version',
    {
      config: { ...admins, rateLimit: { operations: ['config.delete'] } },
      schema: {
        tags,
        summary: 'Delete a saved version that is not active',
        params: VersionParams,
        errors: [409],
        answers: { 204: NO_CONTENT },
      },
    },
    async (request, reply) => {
      await service.delete(request.params.version, auditContext(request));
      return reply.code(204).send();
    },
  );

  // A draft is read by the diff thread, not here: its body arrives as text and goes there as it is.
  await app.register(async (drafts) => {
    drafts.removeContentTypeParser('application/json');
    drafts.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: options.bodyLimit },
      (_request, body, done) => done(null, body),
    );
    drafts.post(
      '/diff',
      {
        bodyLimit: options.bodyLimit,
        config: diffs,
        schema: {
          tags,
          summary: 'Unified diff of a draft against a saved version (the active one by default)',
          description:
            'The draft is checked against the JSON Schema only (not the rules a save applies: it may still ' +
            'name undeclared variables or sources); every problem is listed at its JSON pointer (422). At most ' +
            `${MAX_DEPTH} levels of nesting and ${MAX_VALUES.toLocaleString('en-US')} values.`,
          body: DraftRequest,
          response: { 200: Envelope(Diff) },
        },
        // Documented above, checked on the diff thread together with the draft (service.diffDraftRequest).
        validatorCompiler: () => () => true,
      },
      async (request, reply) => sendDiff(reply, await service.diffDraftRequest(textOf(request.body))),
    );
  });

  app.get(
    '/diff',
    {
      config: diffs,
      schema: {
        tags,
        summary: 'Unified diff between two saved versions; either left out means the active one',
        querystring: Type.Object({ from: Type.Optional(Version), to: Type.Optional(Version) }),
        response: { 200: Envelope(Diff) },
      },
    },
    async (request, reply) =>
      sendDiff(reply, await service.diffVersionsJson(request.query.from, request.query.to)),
  );

  app.post(
    '/functions/:name/test',
    {
      config: { ...admins, rateLimit: { operations: ['config.test'], concurrency: 'config.test' } },
      schema: {
        tags,
        summary: 'Run a function of the active version once, under its limits; its raw output, or its error',
        description:
          '`args` replaces the declared arguments for this run. A function that throws, crashes, exceeds its ' +
          'memory or returns what JSON cannot hold is a 502 (code 7000); one that runs out of time a 504.',
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }),
        body: Type.Optional(
          Type.Object({ args: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
        ),
        errors: [502, 504],
        answers: {
          200: {
            description: "The function's raw output and how long it ran",
            type: 'object',
            properties: {
              data: {
                type: 'object',
                properties: { output: {}, duration_ms: { type: 'number', minimum: 0 } },
              },
              success: { const: true },
            },
          },
        },
      },
      // Fastify validates a missing body against the object schema; no body means the declared arguments.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const result = await tester.test(request.params.name, request.body?.args);
      return ok({ output: result.output, duration_ms: result.durationMs });
    },
  );
};
