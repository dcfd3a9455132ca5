import { ERRORS } from './problem.js';

/** The parts of an OpenAPI 3.1 document the transforms read and write. */
export interface OpenApiResponse {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
  $ref?: string;
}
export interface OpenApiOperation {
  responses?: Record<string, OpenApiResponse>;
  [key: string]: unknown;
}
export interface OpenApiObject {
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown> | undefined>;
  [key: string]: unknown;
}

const header = (description: string, schema: Record<string, unknown>) => ({ description, schema });
const SECONDS = { type: 'integer', format: 'int32', minimum: 0, maximum: 86_400 } as const;

/** Headers of every answer that passed the rate limits (docs/rate-limits.md, "What a client sees"). */
export const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { $ref: '#/components/headers/RateLimit-Limit' },
  'RateLimit-Remaining': { $ref: '#/components/headers/RateLimit-Remaining' },
  'RateLimit-Reset': { $ref: '#/components/headers/RateLimit-Reset' },
};
export const SUCCESS_HEADERS = { ETag: { $ref: '#/components/headers/ETag' } };
const RETRY_AFTER = { 'Retry-After': { $ref: '#/components/headers/Retry-After' } };

const HEADERS = {
  'RateLimit-Limit': header('Requests the limit closest to refusing this one allows per window.', {
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: 2_147_483_647,
  }),
  'RateLimit-Remaining': header('Requests left in that window.', {
    type: 'integer',
    format: 'int32',
    minimum: 0,
    maximum: 2_147_483_647,
  }),
  'RateLimit-Reset': header('Seconds until that window has room again.', SECONDS),
  'Retry-After': header('Whole seconds to wait before trying again (also `error_detail.retry_after`).', {
    ...SECONDS,
    minimum: 1,
  }),
  ETag: header('The version of what was answered, for If-None-Match and If-Match.', {
    type: 'string',
    maxLength: 256,
  }),
};

const FIELD_ERROR = {
  type: 'object',
  required: ['pointer', 'message'],
  properties: {
    pointer: { type: 'string', maxLength: 4096, description: 'JSON pointer to the failing field' },
    message: { type: 'string', maxLength: 4096 },
  },
};

/** The problem document (RFC 9457) every failure carries; docs/errors.md lists its codes. */
const PROBLEM = {
  type: 'object',
  required: [
    'type',
    'title',
    'status',
    'detail',
    'instance',
    'error_code',
    'error_category',
    'retryable',
    'retry_after',
  ],
  properties: {
    type: { type: 'string', maxLength: 256, pattern: '^/docs/errors#[a-z_]+$' },
    title: { type: 'string', maxLength: 256 },
    status: { type: 'integer', format: 'int32', minimum: 400, maximum: 599 },
    detail: { type: 'string', maxLength: 65_536 },
    instance: { type: 'string', maxLength: 256, description: 'The request id (X-Request-Id)' },
    error_code: {
      type: 'integer',
      format: 'int32',
      minimum: 1000,
      maximum: 9999,
      enum: [...new Set(Object.values(ERRORS).map((e) => e.code))].sort((a, b) => a - b),
    },
    error_category: {
      type: 'string',
      enum: ['auth', 'validation', 'not_found', 'conflict', 'rate_limit', 'upstream', 'internal'],
    },
    retryable: { type: 'boolean' },
    retry_after: {
      anyOf: [{ type: 'null' }, { type: 'integer', format: 'int32', minimum: 0, maximum: 86_400 }],
    },
    errors: { type: 'array', maxItems: 10_000, items: FIELD_ERROR },
  },
};

const PROBLEM_ENVELOPE = {
  type: 'object',
  required: ['data', 'error', 'error_detail', 'success'],
  properties: {
    data: { type: 'null' },
    error: { type: 'string', maxLength: 65_536, description: 'The problem’s detail' },
    error_detail: { $ref: '#/components/schemas/Problem' },
    success: { type: 'boolean', const: false },
  },
};

/** A failure each operation may document, by status: its component's name and what it means. */
export const ERROR_RESPONSES = {
  400: { name: 'BadRequest', doc: 'Malformed request: bad JSON, a bad URL, malformed HTTP (code 2001).' },
  401: { name: 'Unauthorized', doc: 'No credentials, or ones that do not authenticate (codes 1xxx).' },
  403: { name: 'Forbidden', doc: 'Role, groups, CSRF or Origin do not allow this (codes 1001, 1004, 1007).' },
  404: { name: 'NotFound', doc: 'What the path names does not exist, or is not yours to see.' },
  409: { name: 'Conflict', doc: 'The request conflicts with the current state.' },
  412: { name: 'PreconditionFailed', doc: 'If-Match names another version than the current one.' },
  422: {
    name: 'ValidationFailed',
    doc: 'Invalid body or parameters; `errors` lists each field (code 2000).',
  },
  426: {
    name: 'UpgradeRequired',
    doc: 'A plain request where only a WebSocket upgrade is answered (code 2006).',
  },
  429: {
    name: 'TooManyRequests',
    doc: 'A rate limit or concurrency cap refused it (codes 5000-5002, 1003).',
  },
  500: { name: 'InternalError', doc: 'Internal error; quote the instance id when reporting it.' },
  502: { name: 'BadGateway', doc: 'An upstream (a function, a registry, a provider) failed (codes 7xxx).' },
  503: { name: 'Unavailable', doc: 'Not ready, shutting down or the database is not answering.' },
  504: { name: 'GatewayTimeout', doc: 'An upstream did not answer in time (codes 7xxx).' },
} as const;
export type ErrorStatus = keyof typeof ERROR_RESPONSES;

function errorResponse(status: ErrorStatus) {
  const limited = status < 500;
  const retries = status === 429 || status === 503;
  return {
    description: ERROR_RESPONSES[status].doc,
    ...((limited || retries) && {
      headers: { ...(limited && RATE_LIMIT_HEADERS), ...(retries && RETRY_AFTER) },
    }),
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/ProblemEnvelope' } },
      'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
    },
  };
}

/** The tags operations use, each described. */
const TAGS = [
  { name: 'auth', description: 'Sign-in, sessions, tokens and API keys (docs/auth.md).' },
  { name: 'users', description: 'User administration.' },
  { name: 'audit', description: 'The audit log.' },
  { name: 'config', description: 'The endpoint configuration (docs/endpoint-configuration.md).' },
  { name: 'workspaces', description: 'Preferences, workspaces and their sharing (docs/workspaces.md).' },
  { name: 'widgets', description: 'Widget bundles and their files (docs/widgets.md).' },
  { name: 'live', description: 'Channels, publishing and live streams (docs/live.md).' },
  { name: 'health', description: 'Liveness and readiness for load balancers.' },
];

/** What the document holds besides its operations: shared schemas, headers, failures and tags. */
export function sharedParts(document: OpenApiObject): void {
  const components = (document.components ??= {});
  components.schemas = { ...components.schemas, Problem: PROBLEM, ProblemEnvelope: PROBLEM_ENVELOPE };
  components.headers = { ...components.headers, ...HEADERS };
  components.responses = {
    ...components.responses,
    ...Object.fromEntries(
      Object.entries(ERROR_RESPONSES).map(([status, { name }]) => [
        name,
        errorResponse(Number(status) as ErrorStatus),
      ]),
    ),
  };
  document.tags = TAGS;
}
