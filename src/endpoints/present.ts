import type { VersionList } from './service.js';

/** GET /config/versions's `data`, also what `switchboard config list --json` prints. */
export function versionListBody({ versions, state, loaded }: VersionList) {
  return {
    versions: versions.map((v) => ({
      version: v.version,
      created_at: v.createdAt,
      created_by: v.createdBy,
      message: v.message,
      active: v.active,
    })),
    active: state.activeVersion,
    loaded,
    last_good: state.lastGoodVersion,
    recovery: state.recovery,
    recovery_version: state.recoveryVersion,
    recovery_reason: state.recoveryReason,
  };
}
