/**
 * What the reconciler knows of the cluster: the informer caches, corrected by our own writes that
 * the caches have not seen yet ("read your writes"), and the lookups built on them — the live
 * version of an object and every object an installation owns.
 *
 * Why the correction: after a write, the cache holds the version from before it until the watch
 * event arrives; a pass that compared against that stale version would send the same write again.
 */
import { API_VERSION, KIND } from '../../api/meshinstallation.ts';
import type { Informer } from '../../runtime/informer.ts';
import { namespacedName, type KubeObject, type TypeRef } from '../../runtime/kube.ts';

/**
 * The order of two resourceVersions of objects of one resource (negative: `a` is older), as
 * Kubernetes defines it since resource versions became comparable (KEP-5504, client-go's
 * `CompareResourceVersion`): positive integers without leading zeros, of any length. Undefined when
 * either is not one (a server that does not keep that contract): then nothing can be told.
 */
export function compareResourceVersions(a: string, b: string): number | undefined {
  const valid = (rv: string) => /^[1-9][0-9]*$/.test(rv);
  if (!valid(a) || !valid(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A reference to an owned object, as stored in status.inventory. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Identity of an object across caches and inventory. */
export function refKey(ref: ObjectRef): string {
  return `${ref.apiVersion}/${ref.kind}/${namespacedName(ref.namespace, ref.name)}`;
}

/** The reference of an object. */
export function refOf(object: KubeObject): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}), name: object.metadata.name };
}

/** Own written versions (and cache waiters) remembered: far more than the writes of a pass whose echoes are in flight. */
const MAX_OWN_VERSIONS = 4096;
/** Arrival times kept: the versions delivered while a write's response is on its way. */
const MAX_ARRIVALS = 256;

function typeKey(type: TypeRef): string {
  return `${type.apiVersion}/${type.kind}`;
}

/**
 * The owned objects that are no longer desired: what the inventory lists, minus what is desired
 * now. Never an object merely carrying our label: a copy someone made is theirs.
 */
export function staleObjects(desired: readonly ObjectRef[], inventory: readonly ObjectRef[]): ObjectRef[] {
  const wanted = new Set(desired.map(refKey));
  const stale = new Map<string, ObjectRef>();
  for (const ref of inventory) if (!wanted.has(refKey(ref))) stale.set(refKey(ref), ref);
  return [...stale.values()];
}

/** The caches of MeshInstallations and of every owned kind, with our own newer writes on top. */
export class LiveObjects {
  /**
   * Objects as our own last write returned them, with every resourceVersion known to be older than
   * that write: the version each write replaced, and our own earlier writes. While the cache holds
   * one of those (or nothing, for an object we created, written as ''), or any version older than
   * our write, our write is the fresher truth; once it holds our write or a newer version, the
   * cache is trusted again.
   *
   * Why "older than our write" and not only "what we replaced": a version we never saw is not
   * always newer. Another writer (a workload's status, say) can write between the version we read
   * and our write; its watch event comes after our write's response when the watch lags, and a
   * pass that trusted it would act on what our write already changed — repair a removed addition
   * again, a write the API server refuses and that no contest counts (drift-additions e2e). Resource
   * versions of one resource are comparable (KEP-5504, stable in Kubernetes 1.35); one that is not
   * a plain positive integer is judged by the versions we know, as before.
   */
  private readonly written = new Map<string, { older: ReadonlySet<string>; object: KubeObject }>();
  /**
   * `refKey@resourceVersion` of the versions our own writes returned, the most recent
   * {@link MAX_OWN_VERSIONS}: a watch event carrying one of them is our write coming back and tells
   * nothing new ({@link isOwnWrite}). Kept apart from `written`, which forgets a write once the
   * cache holds it.
   */
  private readonly ownVersions = new Set<string>();
  /** Callbacks waiting for the watch event of one of our writes ({@link whenCached}), by `refKey@resourceVersion`. */
  private readonly cacheWaiters = new Map<string, (at: number) => void>();
  /**
   * When the latest {@link MAX_ARRIVALS} versions reached the caches, by `refKey@resourceVersion`:
   * a write's watch event can be delivered before the write's own response is read.
   */
  private readonly arrivals = new Map<string, number>();

  constructor(
    readonly installations: Informer,
    /** Label-selected informers for every owned type, keyed by `apiVersion/kind`. */
    readonly owned: ReadonlyMap<string, Informer>,
    /** A monotonic clock in milliseconds for {@link whenCached} (default `performance.now`). */
    private readonly stopwatch: () => number = () => performance.now(),
  ) {
    for (const informer of [installations, ...owned.values()]) {
      informer.on((type, object) => {
        if (type === 'delete') this.forget(refOf(object));
        else this.cached(object);
      });
    }
  }

  private cached(object: KubeObject): void {
    const version = `${refKey(refOf(object))}@${object.metadata.resourceVersion ?? ''}`;
    const at = this.stopwatch();
    this.arrivals.set(version, at);
    if (this.arrivals.size > MAX_ARRIVALS) this.arrivals.delete(this.arrivals.keys().next().value!);
    const waiter = this.cacheWaiters.get(version);
    if (!waiter) return;
    this.cacheWaiters.delete(version);
    waiter(at);
  }

  /** Whether `object` (as a watch event delivered it) is a version one of our own writes returned. */
  isOwnWrite(object: KubeObject): boolean {
    return this.ownVersions.has(`${refKey(refOf(object))}@${object.metadata.resourceVersion ?? ''}`);
  }

  /**
   * Calls `callback` with the time (stopwatch milliseconds) the watch event of `written`, a
   * version our own write returned, reaches the cache: the end of a repair as the operator sees
   * it. Never called if that version is never delivered (a newer one overtook it in a relist);
   * the oldest waiters are dropped beyond {@link MAX_OWN_VERSIONS}.
   */
  whenCached(written: KubeObject, callback: (at: number) => void): void {
    const version = `${refKey(refOf(written))}@${written.metadata.resourceVersion ?? ''}`;
    const arrived = this.arrivals.get(version);
    if (arrived !== undefined) return callback(arrived);
    this.cacheWaiters.set(version, callback);
    if (this.cacheWaiters.size > MAX_OWN_VERSIONS) this.cacheWaiters.delete(this.cacheWaiters.keys().next().value!);
  }

  /** Whether `type` is a kind the operator watches (and so may own). */
  watches(type: TypeRef): boolean {
    return this.owned.has(typeKey(type));
  }

  private informerFor(type: TypeRef): Informer {
    if (type.apiVersion === API_VERSION && type.kind === KIND) return this.installations;
    const informer = this.owned.get(typeKey(type));
    if (!informer) throw new Error(`no informer for owned type ${typeKey(type)}: add it to the distribution's ownedTypes`);
    return informer;
  }

  /** The freshest known version of an object: the cache, or our own newer write. */
  get(ref: ObjectRef): KubeObject | undefined {
    const cached = this.informerFor(ref).get(ref.name, ref.namespace);
    const written = this.written.get(refKey(ref));
    if (!written) return cached;
    const version = cached?.metadata.resourceVersion ?? '';
    if (written.older.has(version) || (compareResourceVersions(version, written.object.metadata.resourceVersion ?? '') ?? 0) < 0) return written.object;
    this.written.delete(refKey(ref));
    return cached;
  }

  /**
   * Records what our write of an object returned, ahead of the watch event. `before` is what the
   * write replaced as we knew it (undefined for a create): it may itself be an earlier write of ours.
   */
  remember(before: KubeObject | undefined, after: KubeObject | undefined): void {
    if (!after) return;
    const key = refKey(refOf(after));
    const previous = this.written.get(key);
    const older = new Set(previous ? [...previous.older, previous.object.metadata.resourceVersion ?? ''] : []);
    older.add(before?.metadata.resourceVersion ?? '');
    older.delete(after.metadata.resourceVersion ?? '');
    this.written.set(key, { older, object: after });
    this.ownVersions.add(`${key}@${after.metadata.resourceVersion ?? ''}`);
    if (this.ownVersions.size > MAX_OWN_VERSIONS) this.ownVersions.delete(this.ownVersions.values().next().value!);
  }

  /** Forgets our own write of an object once it is gone, so it is not mistaken for a cache that lags behind. */
  forget(ref: ObjectRef): void {
    this.written.delete(refKey(ref));
  }

  /**
   * Informers of kinds in an API group whose CRD we just applied stop waiting out their backoff:
   * those that never listed, and those whose kind went away (a CRD deleted and installed again).
   */
  wakeInformersOf(group: string | undefined): void {
    if (!group) return;
    for (const informer of this.owned.values()) {
      if ((!informer.hasSynced() || informer.isNotServed()) && informer.type.apiVersion.startsWith(`${group}/`)) informer.retryNow();
    }
  }
}
