import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { categoryOf, ERRORS } from '../../src/platform/problem.js';
import type { JsonSchema } from './schema-arbitrary.js';

/**
 * The HTTP contract as the server publishes it (/openapi.json) and as docs/api.md and docs/errors.md state
 * the rest: which statuses an operation may answer and what each body must look like.
 */

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** `POST /api/v1/users/{id}`, as docs/api.md writes it. */
  id: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body: { required: boolean; schema: JsonSchema } | undefined;
  /** Documented statuses; a validator where the status documents a JSON body. */
  responses: Map<number, ValidateFunction | undefined>;
  /** Whether some documented status has a body schema (else the operation is described by none). */
  described: boolean;
  secured: boolean;
}

/**
 * The failures every operation may answer (docs/api.md, Errors and Conventions; docs/errors.md, which adds
 * 408 and 431 for requests too slow or with too many header bytes): always a problem document, in the
 * envelope or bare.
 */
export const GENERIC_ERRORS = new Set([
  400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 415, 422, 429, 431, 503,
]);

const PROBLEM: JsonSchema = {
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
    type: { type: 'string', pattern: '^/docs/errors#[a-z_]+$' },
    title: { type: 'string', minLength: 1 },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string', minLength: 1 },
    instance: { type: 'string', minLength: 1 },
    error_code: { type: 'integer', enum: Object.values(ERRORS).map((e) => e.code) },
    error_category: {
      enum: ['auth', 'validation', 'not_found', 'conflict', 'rate_limit', 'upstream', 'internal'],
    },
    retryable: { type: 'boolean' },
    retry_after: { anyOf: [{ type: 'null' }, { type: 'number', minimum: 0 }] },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pointer', 'message'],
        properties: { pointer: { type: 'string' }, message: { type: 'string', minLength: 1 } },
      },
    },
  },
};

const ENVELOPED_PROBLEM: JsonSchema = {
  type: 'object',
  required: ['data', 'error', 'error_detail', 'success'],
  additionalProperties: false,
  properties: {
    data: { type: 'null' },
    error: { type: 'string' },
    error_detail: PROBLEM,
    success: { const: false },
  },
};

const statusOfCode = new Map<number, number>(Object.values(ERRORS).map((e) => [e.code, e.status]));

export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  // A CommonJS module whose default export is also module.exports.default.
  (formats as unknown as { default: (ajv: Ajv2020) => void }).default(ajv);
  return ajv;
}

/** The operations of an OpenAPI document, with a compiled validator per documented response body. */
export function operationsOf(doc: any, ajv = newAjv()): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      const responses = new Map<number, ValidateFunction | undefined>();
      let described = false;
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        const schema = response.content?.['application/json']?.schema;
        if (schema) described = true;
        responses.set(Number(status), schema ? ajv.compile(schema) : undefined);
      }
      const json = op.requestBody?.content?.['application/json'];
      operations.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []).map((p: any) => ({
          in: p.in,
          name: p.name,
          required: Boolean(p.required),
          schema: p.schema ?? {},
        })),
        body: json ? { required: Boolean(op.requestBody.required), schema: json.schema ?? {} } : undefined,
        responses,
        described,
        // `{}` among the alternatives: no credential needed (a public route).
        secured:
          Array.isArray(op.security) &&
          op.security.length > 0 &&
          !op.security.some((entry: object) => Object.keys(entry).length === 0),
      });
    }
  }
  return operations;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** What was found wrong with one answer (empty: nothing), and how it was judged. */
export interface Verdict {
  violations: string[];
  /** A 2xx/3xx of an operation whose OpenAPI entry describes no response at all (not checkable). */
  undescribed: boolean;
}

const header = (headers: Answer['headers'], name: string): string => {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
};

function mediaType(headers: Answer['headers']): string {
  return header(headers, 'content-type').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** A validator's verdict, without its type guard narrowing what it looked at. */
const passes = (validate: ValidateFunction, value: unknown): boolean => Boolean(validate(value));

function ajvErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
}

/** Judges answers against the contract. */
export class Contract {
  private readonly problem: ValidateFunction;
  private readonly envelopedProblem: ValidateFunction;

  constructor(ajv = newAjv()) {
    this.problem = ajv.compile(PROBLEM);
    this.envelopedProblem = ajv.compile(ENVELOPED_PROBLEM);
  }

  /** A failure answer: a problem document (bare for application/problem+json, else in the envelope). */
  checkProblem(answer: Answer): string[] {
    const type = mediaType(answer.headers);
    let body: any;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return [`a ${answer.status} whose body is not JSON (${type}): ${answer.text.slice(0, 200)}`];
    }
    const bare = type === 'application/problem+json';
    if (!bare && type !== 'application/json') return [`a ${answer.status} of type ${type || 'none'}`];
    const validate = bare ? this.problem : this.envelopedProblem;
    if (!passes(validate, body))
      return [`a ${answer.status} problem that breaks its shape: ${ajvErrors(validate)}`];
    const problem = bare ? body : body.error_detail;
    const out: string[] = [];
    if (problem.status !== answer.status) out.push(`problem.status ${problem.status} on a ${answer.status}`);
    if (statusOfCode.get(problem.error_code) !== answer.status) {
      out.push(
        `error_code ${problem.error_code} goes out with ${statusOfCode.get(problem.error_code)}, not ${answer.status}`,
      );
    }
    if (categoryOf(problem.error_code).name !== problem.error_category) {
      out.push(`error_category ${problem.error_category} for code ${problem.error_code}`);
    }
    if (!bare && body.error !== problem.detail) out.push('envelope error differs from the detail');
    const requestId = header(answer.headers, 'x-request-id');
    if (requestId !== problem.instance)
      out.push(`instance ${problem.instance} is not X-Request-Id ${requestId}`);
    if (answer.status === 422 && problem.error_code === 2000 && !(problem.errors?.length > 0)) {
      out.push('a 422 (2000) without errors[]');
    }
    if (
      problem.retry_after !== null &&
      header(answer.headers, 'retry-after') !== String(problem.retry_after)
    ) {
      out.push(
        `retry_after ${problem.retry_after} but Retry-After "${header(answer.headers, 'retry-after')}"`,
      );
    }
    return out.map((v) => `${v}: ${answer.text.slice(0, 300)}`);
  }

  /**
   * What holds of an answer no schema describes: under /api/v1 a JSON answer is the success envelope
   * (docs/api.md, "The envelope").
   */
  checkEnvelope(op: Operation, answer: Answer): string[] {
    if (!op.path.startsWith('/api/v1/') || mediaType(answer.headers) !== 'application/json') return [];
    try {
      const body = JSON.parse(answer.text);
      if (body?.success === true && body.error === null && body.error_detail === null && 'data' in body)
        return [];
    } catch {
      return [`a ${answer.status} whose JSON body does not parse`];
    }
    return [`a ${answer.status} that is not the success envelope: ${answer.text.slice(0, 300)}`];
  }

  check(op: Operation, answer: Answer): Verdict {
    const { status } = answer;
    if (status >= 500) {
      return { violations: [`a ${status}: ${answer.text.slice(0, 500)}`], undescribed: false };
    }
    if (status === 204 && answer.text !== '')
      return { violations: ['a 204 with a body'], undescribed: false };
    // A documented failure is a problem document in either media type (its components in /openapi.json);
    // the problem check holds it to more than a schema can (status, code, category, instance, Retry-After).
    if (status >= 400 && (op.responses.has(status) || GENERIC_ERRORS.has(status))) {
      return { violations: this.checkProblem(answer), undescribed: false };
    }
    if (op.responses.has(status)) {
      const validate = op.responses.get(status);
      if (!validate) return { violations: this.checkEnvelope(op, answer), undescribed: !op.described };
      const type = mediaType(answer.headers);
      if (type !== 'application/json') {
        return { violations: [`a documented ${status} of type ${type || 'none'}`], undescribed: false };
      }
      let body: unknown;
      try {
        body = JSON.parse(answer.text);
      } catch {
        return { violations: [`a documented ${status} whose body is not JSON`], undescribed: false };
      }
      return {
        violations: passes(validate, body)
          ? []
          : [
              `a ${status} that breaks its documented schema: ${ajvErrors(validate)}: ${answer.text.slice(0, 300)}`,
            ],
        undescribed: false,
      };
    }
    // An operation that describes no answer at all (its entry is Fastify's placeholder) cannot be held
    // to a status; that it answers at all without a 5xx is what is checked.
    if (!op.described && status < 400)
      return { violations: this.checkEnvelope(op, answer), undescribed: true };
    return {
      violations: [`status ${status} is not documented: ${answer.text.slice(0, 300)}`],
      undescribed: false,
    };
  }
}
