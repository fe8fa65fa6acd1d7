/**
 * Control-plane sync: the desired objects of a pass and their server-side apply.
 *
 * Only objects whose declared fields differ from the live ones are sent, so a pass that changes
 * nothing writes nothing. Objects go out stage by stage in dependency order; within a stage they
 * go out together (bounded), and a stage with a failure stops the pass before the next one: what
 * depends on a failed object is not applied, and nothing is pruned, so what already runs keeps
 * running. Every failure names its object and carries the API server's message.
 */
import { applyStages, needsApply } from '../../runtime/apply.ts';
import { describeObject, ReconcileError, writeError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { DESIRED_HASH_ANNOTATION, markOwned, renderOwned } from '../ownership.ts';
import type { PassContext } from './context.ts';
import { refKey, refOf } from './live-objects.ts';
import type { PassScope, Target } from './scope.ts';

/** Applies in flight at once within a stage: enough to hide round trips, few enough not to burst the API server's fairness queue. */
const MAX_CONCURRENT_APPLIES = 8;

/** The objects the pass wants: the render with its CA material, plus the CA state Secret. */
export function computeDesired(scope: PassScope, target: Target): KubeObject[] {
  const desired = renderOwned(target.distribution, { installation: scope.mi, resolved: target.resolved, ca: scope.authority?.material });
  if (scope.authority) desired.push(markOwned(scope.authority.stateSecret, scope.name));
  return desired;
}

/**
 * Several failures of one stage as one error: the first one's reason (and stall), every object
 * named in the message.
 */
function combined(failures: readonly ReconcileError[]): ReconcileError {
  const [first] = failures;
  if (failures.length === 1) return first!;
  return new ReconcileError(first!.reason, `${failures.length} objects failed: ${failures.map((f) => f.message).join('; ')}`, { stalls: failures.some((f) => f.stalls), subject: first!.subject });
}

/** Applies what differs from the live state, stage by stage; throws a ReconcileError naming every object that failed. */
export async function applyObjects(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): Promise<void> {
  const previouslyApplied = new Set(scope.previousInventory.map(refKey));
  for (const stage of applyStages(objects)) {
    const pending = stage.filter((object) => needsApply(object, context.live.get(refOf(object))));
    const failures: ReconcileError[] = [];
    for (let i = 0; i < pending.length; i += MAX_CONCURRENT_APPLIES) {
      const results = await Promise.allSettled(pending.slice(i, i + MAX_CONCURRENT_APPLIES).map((object) => applyOne(scope, context, object, previouslyApplied)));
      for (const result of results) if (result.status === 'rejected') failures.push(result.reason as ReconcileError);
    }
    if (failures.length > 0) throw combined(failures);
  }
}

/**
 * Applies one object. The apply counts as a drift correction when the live object already carries
 * the hash of what we want (so someone else changed it) or when an object the last pass applied
 * has vanished (so someone deleted it).
 */
async function applyOne(scope: PassScope, context: PassContext, object: KubeObject, previouslyApplied: ReadonlySet<string>): Promise<void> {
  const ref = refOf(object);
  const live = context.live.get(ref);
  const drift = live === undefined
    ? previouslyApplied.has(refKey(ref)) ? 'recreated' : undefined
    : live.metadata.annotations?.[DESIRED_HASH_ANNOTATION] === object.metadata.annotations?.[DESIRED_HASH_ANNOTATION] ? 'restored' : undefined;
  let applied: KubeObject;
  try {
    applied = await context.client.apply(object, { force: true });
  } catch (error) {
    throw writeError('apply', ref, error);
  }
  context.live.remember(live, applied);
  scope.applied.push(ref);
  if (object.kind === 'CustomResourceDefinition') context.live.wakeInformersOf((object.spec as { group?: string } | undefined)?.group);
  if (drift) {
    scope.log.info({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, drift }, 'drift corrected: another writer changed or deleted an owned object');
    context.hooks.onDriftCorrected?.(object.kind, scope.name);
    const what = describeObject(ref);
    context.hooks.onEvent?.(scope.installation, 'Normal', 'DriftCorrected', drift === 'recreated' ? `${what} was deleted by another writer and has been recreated` : `${what} was changed by another writer and has been restored`);
  } else {
    scope.log.debug({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, created: !live }, 'applied');
  }
}
