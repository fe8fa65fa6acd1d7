/**
 * The InPlace upgrade step of a reconcile pass: reads what the machine (plan.ts) decides from, and
 * does what it says — the phase made durable first, then the pass acts on it.
 *
 * Where it sits in a pass (controllers/meshinstallation/reconciler.ts):
 *
 *   {@link recordUpgradeStart} → {@link versionToServe} → serve (render, apply) → {@link advanceUpgrade} → data-plane rollout → status
 *
 * The acting is the pass's own: serve renders and applies the version to serve (the new one, or
 * `from` while rolling back), the rollout restarts workloads toward that version's proxy unless
 * the upgrade holds it. So the only writes here are the phase records, each one merge patch of
 * status.upgrade sent before the step it belongs to:
 *
 * - the start (ControlPlane) is recorded before the new version is first applied;
 * - DataPlane is recorded before the rollout may restart the first workload for the new proxy;
 * - RollingBack is recorded before the previous version is applied again (the next pass serves it);
 * - final phases are recorded before their Events.
 *
 * A kill -9 between a record and the end of the pass leaves a phase whose action ran partly or
 * not at all; the next pass (any process) reads the record back and judges the gate afresh from
 * the live objects and the restart marks, and every action is one the pass would take anyway —
 * an apply that sends only differences, a rollout that never restarts a workload twice for one
 * target. A kill before a record leaves the previous phase, whose gate is judged again.
 */
import { findCondition, ConditionType, setCondition } from '../api/conditions.ts';
import { API_VERSION, KIND } from '../api/meshinstallation.ts';
import { refOf } from '../controllers/meshinstallation/live-objects.ts';
import type { PassContext } from '../controllers/meshinstallation/context.ts';
import { wantedProxyOfPass } from '../controllers/meshinstallation/data-plane.ts';
import { passTime, type PassScope } from '../controllers/meshinstallation/scope.ts';
import { rolloutTarget, rolloutVerdict, type RolloutVerdict } from '../rollout/index.ts';
import { planUpgrade, versionToServe, type UpgradeDecision, type UpgradeObservation, type UpgradeStatus } from './plan.ts';

export { versionToServe };

/** Every field of status.upgrade, so a record replaces the previous upgrade's fields instead of merging into them. */
const UPGRADE_FIELDS: ReadonlyArray<keyof UpgradeStatus> = ['from', 'to', 'strategy', 'phase', 'step', 'totalSteps', 'stepName', 'pauseUntil', 'updatedWorkloads', 'totalWorkloads', 'startedAt', 'phaseStartedAt', 'finishedAt', 'generation', 'message'];

/**
 * Makes `upgrade` durable at once: a JSON merge patch of status.upgrade on the status subresource
 * (every field named; null removes one the previous upgrade left). The one status write of a pass
 * that does not wait for its end, because the step it records must not start before it is durable.
 */
async function recordUpgrade(scope: PassScope, context: PassContext, upgrade: UpgradeStatus): Promise<void> {
  const patch = Object.fromEntries(UPGRADE_FIELDS.map((field) => [field, upgrade[field] ?? null]));
  const updated = await context.client.patch({ apiVersion: API_VERSION, kind: KIND }, scope.name, undefined, { status: { upgrade: patch } }, 'merge', 'status');
  context.live.remember(scope.installation, updated);
  scope.log.info({ from: upgrade.from, to: upgrade.to, phase: upgrade.phase }, 'upgrade phase recorded');
}

/** What the machine reads from the spec and the recorded status. */
function baseObservation(scope: PassScope): UpgradeObservation {
  const { installation } = scope;
  const spec = scope.mi.spec;
  const served = (installation.status?.served?.spec as { version?: unknown } | undefined)?.version;
  return {
    generation: scope.generation,
    // The spec as written: a pass serving `from` while rolling back has another version in scope.mi.
    wanted: installation.spec.version,
    served: typeof served === 'string' ? served : undefined,
    strategy: spec.upgrade.strategy,
    rollbackOnFailure: spec.upgrade.rollbackOnFailure,
    progressDeadline: spec.upgrade.progressDeadline,
    paused: scope.paused,
    recorded: scope.status.upgrade,
    recordedReason: findCondition(installation.status?.conditions, ConditionType.Upgrading)?.reason,
  };
}

/**
 * Before anything is applied: records the start of an upgrade (phase ControlPlane, from, to) when
 * spec.version differs from the version last served, so the new version is never applied without
 * a record that it is an upgrade. Returns status.upgrade as it now stands.
 */
export async function recordUpgradeStart(scope: PassScope, context: PassContext): Promise<UpgradeStatus | undefined> {
  const decision = planUpgrade(baseObservation(scope), scope.clock.now());
  if (decision?.record && decision.status.phase === 'ControlPlane') {
    await recordUpgrade(scope, context, decision.status);
    scope.status.upgrade = decision.status;
    announce(scope, context, decision);
  }
  return scope.status.upgrade;
}

/** The rollout toward the proxy of the version this pass serves, as the last written status shows it. */
function dataPlaneVerdict(scope: PassScope, context: PassContext): { verdict: RolloutVerdict; workloads?: { current: number; total: number } } {
  const wanted = wantedProxyOfPass(scope, context);
  // A mesh without injection (or an operator without the workload caches) has no workload to restart.
  if (!scope.target?.distribution.injector || !context.workloads || !wanted) return { verdict: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } };
  const target = rolloutTarget(wanted);
  const status = scope.installation.status;
  const rollout = status?.dataPlane?.rollout;
  const workloads = rollout?.target === target ? { current: rollout.workloads.current, total: rollout.workloads.total } : undefined;
  return { verdict: rolloutVerdict(status, target), workloads };
}

/**
 * After the version to serve was applied (or, paused, rendered): judges the current phase's gate
 * from the live objects and the rollout's verdict, records a new phase before the rollout may act
 * on it, and leaves in the scope what the rest of the pass needs — the hold on restarts, the
 * Upgrading condition, status.upgrade and when to look again.
 */
export async function advanceUpgrade(scope: PassScope, context: PassContext): Promise<void> {
  const observed = baseObservation(scope);
  // Gates are judged only on the version the phase is about (a pass that started a retry still served the old one).
  const judged = versionToServe(observed.wanted, observed.recorded) === scope.mi.spec.version;
  if (scope.target && scope.desired && judged) {
    const components = scope.target.distribution.componentHealth(scope.desired, (object) => context.live.get(refOf(object)));
    observed.controlPlane = { notReady: components.filter((c) => !c.ready).map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`) };
    const { verdict, workloads } = dataPlaneVerdict(scope, context);
    observed.dataPlane = verdict;
    observed.workloads = workloads;
  }
  const decision = planUpgrade(observed, scope.clock.now());
  if (!decision) return;
  if (decision.record) await recordUpgrade(scope, context, decision.status);
  scope.status.upgrade = decision.status;
  if (decision.hold) scope.rolloutHold = decision.hold;
  if (decision.wakeAt !== undefined) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, decision.wakeAt);
  scope.status.conditions = setCondition(scope.status.conditions, { type: ConditionType.Upgrading, ...decision.condition, observedGeneration: scope.generation }, passTime(scope));
  if (decision.record) announce(scope, context, decision);
}

/** The decision's Events, once its phase is recorded. Literal reasons, so the documented-reasons test finds each one. */
function announce(scope: PassScope, context: PassContext, decision: UpgradeDecision): void {
  const emit = context.hooks.onEvent;
  if (!emit) return;
  for (const event of decision.events) {
    switch (event.reason) {
      case 'UpgradeStarted': emit(scope.installation, 'Normal', 'UpgradeStarted', event.message); break;
      case 'UpgradeControlPlaneReady': emit(scope.installation, 'Normal', 'UpgradeControlPlaneReady', event.message); break;
      case 'UpgradeSucceeded': emit(scope.installation, 'Normal', 'UpgradeSucceeded', event.message); break;
      case 'UpgradeRollingBack': emit(scope.installation, 'Warning', 'UpgradeRollingBack', event.message); break;
      case 'UpgradeRolledBack': emit(scope.installation, 'Warning', 'UpgradeRolledBack', event.message); break;
      default: emit(scope.installation, 'Warning', 'UpgradeFailed', event.message);
    }
  }
}
