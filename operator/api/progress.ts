/**
 * The one-line `status.progress` shown in the Progress column of `kubectl get meshinstallations`:
 * what the operator is doing right now, most important first.
 */
import { ConditionType, findCondition } from './conditions.ts';
import type { MeshInstallationStatus } from './status.ts';

const FINAL_UPGRADE_PHASES = new Set(['Succeeded', 'RolledBack', 'Failed']);

/**
 * Summarises `status` for the Progress column: a stall (with its reason), an upgrade under way
 * (versions, phase and counts), a root rotation, a pause, pending work, or Idle when the mesh
 * matches spec. Pure; the operator stores the result in `status.progress`.
 */
export function describeProgress(status: MeshInstallationStatus, options: { paused?: boolean } = {}): string {
  const conditions = status.conditions;
  const stalled = findCondition(conditions, ConditionType.Stalled);
  if (stalled?.status === 'True') return `Stalled: ${stalled.reason}`;

  const parts: string[] = [];
  const upgrade = status.upgrade;
  if (upgrade && !FINAL_UPGRADE_PHASES.has(upgrade.phase)) {
    let text = `Upgrading ${upgrade.from} -> ${upgrade.to}: ${upgrade.phase}`;
    if (upgrade.step !== undefined && upgrade.totalSteps !== undefined) text += ` step ${upgrade.step}/${upgrade.totalSteps}`;
    if (upgrade.updatedWorkloads !== undefined && upgrade.totalWorkloads !== undefined) text += ` ${upgrade.updatedWorkloads}/${upgrade.totalWorkloads} workloads`;
    parts.push(text);
  }
  const rotation = status.certificateAuthority?.rotation;
  if (rotation && rotation.phase !== 'Idle') parts.push(`Rotating root: ${rotation.phase}`);
  if (parts.length > 0) return `${options.paused ? 'Paused: ' : ''}${parts.join('; ')}`;

  if (options.paused) return 'Paused';
  const reconciling = findCondition(conditions, ConditionType.Reconciling);
  if (reconciling?.status === 'True') {
    const components = status.components ?? [];
    const available = components.filter((component) => component.ready).length;
    // Waiting on workloads: a count a person can watch move (a failure shows its own reason instead).
    const waitingOnComponents = available < components.length && (reconciling.reason === 'Progressing' || reconciling.reason === 'ComponentsNotAvailable');
    if (waitingOnComponents) return `${status.version ? 'Updating' : 'Installing'} ${available}/${components.length} components`;
    // A data-plane rollout under way shows its workload count, as the DataPlane column does.
    const rollout = status.dataPlane?.rollout;
    if (rollout && rollout.phase !== 'Complete') return `${reconciling.reason}: DataPlane ${rollout.progress}`;
    const outdated = status.dataPlane?.outdatedPods ?? 0;
    return outdated > 0 ? `${reconciling.reason}: ${outdated} outdated pods` : reconciling.reason;
  }
  const ready = findCondition(conditions, ConditionType.Ready);
  if (ready?.status === 'True') return 'Idle';
  return ready ? ready.reason : 'Pending';
}
