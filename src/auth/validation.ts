import { AppError, ErrorCode } from '../platform/problem.js';

/** A 422 naming one field, the way schema errors name theirs. */
export function invalidField(pointer: string, message: string): AppError {
  return new AppError(422, ErrorCode.invalidBody, `${pointer} ${message}`, {
    errors: [{ pointer, message }],
  });
}

export function notFound(what: string): AppError {
  return new AppError(404, ErrorCode.notFound, `${what} not found`);
}
