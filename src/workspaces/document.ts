import { nestsDeeperThan } from '../platform/json-depth.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import { isJsonObject, type JsonObject } from './merge-patch.js';
import type { WorkspaceSettings } from './settings.js';

/** Keys of the document the server reads; every other key belongs to the front end. */
export const WORKSPACES_KEY = 'workspaces';
export const CURRENT_KEY = 'currentWorkspace';
export const VARIABLES_KEY = 'variables';

/** What a viewer may change in their own preferences: where they look, not what is there. */
export const VIEWER_KEYS: ReadonlySet<string> = new Set([CURRENT_KEY, 'theme', 'timeRange']);

/**
 * Keys a preferences patch may not carry, with where the change belongs. The first two are what a read
 * adds from the grants table and other people's documents; `workspaceTarget` is how some front ends
 * address another user's workspace through their own preferences, which here has a route of its own.
 */
const SERVER_KEYS: ReadonlyMap<string, string> = new Map([
  [
    'shared_workspace_library',
    "is rebuilt from the owners' grants on every read and cannot be written; edit a workspace shared with you with PATCH /api/v1/shared/{owner}/{name}",
  ],
  [
    'shared_workspace_grants',
    'is managed by the server; share a workspace with PUT /api/v1/workspaces/{name}/grants',
  ],
  [
    'workspaceTarget',
    "cannot address another user's workspace; edit a workspace shared with you with PATCH /api/v1/shared/{owner}/{name}",
  ],
]);

export const MAX_NAME_LENGTH = 100;
/** Objects and arrays may nest this deep in a document; deeper ones are refused before anything walks them. */
export const MAX_DEPTH = 32;
/**
 * `PUT /workspaces/current` sets the current workspace, so no workspace may take that name; `__proto__`
 * is a name JSON parsers refuse or mistake for an object's prototype; URL parsers drop `.` and `..`
 * segments (even percent-encoded), so a workspace so named could not be reached.
 */
const RESERVED_NAMES = new Set(['current', '__proto__', '.', '..']);

const escapeToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** `/workspaces/<name>` as a JSON pointer. */
export function workspacePointer(name: string): string {
  return `/${WORKSPACES_KEY}/${escapeToken(name)}`;
}

/** Why `name` cannot name a workspace, or undefined when it can. */
export function workspaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if ([...name].length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  if (name.includes('/'))
    return 'must not contain "/" (it separates the owner from the name in shared workspaces)';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (name.trim() !== name) return 'must not start or end with spaces';
  if (RESERVED_NAMES.has(name)) return `"${name}" is reserved`;
  return undefined;
}

/** Throws a 422 at `pointer` when `name` cannot name a workspace. */
export function checkWorkspaceName(name: string, pointer: string): void {
  const problem = workspaceNameProblem(name);
  if (problem) throw invalidField(pointer, problem);
}

/** Throws a 422 when objects and arrays in `value` nest deeper than MAX_DEPTH; walks with a stack of its own. */
export function checkDepth(value: unknown, pointer = ''): void {
  if (nestsDeeperThan(value, MAX_DEPTH)) {
    throw invalidField(pointer, `nests objects and arrays more than ${MAX_DEPTH} levels deep`);
  }
}

/** Refuses a preferences patch that is not an object or carries a key the server owns (422). */
export function checkPatchShape(patch: unknown): asserts patch is JsonObject {
  if (!isJsonObject(patch)) {
    throw invalidField('', 'must be a JSON object (an RFC 7396 merge patch of your preferences)');
  }
  const errors = Object.keys(patch)
    .filter((key) => SERVER_KEYS.has(key))
    .map((key) => ({ pointer: `/${escapeToken(key)}`, message: SERVER_KEYS.get(key) as string }));
  if (errors.length > 0) {
    throw new AppError(ErrorCode.invalidBody, `${errors[0]?.pointer} ${errors[0]?.message}`, { errors });
  }
  checkDepth(patch);
}

/** Refuses a viewer's patch that touches anything but VIEWER_KEYS (403, naming the keys). */
export function checkViewerPatch(patch: JsonObject): void {
  const refused = Object.keys(patch).filter((key) => !VIEWER_KEYS.has(key));
  if (refused.length === 0) return;
  throw new AppError(
    ErrorCode.forbidden,
    `viewers may change only ${[...VIEWER_KEYS].join(', ')} in their preferences; refused: ${refused.join(', ')}`,
  );
}

/** The workspaces of a document, by name (empty when it has none). */
export function workspacesOf(document: JsonObject): JsonObject {
  const workspaces = document[WORKSPACES_KEY];
  return isJsonObject(workspaces) ? workspaces : {};
}

export function currentOf(document: JsonObject): string | null {
  const current = document[CURRENT_KEY];
  return typeof current === 'string' ? current : null;
}

/**
 * Checks a whole document as it would be stored: its workspaces an object of objects under valid names,
 * no more of them than allowed, `currentWorkspace` a string, and its JSON within the size limit. Returns
 * the JSON text to store.
 */
export function checkedDocument(document: JsonObject, settings: WorkspaceSettings): string {
  const workspaces = document[WORKSPACES_KEY];
  if (workspaces !== undefined) {
    if (!isJsonObject(workspaces)) {
      throw invalidField(`/${WORKSPACES_KEY}`, 'must be an object of workspaces by name');
    }
    const names = Object.keys(workspaces);
    if (names.length > settings.maxWorkspaces) {
      throw invalidField(
        `/${WORKSPACES_KEY}`,
        `holds ${names.length} workspaces; at most ${settings.maxWorkspaces} are allowed (SWITCHBOARD_WORKSPACES_MAX)`,
      );
    }
    for (const name of names) {
      checkWorkspaceName(name, workspacePointer(name));
      if (!isJsonObject(workspaces[name])) throw invalidField(workspacePointer(name), 'must be an object');
    }
  }
  const variables = document[VARIABLES_KEY];
  if (variables !== undefined && !isJsonObject(variables)) {
    throw invalidField(`/${VARIABLES_KEY}`, 'must be an object of variables by name');
  }
  const current = document[CURRENT_KEY];
  if (current !== undefined && typeof current !== 'string') {
    throw invalidField(`/${CURRENT_KEY}`, 'must be the name of a workspace (or null to clear it)');
  }
  const text = JSON.stringify(document);
  const bytes = Buffer.byteLength(text);
  if (bytes > settings.maxDocumentBytes) {
    throw invalidField(
      '',
      `would make your preferences ${bytes.toLocaleString('en-US')} bytes; at most ${settings.maxDocumentBytes.toLocaleString('en-US')} are allowed (SWITCHBOARD_PREFERENCES_MAX_BYTES)`,
    );
  }
  return text;
}
