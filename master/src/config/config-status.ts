/**
 * Whether a node runs its desired configuration, from what its last heartbeat says (`config`)
 * and the newest version the master keeps. Computed in two places that must agree: here for
 * single nodes, and in SQL for the fleet page (`CONFIG_STATUS_SQL`, node-repository.ts).
 */
import type { ConfigHeartbeat, NodeConfigStatus } from '@cctv/protocol';

export function configStatus(
  reported: ConfigHeartbeat | undefined,
  desired: number | null,
): NodeConfigStatus {
  const base = {
    mode: reported?.mode ?? null,
    desiredVersion: desired,
    appliedVersion: reported?.version ?? null,
  };
  const failed = reported?.failed && reported.failed.version === desired ? reported.failed.reason : null;
  if (!reported) return { ...base, sync: 'unknown', reason: null };
  if (reported.mode === 'file') return { ...base, sync: 'file_managed', reason: failed };
  if (desired === null) return { ...base, sync: 'unconfigured', reason: null };
  if (reported.version === desired) return { ...base, sync: 'in_sync', reason: null };
  if (failed !== null) return { ...base, sync: 'failed', reason: failed };
  return { ...base, sync: 'pending', reason: null };
}

/**
 * The same as `configStatus`, as a SQL expression over `n` (the Node row) and `dv` (the newest
 * desired version, an integer or NULL).
 */
export function configStatusSql(hb: string, dv: string): string {
  const cfg = `(${hb})->'config'`;
  const applied = `(${cfg}->>'version')::int`;
  const failedAt = `(${cfg}->'failed'->>'version')::int`;
  const failed = `CASE WHEN ${failedAt} = ${dv} THEN ${cfg}->'failed'->>'reason' END`;
  return `json_build_object(
    'mode', ${cfg}->>'mode', 'desiredVersion', ${dv}, 'appliedVersion', ${applied},
    'sync', CASE WHEN ${cfg} IS NULL THEN 'unknown'
                 WHEN ${cfg}->>'mode' = 'file' THEN 'file_managed'
                 WHEN ${dv} IS NULL THEN 'unconfigured'
                 WHEN ${applied} = ${dv} THEN 'in_sync'
                 WHEN ${failedAt} = ${dv} THEN 'failed'
                 ELSE 'pending' END,
    'reason', CASE WHEN ${cfg} IS NULL OR (${cfg}->>'mode' = 'master' AND ${applied} IS NOT DISTINCT FROM ${dv})
                   THEN NULL ELSE ${failed} END)`;
}
