/**
 * The data-plane rollout as other parts of the operator use it. An upgrade (#16) or a CA rotation
 * (#17) changes what the installation wants every proxy to run — the version, the trust bundle —
 * and so the rollout's target ({@link rolloutTarget}); the reconcile pass then restarts outdated
 * workloads toward it (controllers/meshinstallation/rollout.ts). The caller follows it:
 *
 * - in the same pass, `scope.rollout` is the {@link RolloutPlan} (phase, failures, status);
 * - across passes, {@link rolloutVerdict} reads status.dataPlane.rollout for a target: wait while
 *   `in-progress` or `pending`, go on at `complete`, decide what follows a `halted` one (roll
 *   back, or leave it for a person: the rollout resumes by itself once the failed workloads pass
 *   the health gate);
 * - to keep workloads from being restarted for a while (a control plane not yet serving the new
 *   version), a step before the rollout sets `scope.rolloutHold` to the reason: no new batch
 *   starts while it is set (phase Waiting, the reason in the message), batches in flight are
 *   still judged.
 */
import type { MeshInstallationStatus } from '../api/status.ts';
import type { RolloutFailure } from './plan.ts';

export { rolloutTarget, RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION, RESTART_OPT_OUT_ANNOTATION, RESTART_OPT_OUT_VALUE } from './annotations.ts';
export { planRollout, RolloutReason, type RolloutPlan, type RolloutPhase, type RolloutFailure, type RolloutStatus } from './plan.ts';

/** Where the rollout toward one target stands, for a caller waiting on it. */
export type RolloutVerdict =
  /**
   * Nothing is left for the rollout to restart for the target (or no pod runs this installation's
   * proxy). Outdated may remain what it does not restart: `outdatedWorkloads` (a namespace not
   * enrolled, OnDelete, a paused Deployment), `skipped` (opted out) and `barePods`.
   */
  | { state: 'complete'; outdatedWorkloads: number; skipped: string[]; barePods: string[] }
  /** Batches are restarting, or the next waits (batchInterval, a hold). */
  | { state: 'in-progress'; progress: string }
  /** A batch failed the health gate: no further batch starts. */
  | { state: 'halted'; failures: RolloutFailure[]; message: string }
  /** Restarts are disabled: outdated workloads are left to the user. */
  | { state: 'disabled'; message: string }
  /** The rollout shown is for another target: no pass has planned this one yet. */
  | { state: 'pending' };

/** The rollout toward `target` as `status` (a MeshInstallation's status) shows it. */
export function rolloutVerdict(status: MeshInstallationStatus | undefined, target: string): RolloutVerdict {
  const dataPlane = status?.dataPlane;
  const rollout = dataPlane?.rollout;
  if (!rollout) return dataPlane && dataPlane.injectedPods === 0 ? { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } : { state: 'pending' };
  if (rollout.target !== target) return { state: 'pending' };
  switch (rollout.phase) {
    case 'Complete': return { state: 'complete', outdatedWorkloads: rollout.workloads.outdated, skipped: rollout.skipped ?? [], barePods: rollout.barePods ?? [] };
    case 'Halted': return { state: 'halted', failures: rollout.failures ?? [], message: rollout.message };
    case 'Disabled': return { state: 'disabled', message: rollout.message };
    default: return { state: 'in-progress', progress: rollout.progress };
  }
}
