/**
 * What `/readyz` answers, as pure functions of what the caches and the leader election report.
 *
 * Ready means: this process can do its job as soon as it leads. So:
 * - a cache that has not listed its kind yet is not ready (a reconcile would read an empty cache
 *   as "nothing exists" and create or prune wrongly), and the reason names the kind and the last
 *   failure (e.g. a 403 from missing RBAC);
 * - a kind the API server does not serve is ready: nothing of it exists, so the empty cache is
 *   complete (a mesh's CRDs before that mesh is installed);
 * - except a kind the operator cannot work without (its own MeshInstallation), whose absence a
 *   person must fix;
 * - leader election must have been answered once, and nothing may block it (a missing namespace,
 *   missing RBAC). A standby waiting for another candidate's lease is ready: it takes over warm.
 */
import type { ReadinessStatus } from './http-server.ts';
import type { ElectionHealth } from './leader-election.ts';

/** What one informer reports, for readiness. */
export interface CacheState {
  apiVersion: string;
  kind: string;
  /** A list has completed. */
  synced: boolean;
  /** The API server does not serve the kind (404). */
  notServed: boolean;
  /** The last list/watch failure since the last successful list. */
  lastError?: string;
  /** The operator cannot work while this kind is not served. */
  required?: boolean;
}

/** The reasons the caches keep the operator from being ready; empty when they do not. */
export function cacheReadinessReasons(caches: readonly CacheState[]): string[] {
  const reasons: string[] = [];
  for (const cache of caches) {
    const what = `${cache.kind} (${cache.apiVersion})`;
    if (cache.notServed) {
      if (cache.required) reasons.push(`the API server does not serve ${what}: install its CRD (kubectl apply -f crds/)`);
    } else if (!cache.synced) {
      reasons.push(`the cache of ${what} has not synced yet${cache.lastError ? `; last error: ${cache.lastError}` : ''}`);
    }
  }
  return reasons;
}

/** The reasons leader election keeps the operator from being ready; none without leader election. */
export function electionReadinessReasons(health: ElectionHealth | undefined): string[] {
  if (!health) return [];
  if (health.problem) return [health.problem.message];
  if (!health.checked) return ['leader election has not been answered by the API server yet'];
  return [];
}

/** The `/readyz` answer for these caches and this election (undefined: leader election is off). */
export function operatorReadiness(caches: readonly CacheState[], election: ElectionHealth | undefined): ReadinessStatus {
  const reasons = [...cacheReadinessReasons(caches), ...electionReadinessReasons(election)];
  return { ready: reasons.length === 0, reasons };
}
