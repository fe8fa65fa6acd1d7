/**
 * Drift repair first: what the watch events that started a pass ask of it before the whole pass
 * runs. A foreign edit or deletion of one owned object is put back at the start of the pass,
 * from the objects the last settled pass applied, instead of after the pass has resolved,
 * rendered, claimed and compared everything (most of a pass's time, none of it the API server's);
 * the whole pass still follows and judges everything as before. Events that are only our own
 * writes coming back start no pass at all.
 *
 * Only what cannot have changed since the last pass is taken on trust: the installation is the
 * version that pass left (its spec, labels and status: no edit, no upgrade or rotation step since),
 * that pass succeeded and was steady (not paused, no upgrade, root rotation or rollout hold under
 * way), nothing timed was due since (a CA check, a contest's hold), and the object is one that
 * pass applied as its own. Everything else waits for the whole pass, as before. After a failed
 * pass, its own writes coming back start no pass either: the backoff times its retry.
 */
import type { PassTrigger, TriggerEvent } from '../../runtime/controller.ts';
import { KubeApiError, type KubeObject, type TypeRef } from '../../runtime/kube.ts';
import { CA_STATE_SECRET } from '../certificate-authority.ts';
import { isSharedObject } from '../ownership.ts';
import { judge } from './claims.ts';
import type { PassContext } from './context.ts';
import { recordedKeys, recordIntent } from './inventory.ts';
import { refKey, refOf } from './live-objects.ts';
import type { InstallationObject, PassScope } from './scope.ts';
import { applyOne } from './sync.ts';
import { byCodePoint } from '../../runtime/order.ts';

/** What a successful, steady pass of an installation left: the ground a targeted repair stands on. */
export interface SettledPass {
  /** The installation once that pass had written its status. */
  installation: InstallationObject;
  /** The objects the pass applied as its own (claims.ts verdict `apply`), by refKey. */
  objects: ReadonlyMap<string, KubeObject>;
  /** When (clock ms) something timed falls due (a CA check, a contest's hold ending): from then on only a whole pass. */
  dueAt: number;
}

/** What the trigger of a pass asks of it before the whole pass. */
export interface TriggeredWork {
  /** Every cause is our own write coming back, and nothing changed since the last settled pass: no pass is needed. */
  skip: boolean;
  /** The settled pass's objects to repair first, in the order their events arrived. */
  repairs: KubeObject[];
  /**
   * Every cause of the pass is a foreign change of one of `repairs` (or our own write coming
   * back): once each of them is written back, the cluster is as the settled pass left it, and the
   * whole pass would find nothing to do and no status to change.
   */
  repairsSuffice: boolean;
}

/** What {@link planTriggeredWork} needs to know besides the trigger. */
export interface TriggerFacts {
  /** The last settled pass of the installation, if the last pass settled. */
  settled?: SettledPass;
  /** The last pass of the installation failed: its retry is timed by the backoff (or, terminal, waits for a change). */
  lastPassFailed?: boolean;
  /** The installation as the pass reads it now. */
  installation: InstallationObject;
  /** Clock milliseconds. */
  now: number;
  /** Whether an event's kind is one the installation owns objects of (an owned cache). */
  owns(source: TypeRef): boolean;
  /** Whether an event's object is a version our own write returned. */
  isOwnWrite(object: KubeObject): boolean;
}

const nothing: TriggeredWork = { skip: false, repairs: [], repairsSuffice: false };

/**
 * Decides, from why a pass runs, whether it can be skipped and which objects to repair first.
 * Without a settled pass to stand on, or once something timed fell due, nothing is known: the
 * whole pass only. When something besides watch events asked too (`other`: a direct enqueue, a
 * timer, a retry, a storm), the repairs still go first, and the whole pass follows.
 */
export function planTriggeredWork(trigger: PassTrigger | undefined, facts: TriggerFacts): TriggeredWork {
  const { settled } = facts;
  // Echoes of a failed pass's own writes (its status, what it applied before failing) tell it
  // nothing new: a whole pass for them would retry ahead of the backoff, or retry a terminal failure.
  if (trigger && facts.lastPassFailed && !trigger.other && trigger.events.every((event) => facts.isOwnWrite(event.object))) return { skip: true, repairs: [], repairsSuffice: false };
  if (!trigger || !settled || !readsTheSame(settled.installation, facts.installation)) return nothing;
  // Our own writes, and changes of the installation no pass reads (someone's annotation), bring no news.
  const foreign = trigger.events.filter((event) => !facts.isOwnWrite(event.object) && !(isInstallation(event.object, settled.installation) && readsTheSame(settled.installation, event.object as InstallationObject)));
  if (foreign.length === 0 && !trigger.other) return { skip: true, repairs: [], repairsSuffice: false };
  if (facts.now >= settled.dueAt) return nothing;
  const repairs = new Map<string, KubeObject>();
  let unanswered = trigger.other;
  for (const event of foreign) {
    const object = repairable(event, facts.owns, settled);
    if (object) repairs.set(refKey(refOf(object)), object);
    else unanswered = true;
  }
  return { skip: false, repairs: [...repairs.values()], repairsSuffice: !unanswered && repairs.size > 0 };
}

/**
 * The settled pass's object an event of an owned kind names, unless it is the CA state Secret:
 * that one is kept by the PKI step, which runs in the whole pass.
 */
function repairable(event: TriggerEvent, owns: TriggerFacts['owns'], settled: SettledPass): KubeObject | undefined {
  if (!owns(event.source) || (event.object.kind === 'Secret' && event.object.metadata.name === CA_STATE_SECRET)) return undefined;
  return settled.objects.get(refKey(refOf(event.object)));
}

/**
 * Whether a pass that ended (without failure) with this status leaves the installation steady:
 * not paused, no upgrade or root rotation under way, nothing held back. Only then may a later
 * event's object be repaired from what the pass applied.
 */
export function isSteady(scope: PassScope): boolean {
  const { status } = scope;
  const upgrading = status.upgrade !== undefined && !['Succeeded', 'RolledBack', 'Failed'].includes(status.upgrade.phase);
  const rotating = (status.certificateAuthority?.rotation?.phase ?? 'Idle') !== 'Idle';
  return !scope.paused && !upgrading && !rotating && scope.rolloutHold === undefined && scope.rotationCondition === undefined && scope.desired !== undefined;
}

/**
 * Repairs `objects` first thing in the pass of `scope`, as the whole pass would (applySync's
 * applyOne: the drift referee, whole-list ownership, Events, read-your-writes), after the same
 * ownership judgement the pass makes (claims.ts) on the live object — read from the API server
 * when the cache has none (deleted: someone else may have created it since). An object whose
 * verdict is anything but `apply`, or whose write fails, is left to the whole pass that follows,
 * which judges and reports it. Says how many were written back and how many already held all we
 * declare (their event changed only what is not ours: a Deployment's status, an HPA's replicas).
 */
export async function repairFirst(scope: PassScope, context: PassContext, objects: readonly KubeObject[]): Promise<{ written: number; unchanged: number }> {
  const counts = { written: 0, unchanged: 0 };
  const distribution = context.distributions.get(scope.mi.spec.mesh);
  if (!distribution || scope.paused || scope.installation.metadata.deletionTimestamp) return counts;
  const previouslyApplied = new Set(scope.previousInventory.map(refKey));
  for (const object of objects) {
    const ref = refOf(object);
    if (isSharedObject(distribution, object)) continue;
    try {
      let live = context.live.get(ref);
      if (!live) {
        live = await context.client.get(ref, ref.name, ref.namespace).catch((error: unknown) => {
          if (error instanceof KubeApiError && error.status === 404) return undefined;
          throw error;
        });
        scope.fetched.set(refKey(ref), live);
      }
      if (judge(object, live, { installation: scope.name, inventory: recordedKeys(scope), isShared: () => false }).action !== 'apply') continue;
      await recordIntent(scope, context, [ref]);
      const outcome = await applyOne(scope, context, object, previouslyApplied, 'targeted');
      if (outcome === 'wrote') counts.written++;
      else if (outcome === 'unchanged') counts.unchanged++;
    } catch (error) {
      scope.log.debug({ kind: ref.kind, namespace: ref.namespace, name: ref.name, err: error instanceof Error ? error.message : String(error) }, 'targeted repair failed; the whole pass judges the object');
    }
  }
  return counts;
}

/**
 * How long a whole pass may wait when the only news is in fields of owned objects that are not
 * ours (a Deployment's status during a rollout, which changes several times in a second): what
 * they change is status (components, readiness), which then lags by at most this much, as for pod
 * and namespace events (operator.ts DATA_PLANE_COALESCE_MS); a drift in what we declare is still
 * written back at once.
 */
export const OBSERVE_COALESCE_MS = 500;

/**
 * Whether a pass would read `current` as it read `settled`: the same object (uid), generation,
 * spec, status, labels, finalizers, owners, deletion, and annotations in the meshwright.dev
 * domain (the only ones a pass reads, e.g. meshwright.dev/accept-new-root). What may differ is
 * what no step looks at: another tool's annotation (kubectl, Argo CD, a person's note), the
 * resourceVersion and managedFields. Such a change needs no pass, as with controller-runtime's
 * generation predicate, but narrower: any change of a field a pass reads still runs one.
 */
export function readsTheSame(settled: InstallationObject, current: InstallationObject): boolean {
  if (settled.metadata.resourceVersion !== undefined && settled.metadata.resourceVersion === current.metadata.resourceVersion) return true;
  const a = settled.metadata;
  const b = current.metadata;
  return a.uid === b.uid && a.generation === b.generation && a.deletionTimestamp === b.deletionTimestamp
    && sameJson(a.labels, b.labels) && sameJson(a.finalizers, b.finalizers) && sameJson(a.ownerReferences, b.ownerReferences)
    && sameJson(ourAnnotations(a.annotations), ourAnnotations(b.annotations))
    && sameJson(settled.spec, current.spec) && sameJson(settled.status, current.status);
}

/** Annotations in the meshwright.dev domain (`meshwright.dev/…` or `<sub>.meshwright.dev/…`), sorted by key. */
function ourAnnotations(annotations: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(annotations ?? {}).filter(([key]) => {
    const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
    return prefix === 'meshwright.dev' || prefix.endsWith('.meshwright.dev');
  }).sort(([x], [y]) => byCodePoint(x, y));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function isInstallation(object: KubeObject, installation: InstallationObject): boolean {
  return object.kind === installation.kind && object.apiVersion === installation.apiVersion && object.metadata.name === installation.metadata.name;
}
