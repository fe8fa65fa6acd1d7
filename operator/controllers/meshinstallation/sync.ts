/**
 * Control-plane sync: the desired objects of a pass and their server-side apply.
 *
 * Only objects whose declared fields differ from the live ones are sent, so a pass that changes
 * nothing writes nothing. Objects go out wave by wave in dependency order (apply-waves.ts); within a
 * wave they go out together (bounded), and a wave with a failure stops the pass before the next one: what
 * depends on a failed object is not applied, and nothing is pruned, so what already runs keeps
 * running. Every failure names its object and carries the API server's message.
 */
import { createHash } from 'node:crypto';
import { setCondition } from '../../api/conditions.ts';
import { needsApply } from '../../runtime/apply.ts';
import { mapLimited } from '../../runtime/concurrency.ts';
import { additions, culprits, DriftReferee, formatPath, removalPatch, type ForeignField } from '../../runtime/drift-rule.ts';
import { describeObject, ReconcileError, writeError } from '../../runtime/errors.ts';
import { KubeApiError, type KubeObject } from '../../runtime/kube.ts';
import type { PassTrigger } from '../../runtime/controller.ts';
import type { DriftRepairTiming } from '../../runtime/metrics.ts';
import type { WebhookEndpoint } from '../../distributions/injection.ts';
import { DESIRED_HASH_ANNOTATION, INSTALLATION_LABEL, isSharedObject, markOwned, ownerAnnotation, renderOwned } from '../ownership.ts';
import { applyWaves, customKinds, untilServed } from './apply-waves.ts';
import { judgeAll, type Verdicts } from './claims.ts';
import { LastComputed } from './last-computed.ts';
import { InstallationReason } from './conditions.ts';
import type { PassContext } from './context.ts';
import { recordedKeys, recordIntent } from './inventory.ts';
import { timed } from './phases.ts';
import { refKey, refOf, type ObjectRef } from './live-objects.ts';
import { passTime, type PassScope, type Target } from './scope.ts';

/** Applies in flight at once within a wave: enough to hide round trips, few enough not to burst the API server's fairness queue. */
const MAX_CONCURRENT_APPLIES = 16;

/**
 * The objects the pass wants: the render with its CA material, the CA state Secret, and the mesh
 * injector's webhook configurations pointing at `webhook` (the operator's own injection webhook,
 * with the current bundle of its serving CA: the operator owns that caBundle) when there is one.
 */
export function computeDesired(scope: PassScope, target: Target, webhook?: WebhookEndpoint): KubeObject[] {
  const inputs = { ...renderedFrom(scope, target), ca: scope.authority?.material, state: scope.authority?.stateSecret, webhook };
  return remembered(lastDesired, scope.name, inputs, () => {
    const desired = renderOwned(target.distribution, { installation: scope.mi, resolved: target.resolved, ca: scope.authority?.material });
    if (scope.authority) desired.push(markOwned(scope.authority.stateSecret, scope.name));
    const { injector } = target.distribution;
    if (injector && webhook) desired.push(...injector.webhookConfigurations(scope.mi, target.resolved, webhook).map((object) => markOwned(object, scope.name)));
    return desired;
  });
}

/**
 * The objects the pass will own, rendered before the CA exists (no CA material): what is judged
 * for ownership before the first write (reconciler.ts serve).
 */
export function computePlanned(scope: PassScope, target: Target): KubeObject[] {
  return remembered(lastPlanned, scope.name, renderedFrom(scope, target), () => renderOwned(target.distribution, { installation: scope.mi, resolved: target.resolved }));
}

/**
 * What a render reads of the installation: its name and spec (a distribution reads no other
 * metadata), the mesh and the resolved version. Not its labels, annotations, resourceVersion or
 * status, which change without changing what it renders (a bench or a person annotating it).
 */
function renderedFrom(scope: PassScope, target: Target): Record<string, unknown> {
  return { name: scope.mi.metadata.name, uid: scope.mi.metadata.uid, spec: scope.mi.spec, mesh: target.distribution.mesh, resolved: target.resolved };
}

/**
 * The last render per installation and the hash of everything it was rendered from. Most passes
 * (a pod turned Ready, a namespace appeared, a timed requeue) render exactly what the last one
 * did, and rendering a mesh (hundreds of objects, their CRD schemas, a hash each) was most of a
 * pass's CPU. Only a hash of the inputs is kept: the CA material in them holds private keys.
 * Frozen objects are handed out, each time in a new array.
 */
function remembered(cache: LastComputed<readonly KubeObject[]>, name: string, inputs: unknown, render: () => KubeObject[]): KubeObject[] {
  const key = createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
  const kept = cache.get(name, key);
  if (kept) return [...kept];
  const objects = render().map(deepFreeze);
  cache.set(name, key, objects);
  return [...objects];
}

const lastDesired = new LastComputed<readonly KubeObject[]>();
const lastPlanned = new LastComputed<readonly KubeObject[]>();

/**
 * Freezes `value` and everything in it: a remembered render is handed to later passes, so a step
 * that edited a desired object in place would corrupt them all; frozen, such an edit throws at
 * once instead.
 */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Several failures of one wave as one error: the first one's reason (and stall), every object
 * named in the message.
 */
function combined(failures: readonly ReconcileError[]): ReconcileError {
  const [first] = failures;
  if (failures.length === 1) return first!;
  return new ReconcileError(first!.reason, `${failures.length} objects failed: ${failures.map((f) => f.message).join('; ')}`, { stalls: failures.some((f) => f.stalls), subject: first!.subject });
}

/** How many objects a message names before it says "and N more". */
const NAMED_IN_MESSAGE = 5;

function listed(names: readonly string[]): string {
  return names.length <= NAMED_IN_MESSAGE ? names.join(', ') : `${names.slice(0, NAMED_IN_MESSAGE).join(', ')} and ${names.length - NAMED_IN_MESSAGE} more`;
}

/**
 * The live version of each of `objects`: from the caches, and for what they lack, from the API
 * server — our caches hold only labelled objects, so an object someone else created is seen only
 * by asking. Asked once per pass, and only for objects the caches do not have (none at rest).
 */
async function lookUp(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): Promise<(object: KubeObject) => KubeObject | undefined> {
  const missing = objects.filter((object) => !context.live.get(refOf(object)) && !scope.fetched.has(refKey(refOf(object))));
  await mapLimited(missing, MAX_CONCURRENT_APPLIES, async (object) => {
    const ref = refOf(object);
    try {
      scope.fetched.set(refKey(ref), await context.client.get(ref, ref.name, ref.namespace));
    } catch (error) {
      // Absent, or a kind not served yet (its CRD comes with this render): nothing to claim.
      if (!(error instanceof KubeApiError && error.status === 404)) throw writeError('apply', ref, error);
      scope.fetched.set(refKey(ref), undefined);
    }
  });
  return (object) => context.live.get(refOf(object)) ?? scope.fetched.get(refKey(refOf(object)));
}

/**
 * Whose each of `objects` is (claims.ts), for this installation. Throws before anything is written
 * when another installation owns one of them (`ConflictingInstallation`, naming it) or someone
 * outside meshwright created one (`ObjectNotOwned`): both stall, and are retried, since what fixes
 * them — the other installation's deletion, a person's decision — is not a change of this spec.
 */
export async function claimObjects(scope: PassScope, context: PassContext, target: Target, objects: readonly KubeObject[]): Promise<Verdicts> {
  const live = await timed(scope, context, 'claims', () => lookUp(scope, context, objects));
  const verdicts = judgeAll(objects, live, {
    installation: scope.name,
    inventory: recordedKeys(scope),
    isShared: (object) => isSharedObject(target.distribution, object),
  });
  if (verdicts.conflicts.length > 0) {
    const owners = [...new Set(verdicts.conflicts.map((c) => c.owner))].sort();
    const what = listed(verdicts.conflicts.map((c) => describeObject(c.ref)));
    throw new ReconcileError(InstallationReason.ConflictingInstallation, `${what} would also be rendered by this installation but belong${verdicts.conflicts.length === 1 ? 's' : ''} to installation ${owners.map((o) => `"${o}"`).join(', ')}; two installations cannot run the same objects: delete one of them, or give this one another spec.namespace (objects without a namespace allow one installation of ${scope.mi.spec.mesh} per cluster). Nothing was written.`, { stalls: true });
  }
  if (verdicts.notOwned.length > 0) {
    const what = listed(verdicts.notOwned.map(describeObject));
    throw new ReconcileError(InstallationReason.ObjectNotOwned, `${what} already exist${verdicts.notOwned.length === 1 ? 's' : ''} and ${verdicts.notOwned.length === 1 ? 'was' : 'were'} not created by meshwright; the operator never takes over what it did not create: delete ${verdicts.notOwned.length === 1 ? 'it' : 'them'}, or hand ${verdicts.notOwned.length === 1 ? 'it' : 'them'} over by labelling ${INSTALLATION_LABEL}=${scope.name}. Nothing was written.`, { stalls: true });
  }
  return verdicts;
}

/**
 * Records this installation as an owner of shared objects another installation writes (one merge
 * patch of one annotation each, only when missing), after making them part of the inventory.
 */
export async function coOwnObjects(scope: PassScope, context: PassContext, coOwned: Verdicts['coOwn']): Promise<void> {
  const key = ownerAnnotation(scope.name);
  const missing = coOwned.filter(({ object }) => context.live.get(refOf(object))?.metadata.annotations?.[key] === undefined);
  if (missing.length === 0) return;
  await recordIntent(scope, context, missing.map(({ object }) => refOf(object)));
  // Independent of each other (one annotation each): together, bounded like an apply wave.
  await timed(scope, context, 'co-own', () => mapLimited(missing, MAX_CONCURRENT_APPLIES, async ({ object }) => {
    const ref = refOf(object);
    const before = context.live.get(ref);
    try {
      context.live.remember(before, await context.client.patch(ref, ref.name, ref.namespace, { metadata: { annotations: { [key]: 'true' } } }, 'merge'));
    } catch (error) {
      throw writeError('apply', ref, error);
    }
  }));
}

/**
 * Applies what differs from the live state, wave by wave (apply-waves.ts); throws a ReconcileError
 * naming every object that failed. Everything the pass is about to write is recorded in the
 * inventory first, in one status write before the first wave.
 */
export async function applyObjects(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): Promise<void> {
  const previouslyApplied = new Set(scope.previousInventory.map(refKey));
  // Drift is what we declare differing, or what another writer added where the object is ours whole (drift-rule.ts).
  const pending = objects.filter((object) => {
    const live = context.live.get(refOf(object));
    // (Only additions that are there to remove: a field managedFields name but the object does not hold, such as a Secret's write-only stringData, would make every pass pending for nothing.)
    return needsApply(object, live, context.schemaOf(object)) || (live !== undefined && removalPatch(live, additions(live, object)) !== undefined);
  });
  if (pending.length > 0) await timed(scope, context, 'inventory', () => recordIntent(scope, context, pending.map(refOf)));
  for (const { wave, objects: members } of applyWaves(pending)) {
    await timed(scope, context, `apply-wave-${wave}`, async () => {
      // A cold install's CRDs were created in an earlier wave: their kinds must be served first.
      await untilServed(customKinds(members), (kind) => context.client.resourceInfo(kind));
      // Every object of the wave is tried (a failure does not stop the others); failures in wave order.
      const outcomes = await mapLimited(members, MAX_CONCURRENT_APPLIES, (object) => applyOne(scope, context, object, previouslyApplied).then(() => undefined, (error: unknown) => error as ReconcileError));
      const failures = outcomes.filter((failure): failure is ReconcileError => failure !== undefined);
      if (failures.length > 0) throw combined(failures);
    });
  }
  reportContests(scope, context, objects);
}

/** The referee of each operator's reconciler (its contests outlive passes, not the process). */
const referees = new WeakMap<PassContext, DriftReferee>();

function refereeOf(context: PassContext): DriftReferee {
  let referee = referees.get(context);
  if (!referee) referees.set(context, referee = new DriftReferee());
  return referee;
}

/** The condition type that says some owned objects are left alone because another writer keeps undoing their repair. */
export const DRIFT_CONTESTED = 'DriftContested';

/**
 * Condition `DriftContested`: True while objects of this installation are held (naming each, and
 * the field manager that keeps undoing the repair); False once every hold ended. Absent until the
 * first contest. The pass is requeued for when the first hold ends.
 */
function reportContests(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): void {
  const referee = refereeOf(context);
  const now = scope.clock.now();
  const held = objects.flatMap((object) => {
    const hold = referee.holdOf(refKey(refOf(object)), now);
    return hold ? [{ object, hold }] : [];
  });
  const previous = scope.status.conditions?.find((c) => c.type === DRIFT_CONTESTED);
  if (held.length === 0 && previous?.status !== 'True') return;
  if (held.length > 0) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, ...held.map(({ hold }) => hold.until));
  const message = held.length === 0
    ? 'no owned object is contested any more; drift is repaired again'
    : `${listed(held.map(({ object, hold }) => `${describeObject(refOf(object))} (field manager "${hold.culprit.manager}": ${hold.culprit.fields.join(', ')}; repairs resume at ${new Date(hold.until).toISOString()})`))}: another writer keeps undoing the repair, so it is left alone instead of fought over; stop that writer`;
  scope.status.conditions = setCondition(scope.status.conditions, { type: DRIFT_CONTESTED, status: held.length > 0 ? 'True' : 'False', reason: held.length > 0 ? 'DriftContested' : 'RepairsResumed', message, observedGeneration: scope.generation }, passTime(scope));
}

/**
 * Whether a refused removal patch only says the object is no longer as it was read: a conflict
 * (409), or a 422 of the JSON patch itself — a failed `test`, a path that is gone — which the API
 * server answers with its generic message (the details, in the Status causes, name the operation).
 * A 422 because the patched object would be invalid names the object ("… is invalid") and is a
 * failure. (The API server's message alone is read: the request line holds the namespace, and a
 * namespace named test-… must not decide it.)
 */
export function changedMeanwhile(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  return error.status === 409 || (error.status === 422 && /rejected our request due to an error in our request/.test(error.apiMessage));
}

/**
 * Removes what other writers added where `object` is ours whole (drift-rule.ts) by a JSON patch
 * whose `test`s pin every list element it goes through. A patch refused because the object
 * changed meanwhile (a failed test: 422; 409) is left for the pass its newer version's watch
 * event brings, which judges it afresh. Returns what was removed.
 */
async function removeAdditions(scope: PassScope, context: PassContext, ref: ObjectRef, desired: KubeObject, object: KubeObject | undefined, timer: RepairTimer): Promise<ForeignField[]> {
  const extra = object ? additions(object, desired) : [];
  const patch = object && removalPatch(object, extra);
  if (!object || !patch) return [];
  try {
    timer.sending();
    const patched = await context.client.patch(ref, ref.name, ref.namespace, patch, 'json');
    timer.received(patched);
    context.live.remember(object, patched);
    return extra;
  } catch (error) {
    if (!changedMeanwhile(error)) throw writeError('apply', ref, error);
    scope.log.debug({ kind: ref.kind, namespace: ref.namespace, name: ref.name }, 'the object changed while its additions were being removed; the next pass judges it again');
    return [];
  }
}

/**
 * The times of one object's repair in a pass (stopwatch milliseconds, `performance.now`), from the
 * watch event that showed its drift — the first event for it in the pass's trigger that is not our
 * own write coming back; without one (a pass something else started), the trigger's first cause —
 * to the watch event of the repairing write (context.ts onDriftRepairTimed).
 */
class RepairTimer {
  private judgedAt?: number;
  private sentAt?: number;
  private receivedAt?: number;
  private last?: KubeObject;

  constructor(private readonly trigger: PassTrigger | undefined, private readonly ref: ObjectRef) {}

  judged(): void {
    this.judgedAt = performance.now();
  }

  /** A write of the repair is about to be sent (the first one starts the request phase). */
  sending(): void {
    this.sentAt ??= performance.now();
  }

  /** A write of the repair returned `written` (the last one is what the cache must show). */
  received(written: KubeObject): void {
    this.receivedAt = performance.now();
    this.last = written;
  }

  /** Reports the phases once the last write's watch event has reached the cache. */
  report(context: PassContext, path: DriftRepairTiming['path']): void {
    const { trigger, last, judgedAt, sentAt, receivedAt } = this;
    if (!trigger || !last || judgedAt === undefined || sentAt === undefined || receivedAt === undefined || !context.hooks.onDriftRepairTimed) return;
    const key = refKey(this.ref);
    const event = trigger.events.find((e) => e.at <= trigger.startedAt && refKey(refOf(e.object)) === key && !context.live.isOwnWrite(e.object));
    const since = Math.min(event?.at ?? trigger.since, trigger.queuedAt);
    const seconds = (ms: number) => Math.max(0, ms) / 1000;
    context.live.whenCached(last, (cachedAt) => context.hooks.onDriftRepairTimed?.({
      kind: this.ref.kind,
      path,
      queued: seconds(trigger.queuedAt - since),
      waited: seconds(trigger.startedAt - trigger.queuedAt),
      diffed: seconds(judgedAt - trigger.startedAt),
      prepared: seconds(sentAt - judgedAt),
      responded: seconds(receivedAt - sentAt),
      cached: seconds(cachedAt - receivedAt),
    }));
  }
}

/**
 * Applies one object; says whether it wrote (created, restored or changed it), left it alone for
 * a drift contest, or found nothing to write. The apply counts as a drift correction when the live object already carries
 * the hash of what we want (so someone else changed it) or when an object the last pass applied
 * has vanished (so someone deleted it). What other writers added where the object is ours whole
 * is then removed (drift-rule.ts). Drift made by another field manager is first judged by the
 * referee: a writer that keeps undoing the repair gets a contest (Event, condition), not a write loop.
 */
export async function applyOne(scope: PassScope, context: PassContext, object: KubeObject, previouslyApplied: ReadonlySet<string>, path: DriftRepairTiming['path'] = 'pass'): Promise<'wrote' | 'held' | 'unchanged'> {
  const ref = refOf(object);
  const timer = new RepairTimer(context.triggers?.get(scope.name), ref);
  const live = context.live.get(ref);
  const drift = live === undefined
    ? previouslyApplied.has(refKey(ref)) ? 'recreated' : undefined
    : live.metadata.annotations?.[DESIRED_HASH_ANNOTATION] === object.metadata.annotations?.[DESIRED_HASH_ANNOTATION] ? 'restored' : undefined;
  // Only drift is judged: a changed spec (another desired hash) is applied even to a contested object.
  const blamed = live && drift === 'restored' ? culprits(object, live) : [];
  const judged = blamed.length > 0 ? refereeOf(context).judge(refKey(ref), blamed, scope.clock.now()) : undefined;
  if (judged) {
    const { verdict } = judged;
    if (verdict.action === 'hold') {
      if (verdict.newly) {
        const { culprit } = verdict;
        scope.log.warn({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, fieldManager: culprit.manager, fields: culprit.fields, repairs: verdict.repairs, holdUntil: new Date(verdict.until).toISOString() }, 'drift contested: another writer keeps undoing the repair; leaving the object alone for a while');
        context.hooks.onEvent?.(scope.installation, 'Warning', 'DriftContested', `${describeObject(ref)}: field manager "${culprit.manager}" undid ${verdict.repairs} repair${verdict.repairs === 1 ? '' : 's'} in a row (${culprit.fields.join(', ')}); the object is left alone until ${new Date(verdict.until).toISOString()} instead of fought over: stop that writer`);
      }
      return 'held';
    }
  }
  let applied = live;
  const write = !live || needsApply(object, live, context.schemaOf(object));
  timer.judged();
  if (write) {
    try {
      timer.sending();
      applied = await context.client.apply(object, { force: true });
      timer.received(applied);
    } catch (error) {
      throw writeError('apply', ref, error);
    }
    context.live.remember(live, applied);
  }
  const removed = await removeAdditions(scope, context, ref, object, applied, timer);
  const wrote = applied !== live || removed.length > 0;
  if (!wrote) return 'unchanged';
  // Only a repair that was written counts against its writer.
  judged?.commit();
  scope.applied.push(ref);
  if (object.kind === 'CustomResourceDefinition') context.live.wakeInformersOf((object.spec as { group?: string } | undefined)?.group);
  if (drift) {
    const what = describeObject(ref);
    const added = removed.map((field) => `${formatPath(field.path)} (field manager "${field.manager}")`);
    scope.log.info({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, drift, removed: added }, 'drift corrected: another writer changed, added to or deleted an owned object');
    context.hooks.onDriftCorrected?.(object.kind, scope.name);
    timer.report(context, path);
    context.hooks.onEvent?.(scope.installation, 'Normal', 'DriftCorrected', drift === 'recreated' ? `${what} was deleted by another writer and has been recreated` : `${what} was changed by another writer and has been restored${added.length > 0 ? `; removed what was added: ${listed(added)}` : ''}`);
  } else {
    scope.log.debug({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, created: !live }, 'applied');
  }
  return 'wrote';
}
