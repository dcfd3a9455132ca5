import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import Negotiator from 'negotiator';
import { DISK_FULL_DETAIL, isDiskFull } from './disk-full.js';
import { failure } from './envelope.js';
import { AppError, buildProblem, ErrorCode, type FieldError } from './problem.js';
import { isUnreachableService } from './unreachable.js';

const PROBLEM_TYPE = 'application/problem+json';

function pointerOf(error: ErrorObject): string {
  const base = error.instancePath;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return `${base}/${String(params.missingProperty)}`;
  if (error.keyword === 'additionalProperties') return `${base}/${String(params.additionalProperty)}`;
  return base;
}

function validationErrors(error: FastifyError): FieldError[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  const prefix = context === 'body' ? '' : `/${context}`;
  return (error.validation ?? []).map((e) => ({
    pointer: `${prefix}${pointerOf(e as ErrorObject)}`,
    message: e.keyword === 'additionalProperties' ? 'is not a known field' : (e.message ?? 'is invalid'),
  }));
}

/** Maps whatever a handler or Fastify threw onto an AppError; unknown errors become a generic 500. */
export function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) {
    const errors = validationErrors(error);
    return new AppError(
      ErrorCode.invalidBody,
      `${errors.length} field(s) are invalid: ${errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ')}`,
      { errors },
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(ErrorCode.payloadTooLarge, 'request body is larger than the server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(ErrorCode.unsupportedMediaType, 'unsupported Content-Type; send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(ErrorCode.malformedRequest, 'body is empty but Content-Type says JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(ErrorCode.malformedRequest, 'Content-Length does not match the body');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new AppError(ErrorCode.malformedRequest, 'the request URL is malformed');
  }
  // Only the body parser's: a SyntaxError thrown while handling a request (a regular expression, JSON the
  // server stored) is the server's fault, and answering it as the client's bad body would hide it.
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError(ErrorCode.malformedRequest, 'body is not valid JSON');
  }
  // PostgreSQL keeps no U+0000 in text (SQLite does): a client's text holding one cannot be stored or looked
  // up there, which is the request's fault (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00").
  if ((error as { code?: unknown }).code === '22021') {
    return new AppError(
      ErrorCode.malformedRequest,
      'a text value holds the character U+0000 (NUL), which the database cannot store or look up',
    );
  }
  if (isDiskFull(error)) {
    return new AppError(ErrorCode.diskFull, DISK_FULL_DETAIL, { retryAfter: 30 });
  }
  if (isUnreachableService(error)) {
    return new AppError(ErrorCode.unavailable, 'the database is not answering; try again in a moment', {
      retryAfter: 2,
    });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return new AppError(ErrorCode.malformedRequest, 'the request is malformed');
  return new AppError(ErrorCode.internal, 'internal error; quote the instance id when reporting it');
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError) {
  const problem = buildProblem(error, request.id);
  for (const [name, value] of Object.entries(error.options.headers ?? {})) reply.header(name, value);
  if (problem.retry_after !== null) reply.header('retry-after', String(problem.retry_after));
  reply.code(error.status);
  const preferred = new Negotiator(request).mediaType(['application/json', PROBLEM_TYPE]);
  if (preferred === PROBLEM_TYPE) return reply.type(PROBLEM_TYPE).send(problem);
  return reply.type('application/json; charset=utf-8').send(failure(problem));
}

/** Problem documents for every failure, 404 vs 405 told apart, and malformed HTTP answered in kind. */
export function registerErrorHandling(app: FastifyInstance): void {
  // Every path is registered once in a method-less router so that a wrong method is a 405, not a 404.
  const paths = FindMyWay();
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let known = methodsByPath.get(route.url);
    if (!known) {
      known = new Set();
      methodsByPath.set(route.url, known);
      paths.on('GET', route.url, () => {}, { url: route.url });
    }
    for (const method of methods) known.add(method);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const match = paths.find('GET', path);
    const url = (match?.store as { url?: string } | undefined)?.url;
    const methods = url ? methodsByPath.get(url) : undefined;
    if (methods && !methods.has(request.method)) {
      const allow = [...methods].sort().join(', ');
      return sendProblem(
        request,
        reply,
        new AppError(
          ErrorCode.methodNotAllowed,
          `method ${request.method} is not allowed here; allowed: ${allow}`,
          { headers: { allow } },
        ),
      );
    }
    return sendProblem(
      request,
      reply,
      new AppError(ErrorCode.unknownRoute, `no route ${request.method} ${path}`),
    );
  });
}
