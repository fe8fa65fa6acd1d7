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
import { passTime, type PassScope, type Target } from '../controllers/meshinstallation/scope.ts';
import { renderOwned } from '../controllers/ownership.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { rolloutTarget, rolloutVerdict, type RolloutVerdict } from '../rollout/index.ts';
import type { CanaryRevisions } from './steps.ts';
import { injectorBehind, planUpgrade, versionToServe, type UpgradeEvent, type UpgradeObservation, type UpgradeStatus } from './plan.ts';
import { advanceCanary, startCanary } from './canary-executor.ts';

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

/** Canary: the revision names of the upgrade's `from` and of spec.version (undefined when either does not resolve). */
function canaryRevisions(scope: PassScope, context: PassContext, from: string | undefined): CanaryRevisions | undefined {
  const distribution = context.distributions.get(scope.mi.spec.mesh);
  if (!distribution || from === undefined || scope.installation.spec.upgrade.strategy !== 'Canary') return undefined;
  try {
    const at = (version: string) => distribution.resolve({ ...scope.mi, spec: { ...scope.installation.spec, version } }).revision;
    return { old: at(from), new: at(scope.installation.spec.version) };
  } catch {
    return undefined;
  }
}

/** What the machine reads from the spec and the recorded status. */
function baseObservation(scope: PassScope, context: PassContext): UpgradeObservation {
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
    // A Canary's gateways are its revision's (`<name>-<rev>` beside the old ones): gated with its control plane.
    hasGateways: spec.upgrade.strategy === 'InPlace' && (spec.gateways?.length ?? 0) > 0,
    revisions: canaryRevisions(scope, context, scope.status.upgrade?.to === installation.spec.version ? scope.status.upgrade.from : typeof served === 'string' ? served : undefined),
  };
}

/** An object or component by identity. */
interface Identity {
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * Whether an object (or a component) belongs to one of spec.gateways: in the gateway's namespace,
 * named after it (`<name>`, or `<name>-…` as Istio names a gateway's revisioned Deployment and its
 * ServiceAccount). CRDs never do. The same rule tells gateways from control plane in the gates.
 */
export function isGatewayObject(spec: Pick<PassScope['mi']['spec'], 'gateways' | 'namespace'>, object: Identity): boolean {
  if (object.kind === 'CustomResourceDefinition') return false;
  return (spec.gateways ?? []).some((g) => (object.namespace ?? '') === (g.namespace ?? spec.namespace) && (object.name === g.name || object.name.startsWith(`${g.name}-`)));
}

/**
 * The objects of a pass while an InPlace upgrade's control plane is judged (phase ControlPlane):
 * the gateways keep the previous version's objects, so they move only once the control plane has
 * passed its gate and the Gateways phase is recorded. `desired` as it is otherwise (or when the
 * previous version can no longer be rendered: the catalog dropped it).
 */
export function holdGateways(scope: PassScope, target: Target, desired: KubeObject[]): KubeObject[] {
  const upgrade = scope.status.upgrade;
  const spec = scope.mi.spec;
  if (!upgrade || upgrade.strategy !== 'InPlace' || upgrade.phase !== 'ControlPlane' || upgrade.to !== spec.version || upgrade.from === upgrade.to) return desired;
  if ((spec.gateways?.length ?? 0) === 0) return desired;
  const installation = { ...scope.mi, spec: { ...spec, version: upgrade.from } };
  let previous: KubeObject[];
  try {
    previous = renderOwned(target.distribution, { installation, resolved: target.distribution.resolve(installation), ca: scope.authority?.material });
  } catch {
    return desired;
  }
  const gateway = (object: KubeObject) => isGatewayObject(spec, { kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name! });
  return [...desired.filter((object) => !gateway(object)), ...previous.filter(gateway)];
}

/**
 * Before anything is applied: records the start of an upgrade (phase ControlPlane, from, to) when
 * spec.version differs from the version last served, so the new version is never applied without
 * a record that it is an upgrade. Returns status.upgrade as it now stands.
 */
export async function recordUpgradeStart(scope: PassScope, context: PassContext): Promise<UpgradeStatus | undefined> {
  // strategy Canary runs the stepped machine (canary-executor.ts).
  if (scope.installation.spec.upgrade?.strategy === 'Canary') return startCanary(scope, context, (status) => recordUpgrade(scope, context, status), (events) => announce(scope, context, events));
  const decision = planUpgrade(baseObservation(scope, context), scope.clock.now());
  if (decision?.record && decision.status.phase === 'ControlPlane') {
    await recordUpgrade(scope, context, decision.status);
    scope.status.upgrade = decision.status;
    announce(scope, context, decision.events);
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
  if (scope.installation.spec.upgrade?.strategy === 'Canary') {
    await advanceCanary(scope, context, (status) => recordUpgrade(scope, context, status), (events) => announce(scope, context, events));
    holdWhileInjectorBehind(scope);
    return;
  }
  const observed = baseObservation(scope, context);
  // Gates are judged only on the version the phase is about (a pass that started a retry still served the old one).
  const judged = versionToServe(observed.wanted, observed.recorded) === scope.mi.spec.version;
  if (scope.target && scope.desired && judged) {
    const components = scope.target.distribution.componentHealth(scope.desired, (object) => context.live.get(refOf(object)));
    const notReady = (gateways: boolean) => components.filter((c) => !c.ready && isGatewayObject(scope.mi.spec, c) === gateways).map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`);
    observed.controlPlane = { notReady: notReady(false) };
    // In phase ControlPlane the gateways are the previous version's (holdGateways): their health is no gate yet.
    if (observed.recorded?.phase !== 'ControlPlane') observed.gateways = { notReady: notReady(true) };
    const { verdict, workloads } = dataPlaneVerdict(scope, context);
    observed.dataPlane = verdict;
    observed.workloads = workloads;
  }
  const decision = planUpgrade(observed, scope.clock.now());
  holdWhileInjectorBehind(scope);
  if (!decision) return;
  if (decision.record) await recordUpgrade(scope, context, decision.status);
  scope.status.upgrade = decision.status;
  if (decision.hold) scope.rolloutHold = decision.hold;
  if (decision.wakeAt !== undefined) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, decision.wakeAt);
  scope.status.conditions = setCondition(scope.status.conditions, { type: ConditionType.Upgrading, ...decision.condition, observedGeneration: scope.generation }, passTime(scope));
  if (decision.record) announce(scope, context, decision.events);
}

/**
 * Holds the rollout for this pass while the injection webhook would inject another version or
 * revision than the one this pass serves. The webhook injects the proxy of status.served
 * (injection/admission.ts), which a pass writes only at its end: a workload restarted before that
 * — in the first pass of a process started after a kill, say, InPlace or Canary — would get the
 * previous proxy, and the rollout never restarts it again for the same target. So restarts wait
 * one pass, the one that records the spec as served, and a pass is asked for a second later.
 */
function holdWhileInjectorBehind(scope: PassScope): void {
  const served = scope.installation.status?.served?.spec as { version?: unknown; upgrade?: { strategy?: unknown } } | undefined;
  const spec = scope.mi.spec;
  if (!injectorBehind(served && { version: served.version, strategy: served.upgrade?.strategy }, { version: spec.version, strategy: spec.upgrade.strategy })) return;
  scope.rolloutHold ??= `the injection webhook still injects the proxy of the spec last served (${String(served?.version)}); restarts toward ${spec.version} start once this pass has recorded its spec as served`;
  scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, scope.clock.now() + 1000);
}

/** The decision's Events, once its phase is recorded. Literal reasons, so the documented-reasons test finds each one. */
function announce(scope: PassScope, context: PassContext, events: readonly UpgradeEvent[]): void {
  const emit = context.hooks.onEvent;
  if (!emit) return;
  for (const event of events) {
    switch (event.reason) {
      case 'UpgradeStarted': emit(scope.installation, 'Normal', 'UpgradeStarted', event.message); break;
      case 'UpgradeControlPlaneReady': emit(scope.installation, 'Normal', 'UpgradeControlPlaneReady', event.message); break;
      case 'UpgradeGatewaysReady': emit(scope.installation, 'Normal', 'UpgradeGatewaysReady', event.message); break;
      case 'UpgradeSucceeded': emit(scope.installation, 'Normal', 'UpgradeSucceeded', event.message); break;
      case 'UpgradeRollingBack': emit(scope.installation, 'Warning', 'UpgradeRollingBack', event.message); break;
      case 'UpgradeRolledBack': emit(scope.installation, 'Warning', 'UpgradeRolledBack', event.message); break;
      case 'UpgradeCanaryStepPassed': emit(scope.installation, 'Normal', 'UpgradeCanaryStepPassed', event.message); break;
      case 'UpgradeAwaitingPromotion': emit(scope.installation, 'Normal', 'UpgradeAwaitingPromotion', event.message); break;
      case 'UpgradePromoting': emit(scope.installation, 'Normal', 'UpgradePromoting', event.message); break;
      default: emit(scope.installation, 'Warning', 'UpgradeFailed', event.message);
    }
  }
}
