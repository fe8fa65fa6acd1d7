/**
 * The status step: what the pass observed, turned into status — components, the version that
 * really runs, conditions, progress, inventory — and the one status write at the end of the pass,
 * made whatever happened before it (success, a transient failure, a terminal one).
 */
import { ConditionType, mergeConditions, withSummary, type ConditionUpdate } from '../../api/conditions.ts';
import { API_VERSION, KIND } from '../../api/meshinstallation.ts';
import { describeProgress } from '../../api/progress.ts';
import type { ComponentHealth } from '../../distributions/distribution.ts';
import { CertificateAuthorityError } from '../../pki/authority.ts';
import { isSubset } from '../../runtime/apply.ts';
import type { ReconcileError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { redactKeyMaterialInPlace } from '../../runtime/redact.ts';
import { VERSION_ANNOTATION, WORKLOAD_KINDS } from '../ownership.ts';
import { certificateAuthorityCondition, controlPlaneCondition, dataPlaneCondition } from './conditions.ts';
import type { PassContext } from './context.ts';
import { observeDataPlane } from './data-plane.ts';
import { refKey, refOf, type ObjectRef } from './live-objects.ts';
import { passTime, type PassScope } from './scope.ts';
import { upgradeStall } from '../../upgrade/plan.ts';

/** A rendered workload as observed: whether it is rolled out and available, and the version it carries. */
export interface ObservedWorkload {
  ready: boolean;
  version?: string;
}

/**
 * The mesh version that runs: the one every workload carries once all of them are rolled out and
 * available. While any is not (an install, an upgrade rolling out, a crash loop), what ran before
 * is still what runs, so the previous value stays; before anything ever ran there is none.
 */
export function runningVersion(workloads: readonly ObservedWorkload[], previous: string | undefined): string | undefined {
  if (workloads.length === 0 || !workloads.every((w) => w.ready)) return previous;
  const versions = new Set(workloads.map((w) => w.version));
  const [only] = versions;
  return versions.size === 1 && only !== undefined ? only : previous;
}

function withoutAlgorithm<T extends { keyAlgorithm?: unknown }>(summary: T): Omit<T, 'keyAlgorithm'> {
  const { keyAlgorithm: _omitted, ...rest } = summary;
  return rest;
}

/** Components and version as the caches show them; sets status.components and status.version. */
function observeWorkloads(scope: PassScope, context: PassContext, desired: readonly KubeObject[]): ComponentHealth[] {
  const live = (object: KubeObject) => context.live.get(refOf(object));
  const components = scope.target!.distribution.componentHealth(desired, live);
  const id = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ''}/${name}`;
  const ready = new Map(components.map((c) => [id(c.kind, c.namespace, c.name), c.ready]));
  const workloads = desired.filter((o) => WORKLOAD_KINDS.has(o.kind)).map((o) => ({
    ready: ready.get(id(o.kind, o.metadata.namespace, o.metadata.name)) ?? false,
    version: live(o)?.metadata.annotations?.[VERSION_ANNOTATION],
  }));
  scope.status.components = components;
  const version = runningVersion(workloads, scope.installation.status?.version);
  if (version === undefined) delete scope.status.version;
  else scope.status.version = version;
  return components;
}

/** The inventory after this pass: what is desired on success; on failure also everything still owned that this pass touched or found. */
function inventoryAfter(scope: PassScope, failure: ReconcileError | undefined): ObjectRef[] | undefined {
  if (scope.paused) return scope.status.inventory;
  const notOurs = new Set((scope.notOurs ?? []).map(refKey));
  if (!failure && scope.desired) return scope.desired.map(refOf).filter((ref) => !notOurs.has(refKey(ref)));
  const merged = new Map<string, ObjectRef>();
  for (const ref of [...(scope.status.inventory ?? []), ...scope.applied]) merged.set(refKey(ref), ref);
  return merged.size > 0 ? [...merged.values()] : undefined;
}

/**
 * Fills in the status of a pass that ended with `failure` (or none). `observedGeneration` moves
 * only when the pass judged this generation: it resolved the target, or failed with an error
 * about it; an unexpected error before that leaves it where it was.
 */
export function finishStatus(scope: PassScope, context: PassContext, failure: ReconcileError | undefined): void {
  const { status, generation, paused } = scope;
  const now = passTime(scope);
  const domain: ConditionUpdate[] = [];
  if (scope.target && scope.desired) {
    domain.push(controlPlaneCondition(observeWorkloads(scope, context, scope.desired), generation));
  }
  if (failure instanceof CertificateAuthorityError) {
    domain.push({ type: ConditionType.CertificateAuthorityReady, status: 'False', reason: failure.reason, message: failure.message, observedGeneration: generation });
  } else if (scope.target) {
    const type = scope.mi.spec.certificateAuthority.type;
    const managed = scope.target.distribution.certificateAuthority !== undefined;
    // A root rotation under way (or paused, or just finished) speaks for the CA (rotation.ts).
    if (scope.authority && scope.rotationCondition) domain.push({ type: ConditionType.CertificateAuthorityReady, ...scope.rotationCondition, observedGeneration: generation });
    else if (scope.authority || !failure) domain.push(certificateAuthorityCondition(scope.authority, { type, managed, paused, generation }));
  }
  if (scope.target) {
    const dataPlane = observeDataPlane(scope, context);
    if (dataPlane) domain.push(dataPlane);
    else if (!scope.target.distribution.injector) domain.push(dataPlaneCondition(generation));
  }
  status.conditions = withSummary({
    generation,
    conditions: mergeConditions(status.conditions, domain, now),
    // A rolled-back or failed upgrade to the version spec names is a stall of its own: spec is not what runs (upgrade/plan.ts upgradeStall).
    stalled: failure?.stalls ? { reason: failure.reason, message: failure.message } : failure ? undefined : upgradeStall(status.upgrade, scope.installation.spec.version),
    failed: failure && !failure.stalls ? { reason: failure.reason, message: failure.message } : undefined,
    paused,
  }, now);
  if (scope.authority) status.certificateAuthority = { ...status.certificateAuthority, ...withoutAlgorithm(scope.authority.summary) };
  if (scope.target || failure?.terminal) status.observedGeneration = generation;
  const inventory = inventoryAfter(scope, failure);
  if (inventory) status.inventory = inventory;
  status.progress = describeProgress(status, { paused });
}

/** Writes status by server-side apply on the status subresource, only when it changed. */
export async function writeStatus(scope: PassScope, context: PassContext): Promise<void> {
  redactKeyMaterialInPlace(scope.status); // no key reaches status in any encoding (runtime/redact.ts)
  const current = scope.installation.status ?? {};
  if (isSubset(scope.status, current) && isSubset(current, scope.status)) return;
  const updated = await context.client.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name: scope.name }, status: scope.status }, { subresource: 'status', force: true });
  context.live.remember(scope.installation, updated);
}
