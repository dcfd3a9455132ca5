import { FormatRegistry, type Static, Type } from '@sinclair/typebox';
import { STREAM_NAME, STREAM_NAME_RULE } from '../live/channel-kinds.js';

/**
 * The endpoint configuration document: one TypeBox definition gives the JSON Schema served at
 * /config/schema, the validation of every save, and the TypeScript types. Rules a JSON Schema cannot say
 * (references between sections, the host allow-list, paths inside the functions directory) live in
 * `validate.ts` and report with the same JSON pointers.
 *
 * `errorMessage` is ours, not JSON Schema's: it replaces the generic message for that value.
 */

const NAME = '^[A-Za-z_][A-Za-z0-9_-]{0,63}$';
const nameMessage = 'must start with a letter or _ and hold at most 64 letters, digits, _ or -';

export const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h|d)$';
const Duration = (description: string) =>
  Type.String({
    pattern: DURATION_PATTERN,
    description: `${description} A number and a unit: ms, s, m, h or d ("500ms", "30s", "5m").`,
    errorMessage: 'must be a duration such as "500ms", "30s" or "5m"',
  });

/**
 * A JSON pointer (RFC 6901): empty, or `/` and then anything in which each `~` is `~0` or `~1`. Checked by
 * a function rather than the pattern `^(/([^~/]|~[01])*)*$`: a regular expression keeps state for every
 * repetition it may have to undo, and on a pointer of a few megabytes that one threw (a save or a diff
 * failed with a 500); any pattern that loops per `~` or per `/` does the same at some length.
 */
export function isJsonPointer(text: string): boolean {
  if (text !== '' && text.charCodeAt(0) !== 0x2f) return false;
  for (let at = text.indexOf('~'); at !== -1; at = text.indexOf('~', at + 1)) {
    const next = text.charCodeAt(at + 1);
    if (next !== 0x30 && next !== 0x31) return false;
  }
  return true;
}
FormatRegistry.Set('json-pointer', isJsonPointer);

const Scalar = Type.Union([Type.String({ maxLength: 65_536 }), Type.Number(), Type.Boolean()]);

export const Variable = Type.Union(
  [
    Scalar,
    Type.Object(
      {
        value: Scalar,
        secret: Type.Optional(
          Type.Boolean({
            description: 'Masked as "********" in every response, diff and log line.',
          }),
        ),
        description: Type.Optional(Type.String({ maxLength: 1000 })),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'A literal, or `{value, secret?, description?}`. Strings may hold `${env:SWITCHBOARD_VAR_NAME}` and ' +
      '`${other_variable}` references.',
    errorMessage: 'must be a string, number or boolean, or {"value": …, "secret": true|false}',
  },
);

const Strings = (description: string) =>
  Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 8192 }), {
    description,
  });

export const HttpEndpoint = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'http(s) URL; its host must be in SWITCHBOARD_ENDPOINT_HOSTS. May hold `${…}` references.',
    }),
    method: Type.Optional(
      Type.Union(
        ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => Type.Literal(m)),
        { default: 'GET', errorMessage: 'must be one of GET, POST, PUT, PATCH, DELETE' },
      ),
    ),
    headers: Type.Optional(Strings('Request headers; values may hold `${…}` references.')),
    query: Type.Optional(Strings('Query parameters added to the URL; values may hold `${…}` references.')),
    body: Type.Optional(
      Type.Unknown({ description: 'Sent as JSON; strings in it may hold `${…}` references.' }),
    ),
    timeout: Type.Optional(Duration('Per attempt; default 10s.')),
    retries: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10,
        description: 'Retries of a failed attempt within one poll; default 2.',
      }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const LocalFunction = Type.Object(
  {
    module: Type.String({
      minLength: 1,
      maxLength: 512,
      description:
        'A .js, .mjs or .cjs file, relative to SWITCHBOARD_FUNCTIONS_DIR; it cannot reach outside it.',
    }),
    export: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_$][A-Za-z0-9_$]{0,63}$',
        description: 'The exported function to call; default `default`.',
        errorMessage: 'must be a JavaScript identifier',
      }),
    ),
    args: Type.Optional(Type.Unknown({ description: 'Passed to the function as its argument (JSON).' })),
    timeout: Type.Optional(Duration('Longest one call may run before it is stopped; default 5s.')),
    memory_mb: Type.Optional(
      Type.Integer({
        minimum: 16,
        maximum: 4096,
        description: 'Memory one call may use, heap and buffers alike; default 128.',
      }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const Groups = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 });

export const StreamAccess = Type.Object(
  {
    min_role: Type.Optional(
      Type.Union([Type.Literal('viewer'), Type.Literal('editor'), Type.Literal('admin')], {
        default: 'viewer',
        errorMessage: 'must be viewer, editor or admin',
      }),
    ),
    groups: Type.Optional(
      Type.Object(
        {
          one_of: Type.Optional(Groups),
          all_of: Type.Optional(Groups),
          none_of: Type.Optional(Groups),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Who may subscribe; default: every signed-in user.' },
);

export const Stream = Type.Object(
  {
    endpoint: Type.Optional(Type.String({ description: 'The endpoint polled; give this or `function`.' })),
    function: Type.Optional(Type.String({ description: 'The function called; give this or `endpoint`.' })),
    interval: Duration('How often the source is read (at least 1s).'),
    select: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1, maxLength: 128 }),
        Type.String({
          format: 'json-pointer',
          errorMessage: 'must be a JSON pointer such as "/main/temp"',
        }),
        {
          description:
            'Publish only these fields: output name → JSON pointer into what the source returned. ' +
            'Without it the whole result is published.',
        },
      ),
    ),
    access: Type.Optional(StreamAccess),
    history: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          max_age: Type.Optional(Duration('Oldest event kept for replay.')),
        },
        { additionalProperties: false, description: 'Replay window; defaults from the server settings.' },
      ),
    ),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const EndpointConfig = Type.Object(
  {
    $schema: Type.Optional(Type.String({ maxLength: 512 })),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    vars: Type.Optional(
      Type.Record(Type.String({ pattern: NAME, errorMessage: nameMessage }), Variable, {
        description: 'Variables referenced as `${name}` from endpoints.',
        additionalProperties: false,
      }),
    ),
    endpoints: Type.Optional(
      Type.Record(Type.String({ pattern: NAME, errorMessage: nameMessage }), HttpEndpoint, {
        description: 'HTTP sources, polled by the streams that name them.',
        additionalProperties: false,
      }),
    ),
    functions: Type.Optional(
      Type.Record(Type.String({ pattern: NAME, errorMessage: nameMessage }), LocalFunction, {
        description: 'Local functions, run apart from the server with a time and a memory limit.',
        additionalProperties: false,
      }),
    ),
    streams: Type.Optional(
      Type.Record(Type.String({ pattern: STREAM_NAME.source, errorMessage: STREAM_NAME_RULE }), Stream, {
        description: 'Live channels: each reads its source every `interval` and publishes the result.',
        additionalProperties: false,
      }),
    ),
  },
  {
    $id: 'https://switchboard.dev/schemas/endpoint-config.json',
    title: 'Switchboard endpoint configuration',
    additionalProperties: false,
  },
);

export type EndpointConfig = Static<typeof EndpointConfig>;
export type HttpEndpoint = Static<typeof HttpEndpoint>;
export type LocalFunction = Static<typeof LocalFunction>;
export type Stream = Static<typeof Stream>;
export type StreamAccess = Static<typeof StreamAccess>;
export type Variable = Static<typeof Variable>;
