/**
 * The stepped Canary upgrade step of a reconcile pass (#16 point 4): reads what the machine
 * (canary.ts planCanary) decides from, and does what it says — the phase or step made durable
 * first, then the pass acts on it. The InPlace sibling is executor.ts, which calls in here for
 * strategy Canary.
 *
 * Where it sits in a pass (controllers/meshinstallation/reconciler.ts):
 *
 *   {@link startCanary} (the upgrade's start recorded; `scope.canary` = what the record serves)
 *     → serve: render both revisions and the tag where the record says (revisions.ts),
 *              label each enrolled namespace with its revision (enrolment.ts)
 *     → {@link advanceCanary}: gates judged, a new phase or step recorded, then namespaces relabelled
 *     → the rollout, confined to the namespaces the step moved (rollout.ts) → status
 *
 * What a record is made durable before:
 * - a step (DataPlane n): before its namespaces are relabelled and their workloads restarted;
 * - Promoting: before the remaining namespaces move; its `Remove revision` step before the
 *   `default` tag moves (the next pass renders it there);
 * - RollingBack: before any namespace moves back;
 * - final phases: before their Events, and before the retired revision stops being rendered.
 *
 * Every action is idempotent and follows from the record alone (labels are set to what the record
 * says; the rollout never restarts a workload twice for one target), so a process killed anywhere
 * does again only what the record says, and judges the gates afresh from the cluster.
 */
import { findCondition, ConditionType, setCondition } from '../api/conditions.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { PassContext } from '../controllers/meshinstallation/context.ts';
import { proxyPodsOf, wantedProxy } from '../controllers/meshinstallation/data-plane.ts';
import { enrolNamespaces, ENROLLED_BY_ANNOTATION, ENROLLED_LABEL_ANNOTATION, recordedLabel, SYSTEM_NAMESPACES } from '../controllers/meshinstallation/enrolment.ts';
import { refOf } from '../controllers/meshinstallation/live-objects.ts';
import { planDataPlaneRollout, type ScopedRollout } from '../controllers/meshinstallation/rollout.ts';
import { passTime, type PassScope } from '../controllers/meshinstallation/scope.ts';
import { injectionRecordOf } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import type { RolloutPlan, RolloutVerdict } from '../rollout/index.ts';
import { planCanary, type CanaryDecision, type CanaryObservation, type RevisionUse } from './canary.ts';
import { canaryRolloutScope, namespaceRevision, resolveCanarySteps, type CanaryStepSpec, type EnrolledNamespace, type Label } from './canary-namespaces.ts';
import type { UpgradeEvent, UpgradeStatus } from './plan.ts';
import type { CanaryRevisions } from './steps.ts';

/** What a pass of a Canary upgrade serves and does (PassScope.canary). */
export interface CanaryPass {
  decision: CanaryDecision;
  revisions: CanaryRevisions;
  /** The version of each revision, by name. */
  versions: Readonly<Record<string, string>>;
  /** The enrolment label of a revision (Istio: istio.io/rev=<rev>). */
  labelOf(revision: string): Label | undefined;
  /** The label that follows the `default` tag (Istio: istio-injection=enabled). */
  defaultLabel?: Label;
  /** The label each namespace the operator enrolls must carry now (enrolment.ts labelFor). */
  labelFor(namespace: string): Label | undefined;
  /** The rollout the decision asks for, confined to its namespaces (rollout.ts); set once the gates are judged. */
  rollout?: ScopedRollout;
}

/** The installation at `version` (its revision's objects, labels and proxy). */
function atVersion(installation: DefaultedMeshInstallation, version: string): DefaultedMeshInstallation {
  return { ...installation, spec: { ...installation.spec, version } };
}

/** The upgrade's versions: `from` as recorded for spec.version, else the version last served. */
function versionsOf(scope: PassScope): { from?: string; to: string } {
  const to = scope.installation.spec.version;
  const recorded = scope.status.upgrade;
  const served = (scope.installation.status?.served?.spec as { version?: unknown } | undefined)?.version;
  return { from: recorded?.to === to ? recorded.from : typeof served === 'string' ? served : undefined, to };
}

/** The revisions, versions and labels of the Canary upgrade between `from` and spec.version; undefined when either does not resolve. */
function revisionsOf(scope: PassScope, context: PassContext): Omit<CanaryPass, 'decision' | 'labelFor' | 'rollout'> | undefined {
  const distribution = context.distributions.get(scope.mi.spec.mesh);
  const { from, to } = versionsOf(scope);
  if (!distribution || from === undefined || scope.mi.spec.upgrade.strategy !== 'Canary') return undefined;
  const base = scope.mi;
  try {
    const old = distribution.resolve(atVersion(base, from));
    const next = distribution.resolve(atVersion(base, to));
    const injector = distribution.injector;
    const labels: Record<string, Label | undefined> = injector
      ? { [old.revision]: injector.enrolmentLabel(atVersion(base, from), old), [next.revision]: injector.enrolmentLabel(atVersion(base, to), next) }
      : {};
    let defaultLabel: Label | undefined;
    if (injector) {
      const unrevisioned = { ...base, spec: { ...base.spec, upgrade: { ...base.spec.upgrade, strategy: 'InPlace' as const, canary: undefined } } };
      defaultLabel = injector.enrolmentLabel(unrevisioned, distribution.resolve(unrevisioned));
    }
    return { revisions: { old: old.revision, new: next.revision }, versions: { [old.revision]: from, [next.revision]: to }, labelOf: (revision) => labels[revision], defaultLabel };
  } catch {
    return undefined;
  }
}

/** The namespaces the operator enrolled (its annotation, not being deleted), with the labels a person set. */
function enrolledNamespaces(scope: PassScope, context: PassContext): EnrolledNamespace[] {
  return (context.namespaces?.list() ?? [])
    .filter((ns) => ns.metadata.annotations?.[ENROLLED_BY_ANNOTATION] === scope.name && !ns.metadata.deletionTimestamp)
    .map((ns) => {
      const ours = recordedLabel(ns.metadata.annotations?.[ENROLLED_LABEL_ANNOTATION]);
      const labels = ns.metadata.labels ?? {};
      const personLabels = Object.fromEntries(Object.entries(labels).filter(([key, value]) => !(ours && key === ours.key && value === ours.value)));
      return { name: ns.metadata.name, personLabels };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What {@link planCanary} reads from the spec, the record and the namespace cache (no gate). */
function baseObservation(scope: PassScope, context: PassContext, known: Omit<CanaryPass, 'decision' | 'labelFor' | 'rollout'>): CanaryObservation {
  const spec = withCanaryDefaults(scope.installation.spec.upgrade);
  const enrolled = enrolledNamespaces(scope, context);
  const served = (scope.installation.status?.served?.spec as { version?: unknown } | undefined)?.version;
  return {
    generation: scope.generation,
    wanted: scope.installation.spec.version,
    served: typeof served === 'string' ? served : undefined,
    rollbackOnFailure: scope.mi.spec.upgrade.rollbackOnFailure,
    progressDeadline: scope.mi.spec.upgrade.progressDeadline,
    paused: scope.paused,
    autoPromote: spec.autoPromote,
    steps: resolveCanarySteps(spec.steps, enrolled),
    enrolled: enrolled.map((ns) => ns.name),
    revisions: known.revisions,
    recorded: scope.status.upgrade,
    recordedReason: findCondition(scope.installation.status?.conditions, ConditionType.Upgrading)?.reason,
  };
}

/** spec.upgrade.canary with its defaults (autoPromote true when the block is absent). */
function withCanaryDefaults(upgrade: { canary?: { steps?: unknown[]; autoPromote?: boolean } }): { steps: CanaryStepSpec[]; autoPromote: boolean } {
  return { steps: (upgrade.canary?.steps ?? []) as CanaryStepSpec[], autoPromote: upgrade.canary?.autoPromote ?? true };
}

/** The pass's CanaryPass for `decision`. */
function passOf(known: Omit<CanaryPass, 'decision' | 'labelFor' | 'rollout'>, decision: CanaryDecision): CanaryPass {
  return {
    ...known, decision,
    // A namespace enrolled mid-upgrade (not in the decision yet) points where the tag does, as an unlabelled one would.
    labelFor: (namespace) => known.labelOf(decision.namespaceRevisions[namespace] ?? decision.defaultTag),
  };
}

/**
 * Before anything is applied: decides from the record what this pass serves (scope.canary) and
 * records the start of a Canary upgrade (phase ControlPlane) when spec.version differs from the
 * version last served, before the new revision is first applied. Returns status.upgrade as it
 * now stands.
 */
export async function startCanary(scope: PassScope, context: PassContext, record: (status: UpgradeStatus) => Promise<void>, announce: (events: UpgradeEvent[]) => void): Promise<UpgradeStatus | undefined> {
  delete scope.canary;
  const known = revisionsOf(scope, context);
  if (!known) return scope.status.upgrade;
  // No gate is judged here, and autoPromote is left for advanceCanary: the only record this step makes is a start.
  const observed = { ...baseObservation(scope, context, known), autoPromote: false };
  const decision = planCanary(observed, scope.clock.now());
  if (!decision) return scope.status.upgrade;
  if (decision.record && decision.status.phase === 'ControlPlane') {
    await record(decision.status);
    scope.status.upgrade = decision.status;
    announce(decision.events);
  }
  servingCanary(scope, context);
  return scope.status.upgrade;
}

/**
 * What the record (not this pass's gates, judged once it is applied) says this pass serves:
 * scope.canary, set once per pass — also for the scope of a pass that serves `from` while rolling
 * back, which the reconciler builds after {@link startCanary}. Undefined when no Canary upgrade
 * concerns spec.version.
 */
export function servingCanary(scope: PassScope, context: PassContext): CanaryPass | undefined {
  if (scope.canary) return scope.canary;
  const known = revisionsOf(scope, context);
  if (!known) return undefined;
  const decision = planCanary({ ...baseObservation(scope, context, known), autoPromote: false }, scope.clock.now());
  // A decision that would record is not served before it is recorded: only a recorded start is (startCanary).
  if (!decision || (decision.record && decision.status.phase !== scope.status.upgrade?.phase)) return undefined;
  scope.canary = passOf(known, decision);
  return scope.canary;
}

/** The revision each namespace in the cache points at, by its labels. */
function pointsAt(pass: CanaryPass, context: PassContext): (namespace: string) => string | undefined {
  const revisionLabels = [pass.revisions.old, pass.revisions.new].flatMap((revision) => {
    const label = pass.labelOf(revision);
    return label ? [{ revision, label }] : [];
  });
  return (namespace) => namespaceRevision(context.namespaces?.get(namespace)?.metadata.labels, revisionLabels, pass.defaultLabel, pass.decision.defaultTag);
}

/** Namespaces that follow the `default` tag: carrying the default label (not system or control-plane ones). */
function taggedNamespaces(scope: PassScope, context: PassContext, pass: CanaryPass): string[] {
  const label = pass.defaultLabel;
  if (!label) return [];
  const excluded = new Set([...SYSTEM_NAMESPACES, scope.mi.spec.namespace]);
  return (context.namespaces?.list() ?? [])
    .filter((ns) => ns.metadata.labels?.[label.key] === label.value && !excluded.has(ns.metadata.name))
    .map((ns) => ns.metadata.name);
}

/** The rollout `pass.decision` asks for, confined to its namespaces (and the tag's once the tag points at its revision). */
function scopedRollout(scope: PassScope, context: PassContext, pass: CanaryPass): ScopedRollout | undefined {
  const asked = pass.decision.rollout;
  const target = scope.target;
  const version = asked && pass.versions[asked.revision];
  if (!asked || !target || !scope.desired || version === undefined) return undefined;
  const installation = atVersion(scope.mi, version);
  const wanted = wantedProxy(target.distribution, installation, version, scope.desired, context.referencedSecret, asked.revision);
  const points = pointsAt(pass, context);
  const { namespaces, waitingFor } = canaryRolloutScope({ revision: asked.revision, namespaces: asked.namespaces, defaultTag: pass.decision.defaultTag, tagged: taggedNamespaces(scope, context, pass), pointsAt: points });
  const hold = waitingFor.length > 0
    ? `waiting for namespace${waitingFor.length === 1 ? '' : 's'} ${waitingFor.slice(0, 5).join(', ')}${waitingFor.length > 5 ? ` and ${waitingFor.length - 5} more` : ''} to point at revision ${asked.revision} before restarting their workloads`
    : undefined;
  return { wanted, namespaces: new Set(namespaces), ...(hold ? { hold } : {}) };
}

/** A rollout plan as the verdict the machine reads. */
export function verdictOf(plan: RolloutPlan | undefined): RolloutVerdict {
  if (!plan) return { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] };
  switch (plan.phase) {
    case 'Complete': return { state: 'complete', outdatedWorkloads: plan.status?.workloads.outdated ?? 0, skipped: plan.status?.skipped ?? [], barePods: plan.status?.barePods ?? [] };
    case 'Halted': return { state: 'halted', failures: plan.failures, message: plan.status?.message ?? 'the rollout halted' };
    case 'Disabled': return { state: 'disabled', message: plan.status?.message ?? 'restarts are disabled' };
    default: return { state: 'in-progress', progress: plan.status?.progress ? `${plan.status.progress} workloads current` : plan.phase };
  }
}

/** Who uses each revision: namespaces whose labels point at it, and running pods it injected. */
function revisionUse(scope: PassScope, context: PassContext, pass: CanaryPass): Record<string, RevisionUse> {
  const points = pointsAt(pass, context);
  const excluded = new Set([...SYSTEM_NAMESPACES, scope.mi.spec.namespace]);
  const namespaces = (context.namespaces?.list() ?? []).filter((ns) => !excluded.has(ns.metadata.name) && !ns.metadata.deletionTimestamp);
  const pods = proxyPodsOf(scope, context);
  const use = (revision: string): RevisionUse => ({
    namespaces: namespaces.filter((ns) => points(ns.metadata.name) === revision).map((ns) => ns.metadata.name).sort(),
    runningPods: pods.filter((pod) => injectionRecordOf(pod)?.revision === revision).length,
  });
  return { [pass.revisions.old]: use(pass.revisions.old), [pass.revisions.new]: use(pass.revisions.new) };
}

/** Components of `revision`'s render (from the pass's rendered set) not rolled out and available. */
function notReady(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): string[] {
  const components = scope.target!.distribution.componentHealth(objects, (object) => context.live.get(refOf(object)));
  return components.filter((c) => !c.ready).map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`);
}

/**
 * After the pass applied what the record serves: judges the gates (the new revision's control
 * plane, the rollout of the step's namespaces, who still uses each revision), records a new
 * phase or step before anything acts on it, relabels the namespaces the new record moves, and
 * leaves in the scope the rollout it asks for, the Upgrading condition, status.upgrade and when to
 * look again. The new revision's gate reads its objects as this pass rendered them
 * (scope.canaryRendered, revisions.ts).
 */
export async function advanceCanary(scope: PassScope, context: PassContext, record: (status: UpgradeStatus) => Promise<void>, announce: (events: UpgradeEvent[]) => void): Promise<void> {
  const serving = servingCanary(scope, context);
  if (!serving) return;
  const known = revisionsOf(scope, context);
  if (!known) return;
  const observed = baseObservation(scope, context, known);
  if (scope.target && scope.desired && !scope.paused) {
    const ofNew = scope.canaryRendered?.get(known.revisions.new);
    if (ofNew) observed.newRevision = { notReady: notReady(scope, context, ofNew) };
    const asked = scopedRollout(scope, context, serving);
    observed.dataPlane = serving.decision.rollout ? verdictOf(planDataPlaneRollout(scope, context, asked)) : undefined;
    observed.use = revisionUse(scope, context, serving);
  }
  const now = scope.clock.now();
  const decision = planCanary(observed, now);
  if (!decision) return;
  if (decision.record) await record(decision.status);
  scope.status.upgrade = decision.status;
  scope.status.conditions = setCondition(scope.status.conditions, { type: ConditionType.Upgrading, ...decision.condition, observedGeneration: scope.generation }, passTime(scope));
  if (decision.wakeAt !== undefined) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, decision.wakeAt);
  const pass = passOf(known, decision);
  scope.canary = pass;
  if (decision.record) {
    announce(decision.events);
    // The record is durable: the namespaces it moves are relabelled now; the revisions and the tag
    // it renders differently are applied by the next pass, asked for at once.
    if (scope.target && !scope.paused) scope.enrolment = await enrolNamespaces(scope, context, scope.target);
    scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, now + 1000);
    // The injection webhook reads the record (the default tag) and the labels from the operator's
    // caches, which take a moment to show these writes: restarts for the new record start next pass.
    scope.rolloutHold ??= `the canary upgrade just recorded ${decision.status.stepName ?? decision.status.phase}; restarts for it start with the next pass`;
  }
  const rollout = scopedRollout(scope, context, pass);
  if (rollout) pass.rollout = rollout;
  else if (!['Succeeded', 'RolledBack'].includes(decision.status.phase)) {
    // No step moves namespaces now (the new revision's gate, AwaitingPromotion, Failed): no batch starts toward anything.
    scope.rolloutHold ??= `the canary upgrade to ${decision.status.to} restarts no workload in phase ${decision.status.phase}${decision.status.stepName ? ` (${decision.status.stepName})` : ''}`;
  }
}
