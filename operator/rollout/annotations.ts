/**
 * The names a data-plane rollout writes and reads on workloads, and the target string it restarts
 * for. A restart is what `kubectl rollout restart` does — a new `kubectl.kubernetes.io/restartedAt`
 * on the pod template, so the workload's own controller replaces its pods by its own strategy —
 * plus {@link RESTARTED_FOR_ANNOTATION}, which makes the rollout's position readable from the
 * cluster alone: a workload whose template names the current target was restarted for it already
 * and is never restarted again for it (see plan.ts).
 */

/** kubectl's own pod-template annotation for `kubectl rollout restart` (RFC 3339 time of the restart). */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Pod-template annotation: the rollout target (see {@link rolloutTarget}) the workload was last restarted for. */
export const RESTARTED_FOR_ANNOTATION = 'meshwright.dev/restarted-for';

/** Workload annotation (metadata.annotations of a Deployment, StatefulSet or DaemonSet) by which a person opts it out of restarts. */
export const RESTART_OPT_OUT_ANNOTATION = 'meshwright.dev/restart';

/** The value of {@link RESTART_OPT_OUT_ANNOTATION} that opts a workload out. */
export const RESTART_OPT_OUT_VALUE = 'disabled';

/** How many hex characters of the trust bundle's SHA-256 a target carries. */
const BUNDLE_HASH_PREFIX = 12;

/**
 * The short, stable name of what the installation wants every proxy to run: the proxy version,
 * then `-` and the first 12 hex characters of the trust bundle's SHA-256 when the mesh has a
 * bundle the operator judges, then `@<revision>` when the installation runs Canary revisions
 * (e.g. `1.24.3-0a1b2c3d4e5f`, `1.24.3-0a1b2c3d4e5f@1-24-3`). Equal wants give equal targets, so a
 * target in a template annotation says "restarted for exactly this".
 */
export function rolloutTarget(wanted: { version: string; trustBundleSha256?: string; revision?: string }): string {
  const bundle = wanted.trustBundleSha256 ? `-${wanted.trustBundleSha256.slice(0, BUNDLE_HASH_PREFIX)}` : '';
  const revision = wanted.revision ? `@${wanted.revision}` : '';
  return `${wanted.version}${bundle}${revision}`;
}
