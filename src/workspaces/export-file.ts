import { AppError, invalidField } from '../platform/problem.js';
import { checkedDocument, checkPatchShape } from './document.js';
import { isJsonObject, type JsonObject } from './merge-patch.js';
import type { WorkspaceSettings } from './settings.js';
import type { Access, PrincipalType } from './store.js';

/** What `switchboard prefs export` writes and `import` reads. */
export const EXPORT_FORMAT = 'switchboard.preferences/1';

export interface ExportedGrant {
  workspace: string;
  principal_type: PrincipalType;
  principal: string;
  access: Access;
}

export interface PreferencesExport {
  format: typeof EXPORT_FORMAT;
  username: string;
  document: JsonObject;
  grants: ExportedGrant[];
}

const PRINCIPAL_TYPES: readonly string[] = ['role', 'group', 'user'];
const ACCESSES: readonly string[] = ['view', 'edit'];

/** A problem of the document, placed under `/document` in the export. */
function underDocument(error: unknown): unknown {
  if (!(error instanceof AppError) || !error.options.errors) return error;
  const errors = error.options.errors.map((e) => ({ ...e, pointer: `/document${e.pointer}` }));
  const first = errors[0];
  return new AppError(error.code, first ? `${first.pointer} ${first.message}` : error.message, { errors });
}

function checkGrant(grant: unknown, index: number): ExportedGrant {
  const at = `/grants/${index}`;
  if (!isJsonObject(grant))
    throw invalidField(at, 'must be an object: {workspace, principal_type, principal, access}');
  if (typeof grant.workspace !== 'string') throw invalidField(`${at}/workspace`, 'must be a workspace name');
  if (typeof grant.principal_type !== 'string' || !PRINCIPAL_TYPES.includes(grant.principal_type)) {
    throw invalidField(`${at}/principal_type`, `must be one of ${PRINCIPAL_TYPES.join(', ')}`);
  }
  if (typeof grant.principal !== 'string' || grant.principal.length === 0 || grant.principal.length > 64) {
    throw invalidField(`${at}/principal`, 'must be a role, group or username of 1 to 64 characters');
  }
  if (typeof grant.access !== 'string' || !ACCESSES.includes(grant.access)) {
    throw invalidField(`${at}/access`, `must be one of ${ACCESSES.join(', ')}`);
  }
  return grant as unknown as ExportedGrant;
}

/**
 * Checks an export as the API would check its parts: the document as a patch and a stored document are
 * (the server's keys refused, names and limits held, `currentWorkspace` naming one of its workspaces unless
 * it is a shared one, `<owner>/<name>`, which may not exist on this server yet), and every grant's shape,
 * on a workspace the document has. Problems point into the export. Principals are resolved by the caller.
 */
export function checkExport(data: unknown, settings: WorkspaceSettings): PreferencesExport {
  if (!isJsonObject(data) || data.format !== EXPORT_FORMAT) {
    throw invalidField('/format', `must be "${EXPORT_FORMAT}" (what switchboard prefs export writes)`);
  }
  const document = data.document;
  if (!isJsonObject(document)) throw invalidField('/document', 'must be an object: the preferences document');
  try {
    checkPatchShape(document);
    checkedDocument(document, settings);
  } catch (error) {
    throw underDocument(error);
  }
  const workspaces = isJsonObject(document.workspaces) ? document.workspaces : {};
  const current = document.currentWorkspace;
  if (typeof current === 'string' && !current.includes('/') && !Object.hasOwn(workspaces, current)) {
    throw invalidField('/document/currentWorkspace', `names no workspace of the document: "${current}"`);
  }
  const listed = data.grants ?? [];
  if (!Array.isArray(listed)) throw invalidField('/grants', 'must be a list of grants');
  const grants = listed.map(checkGrant);
  for (const [index, grant] of grants.entries()) {
    if (!Object.hasOwn(workspaces, grant.workspace)) {
      throw invalidField(
        `/grants/${index}/workspace`,
        `names a workspace the document does not have: "${grant.workspace}"`,
      );
    }
  }
  return { format: EXPORT_FORMAT, username: String(data.username ?? ''), document, grants };
}
