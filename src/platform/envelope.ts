import type { ProblemDocument } from './problem.js';

export interface Pagination {
  limit: number;
  next_cursor: string | null;
  has_more: boolean;
}

/** The success envelope every answer of the API uses (docs/errors.md shows the failure one). */
export function ok<T>(data: T): { data: T; error: null; error_detail: null; success: true } {
  return { data, error: null, error_detail: null, success: true };
}

export function page<T>(data: T[], pagination: Pagination) {
  // Written out rather than spread from ok(): V8 keeps a spread-then-extended object in a slow form.
  return { data, error: null, error_detail: null, success: true as const, pagination };
}

export function failure(problem: ProblemDocument) {
  return { data: null, error: problem.detail, error_detail: problem, success: false as const };
}
