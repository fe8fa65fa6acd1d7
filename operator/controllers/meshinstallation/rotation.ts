/**
 * The root (trust anchor) rotation step of a reconcile pass: reads what the planner
 * (pki/rotation.ts) decides from — the rotation recorded in status, the CA state this process
 * holds, the triggers, the pods' recorded trust bundles and the rollout's verdict — and does what
 * it says, the phase made durable first.
 *
 * Where it sits in a pass (reconciler.ts): PKI (the CA state read or created) → render → **this
 * step** → apply → data-plane rollout → status. Each step of the rotation is:
 *
 *   1. the planner's record (phase, startedAt, lastTrigger, queuedTrigger) written to
 *      status.certificateAuthority.rotation by a merge patch, before anything else;
 *   2. the action's new CA state (pki/rotation-state.ts) committed to the state Secret
 *      `meshwright-ca` (the operator's own), before anything is published from it;
 *   3. the pass rendered again from that state: its apply publishes the mesh's layout (trust
 *      anchors, issuer), and the rollout — whose target is the published bundle's hash — restarts
 *      the workloads toward it. The rotation never restarts anything itself; it waits on every
 *      pod's recorded hash and reads the rollout's verdict to tell waiting from stuck.
 *
 * A kill -9 between 1 and 2 leaves a phase whose action did not run: the next pass (any process)
 * decides again from the same CA state and runs it. Between 2 and 3 the state is ahead of what is
 * published: the next pass renders from the state and publishes it, and the planner's gates wait
 * on the pods, which only the published bundle reaches. The new root is generated only while the
 * committed state holds none, so no process makes a second one.
 *
 * One publishing action per pass: its apply must reach the cluster (and the pods' hashes move)
 * before the planner judges the next gate, so the pass stops there and asks for another soon.
 * Only the new root's creation is followed at once by the overlap bundle (it publishes nothing).
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionType, findCondition } from '../../api/conditions.ts';
import { parseDuration } from '../../api/duration.ts';
import { API_VERSION, KIND } from '../../api/meshinstallation.ts';
import { deploymentHealth, type CertificateAuthorityMaterial } from '../../distributions/distribution.ts';
import { injectionRecordOf, INJECTED_BY_LABEL } from '../../distributions/injection.ts';
import { TRUST_ANCHORS_ANNOTATION } from '../../distributions/istio/istiod.ts';
import { POD_ANNOTATIONS as LINKERD_POD_ANNOTATIONS } from '../../distributions/linkerd/injection/annotations.ts';
import type { AuthorityState } from '../../pki/authority.ts';
import { planRootRotation, type IdentityObservation, type RotationAction, type RotationPlan, type RotationRecord } from '../../pki/rotation.ts';
import {
  externalRotationFacts, issuingRootFingerprint, promoteExternal, promoteNewRoot, publishExternalOverlap, publishOverlap, rotationFacts, stageExternal,
  stageNewRoot, switchIssuerToNewRoot, switchToExternalIssuer,
} from '../../pki/rotation-state.ts';
import { RESTARTED_FOR_ANNOTATION, rolloutTarget, rolloutVerdict, type RolloutVerdict } from '../../rollout/index.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { authoritySettings } from '../certificate-authority.ts';
import type { PassContext } from './context.ts';
import { refOf } from './live-objects.ts';
import { wantedProxyOfPass } from './data-plane.ts';
import type { PassScope } from './scope.ts';

/** How soon the pass after a publishing step runs, when no watch event brings it sooner (ms). */
const NEXT_STEP_AFTER_MS = 1000;

/** Phases in which pods have not finished (a terminating pod's proxy still serves). */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

/** Every field of status.certificateAuthority.rotation, so a record replaces the previous one's fields instead of merging into them. */
const ROTATION_FIELDS: ReadonlyArray<keyof RotationRecord> = ['phase', 'startedAt', 'completedAt', 'lastTrigger', 'queuedTrigger'];

/**
 * The planner's record with the queued trigger made visible: a trigger value set while a rotation
 * runs (the planner keeps it pending by leaving lastTrigger alone) is shown until that rotation
 * completes; the next one then starts for it.
 */
export function withQueuedTrigger(record: RotationRecord, trigger: string | undefined): RotationRecord {
  const { queuedTrigger: _previous, ...rest } = record;
  const queued = record.phase !== 'Idle' && trigger !== undefined && trigger !== record.lastTrigger;
  return queued ? { ...rest, queuedTrigger: trigger } : rest;
}

/**
 * Pods with this installation's proxy per trust-bundle hash they recorded, and how many of those
 * are terminating (their proxy still serves until it exits, so they count until they are gone).
 */
export function podBundlesOf(pods: readonly KubeObject[], installation: string): { bundles: Record<string, number>; terminating: Record<string, number> } {
  const bundles: Record<string, number> = {};
  const terminating: Record<string, number> = {};
  for (const pod of pods) {
    if (pod.metadata.labels?.[INJECTED_BY_LABEL] !== installation) continue;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase && FINISHED_PHASES.has(phase)) continue;
    const hash = injectionRecordOf(pod)?.trustBundleSha256 ?? 'unknown';
    bundles[hash] = (bundles[hash] ?? 0) + 1;
    if (pod.metadata.deletionTimestamp) terminating[hash] = (terminating[hash] ?? 0) + 1;
  }
  return { bundles, terminating };
}

/**
 * The rollout's verdict as the rotation's gate reads it. The rollout does not count terminating
 * pods (they are on their way out), so it can say `complete` while some still hold the previous
 * bundle: that is waiting, not a rollout that restarts no more, and must not pause the rotation.
 */
export function gateVerdict(verdict: RolloutVerdict, bundles: Record<string, number>, terminating: Record<string, number>, published: string): RolloutVerdict {
  if (verdict.state !== 'complete') return verdict;
  let behindLive = 0;
  let behindTerminating = 0;
  for (const [hash, count] of Object.entries(bundles)) {
    if (hash === published) continue;
    const leaving = terminating[hash] ?? 0;
    behindTerminating += leaving;
    behindLive += count - leaving;
  }
  if (behindLive > 0 || behindTerminating === 0) return verdict;
  return { state: 'in-progress', progress: `${behindTerminating} terminating pod(s) still hold the previous trust bundle` };
}

/**
 * Pod-template annotations by which an identity service restarts onto each published bundle:
 * istiod's hash of its `cacerts` anchors, and Linkerd's trust-root hash on its control plane.
 */
const IDENTITY_ANCHORS_ANNOTATIONS: readonly string[] = [TRUST_ANCHORS_ANNOTATION, LINKERD_POD_ANNOTATIONS.trustRootSha256];

type TemplatedDeployment = KubeObject & { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };

const templateAnnotations = (object: KubeObject) => (object as TemplatedDeployment).spec?.template?.metadata?.annotations ?? {};

/**
 * The identity service as the planner's post-switch gate reads it (pki/rotation.ts,
 * IdentityObservation), or undefined when the rendered mesh has none that follows the anchors
 * (no rendered Deployment carries one of {@link IDENTITY_ANCHORS_ANNOTATIONS}). It runs the
 * published material when every such Deployment's live pod template carries the rendered hash
 * and its rollout is complete as `kubectl rollout status` judges it; since when is its Progressing
 * condition's last update to NewReplicaSetAvailable (the rollout's completion, written by the
 * Deployment controller, so it survives an operator restart), `now` when the condition is absent
 * (later is the safe side: more pods count as created before it). `bundleHash` is the bundle
 * published now, `target` the rollout's target.
 */
export function identityObservation(desired: readonly KubeObject[], live: (object: KubeObject) => KubeObject | undefined, pods: readonly KubeObject[], installation: string, bundleHash: string, target: string, now: number): IdentityObservation | undefined {
  const identities = desired.filter((object) => object.kind === 'Deployment' && IDENTITY_ANCHORS_ANNOTATIONS.some((key) => templateAnnotations(object)[key] !== undefined));
  if (identities.length === 0) return undefined;
  let since: number | undefined = -Infinity;
  for (const wanted of identities) {
    const current = live(wanted);
    const onAnchors = current !== undefined && IDENTITY_ANCHORS_ANNOTATIONS.every((key) => templateAnnotations(current)[key] === templateAnnotations(wanted)[key]);
    if (!onAnchors || !deploymentHealth(wanted, current).ready) {
      since = undefined;
      break;
    }
    const conditions = (current.status as { conditions?: Array<{ type?: string; reason?: string; lastUpdateTime?: string }> } | undefined)?.conditions ?? [];
    const completed = conditions.find((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable')?.lastUpdateTime;
    const at = completed ? Date.parse(completed) : NaN;
    since = Math.max(since, Number.isNaN(at) ? now : at);
  }
  const currentPods: Array<IdentityObservation['currentPods'][number]> = [];
  for (const pod of pods) {
    if (pod.metadata.labels?.[INJECTED_BY_LABEL] !== installation) continue;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if ((phase && FINISHED_PHASES.has(phase)) || injectionRecordOf(pod)?.trustBundleSha256 !== bundleHash) continue;
    const created = pod.metadata.creationTimestamp ? Date.parse(pod.metadata.creationTimestamp) : NaN;
    currentPods.push({ createdAt: Number.isNaN(created) ? now : created, restartedForTarget: pod.metadata.annotations?.[RESTARTED_FOR_ANNOTATION] === target });
  }
  return { ...(since === undefined ? {} : { onNewIssuerSince: since }), currentPods };
}

/** The CA state an action leads to; undefined for actions that change no state. `target`: an External CA's new material, from the user's Secret. */
async function stateAfter(action: RotationAction, state: AuthorityState, scope: PassScope, settings: ReturnType<typeof authoritySettings>, target: CertificateAuthorityMaterial | undefined): Promise<AuthorityState | undefined> {
  const now = scope.clock.now();
  if (scope.mi.spec.certificateAuthority.type === 'External') {
    switch (action) {
      case 'stageExternalRoot': return target ? stageExternal(state, target) : undefined;
      case 'publishOverlapBundle': return publishExternalOverlap(state);
      case 'switchIssuer': return switchToExternalIssuer(state);
      case 'publishNewRootOnly': return promoteExternal(state);
      default: return undefined;
    }
  }
  switch (action) {
    case 'generateNewRoot': return stageNewRoot(state, settings, now);
    case 'publishOverlapBundle': return publishOverlap(state);
    case 'switchIssuer': return switchIssuerToNewRoot(state, settings, now);
    case 'publishNewRootOnly': return promoteNewRoot(state);
    default: return undefined;
  }
}

/**
 * Makes `record` durable at once: a JSON merge patch of status.certificateAuthority.rotation on
 * the status subresource (every field named; null removes one the previous record had). Like an
 * upgrade's phase, it cannot wait for the end of the pass: the step it records must not start before.
 */
async function recordRotation(scope: PassScope, context: PassContext, record: RotationRecord): Promise<void> {
  const patch = Object.fromEntries(ROTATION_FIELDS.map((field) => [field, record[field] ?? null]));
  const updated = await context.client.patch({ apiVersion: API_VERSION, kind: KIND }, scope.name, undefined, { status: { certificateAuthority: { rotation: patch } } }, 'merge', 'status');
  context.live.remember(scope.installation, updated);
  scope.log.info({ phase: record.phase, startedAt: record.startedAt, lastTrigger: record.lastTrigger, queuedTrigger: record.queuedTrigger }, 'root rotation phase recorded');
}

/**
 * Runs this pass's part of the root rotation (see the module comment); `render` renders the pass
 * again from the CA state the step committed (scope.authority and scope.desired). Does nothing for
 * a mesh without a managed CA, or paused. An External CA rotates when the user's Secret holds an
 * issuer chaining to a root the mesh does not trust yet (certificate-authority.ts keeps the mesh on
 * what it uses and hands that material over as `externalTarget`).
 */
export async function advanceRootRotation(scope: PassScope, context: PassContext, render: () => void): Promise<void> {
  const target = scope.target;
  const profile = target?.distribution.certificateAuthority?.(scope.mi);
  if (!target || !profile || !scope.authority || scope.paused) return;
  const caType = scope.mi.spec.certificateAuthority.type;
  const settings = authoritySettings(scope.mi, profile);
  const rotationSpec = scope.mi.spec.certificateAuthority.rootRotation;
  const renderWith = (ca: CertificateAuthorityMaterial) => target.distribution.render({ installation: scope.mi, resolved: target.resolved, ca });
  const previousReason = findCondition(scope.installation.status?.conditions, ConditionType.CertificateAuthorityReady)?.reason;

  // Making or staging the new root is followed by the overlap in the same pass; anything that publishes ends it.
  for (let step = 0; step < 2; step++) {
    const state = context.authorities.current(scope.mi);
    const wanted = wantedProxyOfPass(scope, context);
    if (!state || !wanted?.trustBundleSha256) return;
    const external = scope.authority.externalTarget;
    const facts = caType === 'External' ? await externalRotationFacts(state, wanted.trustBundleSha256) : await rotationFacts(state, wanted.trustBundleSha256);
    // External: the root the user's Secret's issuer chains to (the root in use when it holds nothing new).
    const externalRoot = caType !== 'External' ? undefined : external ? await issuingRootFingerprint(external.issuerChainPem, external.trustAnchorsPem) : facts.root.fingerprint;
    const recorded = scope.status.certificateAuthority?.rotation;
    // Idle with one root and none staged, the planner reads no pod (its gates are those of the
    // restarting phases, which a staged root found in Idle resumes): a steady pass does not scan
    // every pod of the mesh for it, twice (a large part of a pass at 4,000 pods).
    const rotating = (recorded?.phase ?? 'Idle') !== 'Idle' || facts.next !== undefined;
    const pods = rotating ? context.pods?.list() ?? [] : [];
    const { bundles, terminating } = podBundlesOf(pods, scope.name);
    const verdict = gateVerdict(rolloutVerdict(scope.installation.status, rolloutTarget(wanted)), bundles, terminating, facts.trustBundleHash);
    const identity = rotating ? identityObservation(scope.desired ?? [], (object) => context.live.get(refOf(object)), pods, scope.name, facts.trustBundleHash, rolloutTarget(wanted), scope.clock.now()) : undefined;
    const plan = planRootRotation({
      caType, ...(externalRoot ? { externalRoot } : {}),
      settings: { automatic: rotationSpec.automatic ?? true, renewBeforeMs: parseDuration(rotationSpec.renewBefore ?? '720h'), trigger: rotationSpec.trigger },
      recorded, ca: facts, rollout: verdict, podBundles: bundles, ...(identity ? { identity } : {}),
    }, scope.clock.now());
    const record = withQueuedTrigger(plan.record, rotationSpec.trigger);
    const changed = !isDeepStrictEqual(record, recorded);
    if (changed) await recordRotation(scope, context, record);
    scope.status.certificateAuthority = { ...scope.status.certificateAuthority, rotation: record } as NonNullable<typeof scope.status.certificateAuthority>;
    scope.rotationCondition = plan.condition;
    if (plan.wakeAt !== undefined) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, plan.wakeAt);
    // A pause repeats on every pass until it ends: its Event is sent once, when it begins.
    if (plan.event && (changed || plan.condition?.reason !== previousReason)) announce(scope, context, plan);

    const next = await stateAfter(plan.action, state, scope, settings, external);
    if (!next) return;
    await context.authorities.commit(scope.mi, next);
    scope.authority = await context.authorities.ensure(scope.mi, profile, renderWith);
    render();
    if (plan.action !== 'generateNewRoot' && plan.action !== 'stageExternalRoot') {
      scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, scope.clock.now() + NEXT_STEP_AFTER_MS);
      return;
    }
  }
}

/** The plan's Event. Literal reasons, so the documented-reasons test finds each one. */
function announce(scope: PassScope, context: PassContext, plan: RotationPlan): void {
  const emit = context.hooks.onEvent;
  const event = plan.event;
  if (!emit || !event) return;
  switch (event.reason) {
    case 'RootRotationStarted': emit(scope.installation, 'Normal', 'RootRotationStarted', event.message); break;
    case 'RootRotationRestartingForTrustBundle': emit(scope.installation, 'Normal', 'RootRotationRestartingForTrustBundle', event.message); break;
    case 'RootRotationSwitchingIssuer': emit(scope.installation, 'Normal', 'RootRotationSwitchingIssuer', event.message); break;
    case 'RootRotationRestartingForIssuer': emit(scope.installation, 'Normal', 'RootRotationRestartingForIssuer', event.message); break;
    case 'RootRotationDroppingOldRoot': emit(scope.installation, 'Normal', 'RootRotationDroppingOldRoot', event.message); break;
    case 'RootRotationExtendingTrustBundle': emit(scope.installation, 'Normal', 'RootRotationExtendingTrustBundle', event.message); break;
    case 'RootRotationCompleted': emit(scope.installation, 'Normal', 'RootRotationCompleted', event.message); break;
    case 'RootRotationCancelled': emit(scope.installation, 'Normal', 'RootRotationCancelled', event.message); break;
    case 'RotationTriggerIgnored': emit(scope.installation, 'Warning', 'RotationTriggerIgnored', event.message); break;
    case 'RotationStateMismatch': emit(scope.installation, 'Warning', 'RotationStateMismatch', event.message); break;
    default: emit(scope.installation, 'Warning', 'RotationPaused', event.message);
  }
}
