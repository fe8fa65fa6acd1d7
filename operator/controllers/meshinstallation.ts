/**
 * The MeshInstallation reconcile loop: resolve → render → apply → prune → observe → status.
 *
 * Reads come from informer caches; writes are server-side applies with one field manager, sent
 * only for objects whose declared fields differ from the live ones, so a pass that changes
 * nothing writes nothing. Status is written once at the end of a pass, only when it changed, and
 * `observedGeneration` moves only when the pass succeeded.
 */
import type { Logger } from 'pino';
import { withSummary, ConditionType, type ConditionUpdate, mergeConditions } from '../api/conditions.ts';
import { withSpecDefaults } from '../api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import { UnsupportedSpecError, type MeshDistribution, type ResolvedVersion } from '../distributions/distribution.ts';
import { renderInstallation } from '../distributions/render.ts';
import { CertificateAuthorityError } from '../pki/authority.ts';
import { DESIRED_HASH_ANNOTATION, INSTALLATION_LABEL, markOwned } from './ownership.ts';
import { CertificateAuthorities, type CertificateAuthorityOutcome } from './certificate-authority.ts';
import { applyStages, deleteOrder, isSubset, needsApply } from '../runtime/apply.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { TerminalError, type Reconciler, type ReconcileResult } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import { isNotFound, namespacedName, type KubeClient, type KubeObject, type TypeRef } from '../runtime/kube.ts';

export { DESIRED_HASH_ANNOTATION, INSTALLATION_LABEL } from './ownership.ts';

/** Annotation on objects never pruned nor deleted with the installation (e.g. CRDs holding user data). */
export const KEEP_ANNOTATION = 'meshwright.dev/keep-on-delete';
/** The finalizer that makes deletion wait for cleanup. */
export const FINALIZER = 'meshwright.dev/cleanup';

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

function typeKey(type: TypeRef): string {
  return `${type.apiVersion}/${type.kind}`;
}

function refOf(object: KubeObject): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}), name: object.metadata.name };
}

/**
 * The owned objects that are no longer desired: everything the last inventory listed or that
 * carries our label (the label catches objects a lost status forgot), minus what is desired now.
 */
export function staleObjects(desired: readonly ObjectRef[], inventory: readonly ObjectRef[], labelled: readonly ObjectRef[]): ObjectRef[] {
  const wanted = new Set(desired.map(refKey));
  const stale = new Map<string, ObjectRef>();
  for (const ref of [...inventory, ...labelled]) if (!wanted.has(refKey(ref))) stale.set(refKey(ref), ref);
  return [...stale.values()];
}


/**
 * Kinds that never carry CA material (no trust bundle, key or caBundle in any distribution): while
 * a new CA is generated, these are applied already.
 */
const CA_INDEPENDENT_KINDS = new Set(['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** Applies in flight at once within a stage: enough to hide round trips, few enough not to burst the API server's fairness queue. */
const MAX_CONCURRENT_APPLIES = 8;

/** The longest a SelfSigned CA goes unchecked (renewals are also scheduled exactly; this bounds clock jumps and External polling). */
const MAX_CA_CHECK_INTERVAL_MS = 3_600_000;

function withoutAlgorithm<T extends { keyAlgorithm?: unknown }>(summary: T): Omit<T, 'keyAlgorithm'> {
  const { keyAlgorithm: _omitted, ...rest } = summary;
  return rest;
}

/** The CertificateAuthorityReady condition after a successful PKI step (or when there is none). */
function authorityCondition(authority: CertificateAuthorityOutcome | undefined, type: string, managed: boolean, paused: boolean, generation: number): ConditionUpdate {
  const base = { type: ConditionType.CertificateAuthorityReady, observedGeneration: generation };
  if (!managed) return { ...base, status: 'True', reason: 'NotManaged', message: 'this mesh distribution has no CA for the operator to manage' };
  if (!authority) return { ...base, status: 'Unknown', reason: paused ? 'Paused' : 'NotIssued', message: paused ? 'no CA exists yet and none is created while spec.paused is true' : 'no CA yet' };
  const { rootNotAfter, intermediateNotAfter } = authority.summary;
  if (authority.expiringSoon) return { ...base, status: 'True', reason: 'IssuerExpiringSoon', message: `the External issuer expires at ${intermediateNotAfter}, within renewBefore; renew the Secret` };
  return { ...base, status: 'True', reason: type === 'External' ? 'ExternalMaterialValid' : 'Issued', message: `root valid until ${rootNotAfter}, issuer until ${intermediateNotAfter}` };
}

/** What the reconciler reports to metrics and events. */
export interface ReconcilerHooks {
  onDriftCorrected?(kind: string, installation: string): void;
  onManagedObjects?(installation: string, count: number): void;
  onEvent?(installation: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string): void;
}

/** Dependencies of {@link MeshInstallationReconciler}. */
export interface MeshInstallationReconcilerOptions {
  client: KubeClient;
  installations: Informer;
  /** Label-selected informers for every owned type, keyed by `apiVersion/kind`. */
  owned: ReadonlyMap<string, Informer>;
  distributions: ReadonlyMap<string, MeshDistribution>;
  log: Logger;
  clock?: Clock;
  hooks?: ReconcilerHooks;
}

/** The reconcile loop of MeshInstallation. */
export class MeshInstallationReconciler implements Reconciler {
  private readonly clock: Clock;
  /**
   * Objects as our own last write returned them, with the resourceVersion the cache held before
   * that write: until the watch event arrives, the cache is older than what we know, and comparing
   * against it would send a redundant write.
   */
  private readonly written = new Map<string, { staleVersion: string | undefined; object: KubeObject }>();

  private readonly authorities: CertificateAuthorities;

  constructor(private readonly options: MeshInstallationReconcilerOptions) {
    this.clock = options.clock ?? systemClock;
    this.authorities = new CertificateAuthorities({
      client: options.client,
      clock: this.clock,
      live: (object) => this.live(refOf(object)),
      owned: (object) => markOwned(object, this.currentInstallation),
      remember: (before, after) => this.remember(refOf(after), before, after),
    });
    for (const informer of [options.installations, ...options.owned.values()]) {
      informer.on((type, object) => {
        if (type === 'delete') this.forgetWritten(refOf(object));
      });
    }
  }

  /** Informers of kinds in an API group whose CRD we just applied stop waiting out their backoff. */
  private wakeInformersOf(group: string | undefined): void {
    if (!group) return;
    for (const informer of this.options.owned.values()) {
      if (!informer.hasSynced() && informer.type.apiVersion.startsWith(`${group}/`)) informer.retryNow();
    }
  }

  /** Forgets our own write of an object once it is gone, so it is not mistaken for a cache that lags behind. */
  private forgetWritten(ref: ObjectRef): void {
    this.written.delete(refKey(ref));
  }

  /** The installation whose pass is running (objects the PKI step creates are labelled with it). */
  private currentInstallation = '';

  private informerFor(type: TypeRef): Informer {
    if (type.apiVersion === API_VERSION && type.kind === KIND) return this.options.installations;
    const informer = this.options.owned.get(typeKey(type));
    if (!informer) throw new Error(`no informer for owned type ${typeKey(type)}: add it to the distribution's ownedTypes`);
    return informer;
  }

  /** The freshest known version of an object: the cache, or our own newer write. */
  private live(ref: ObjectRef): KubeObject | undefined {
    const cached = this.informerFor(ref).get(ref.name, ref.namespace);
    const written = this.written.get(refKey(ref));
    if (written && cached?.metadata.resourceVersion === written.staleVersion) return written.object;
    if (written) this.written.delete(refKey(ref));
    return cached;
  }

  private remember(ref: ObjectRef, before: KubeObject | undefined, after: KubeObject | undefined): void {
    if (after) this.written.set(refKey(ref), { staleVersion: before?.metadata.resourceVersion, object: after });
  }

  /** Every object we own for `name`: what status.inventory lists plus what carries our label. */
  private ownedObjects(name: string, inventory: readonly ObjectRef[]): ObjectRef[] {
    const found = new Map<string, ObjectRef>();
    for (const ref of inventory) if (this.options.owned.has(typeKey(ref)) && this.live(ref)) found.set(refKey(ref), ref);
    for (const informer of this.options.owned.values()) {
      for (const object of informer.list()) {
        if (object.metadata.labels?.[INSTALLATION_LABEL] === name) found.set(refKey(refOf(object)), refOf(object));
      }
    }
    return [...found.values()];
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const cached = this.options.installations.get(key);
    if (!cached) return;
    const installation = this.freshInstallation(cached);
    if (installation.metadata.deletionTimestamp) return this.finalize(installation);

    const spec = withSpecDefaults(installation.spec);
    const mi = { ...installation, spec } as DefaultedMeshInstallation;
    const name = installation.metadata.name;
    const generation = installation.metadata.generation ?? 0;
    const log = this.options.log.child({ installation: name, generation });
    const status: MeshInstallationStatus = structuredClone(installation.status ?? {}) as never;
    const now = () => new Date(this.clock.now());

    if (!spec.paused && !installation.metadata.finalizers?.includes(FINALIZER)) {
      const updated = await this.options.client.patch(installation, name, undefined, [
        { op: 'test', path: '/metadata/resourceVersion', value: installation.metadata.resourceVersion },
        installation.metadata.finalizers ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER } : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
      ], 'json');
      this.remember(refOf(installation), installation, updated);
    }

    const distribution = this.options.distributions.get(spec.mesh);
    let desired: KubeObject[];
    let authority: CertificateAuthorityOutcome | undefined;
    this.currentInstallation = name;
    try {
      if (!distribution) throw new UnsupportedSpecError('MeshNotSupported', `this operator has no distribution for mesh "${spec.mesh}"; supported: ${[...this.options.distributions.keys()].join(', ')}`);
      const resolved = distribution.resolve(mi);
      status.version = resolved.version;
      authority = await this.certificateAuthority(mi, distribution, resolved, log);
      desired = renderInstallation(distribution, { installation: mi, resolved, ca: authority?.material }).map((object) => markOwned(object, name));
      if (authority) desired.push(markOwned(authority.stateSecret, name));
    } catch (error) {
      const terminal = error instanceof UnsupportedSpecError;
      if (!terminal && !(error instanceof CertificateAuthorityError)) throw error;
      // CA material is fixed outside the spec (in a Secret), so it is retried even when stalled.
      const stalled = terminal || (error as CertificateAuthorityError).needsPerson;
      const reason = (error as UnsupportedSpecError | CertificateAuthorityError).reason;
      const message = error.message;
      // Nothing is applied or pruned: a bad spec or unusable CA material must never break a running mesh.
      if (error instanceof CertificateAuthorityError) {
        status.conditions = mergeConditions(status.conditions, [{ type: ConditionType.CertificateAuthorityReady, status: 'False', reason, message, observedGeneration: generation }], now);
      }
      status.conditions = withSummary({ generation, conditions: status.conditions, stalled: stalled ? { reason, message } : undefined, paused: spec.paused }, now);
      if (stalled) status.observedGeneration = generation;
      await this.writeStatus(installation, status);
      this.options.hooks?.onEvent?.(installation, 'Warning', reason, message);
      if (terminal) throw new TerminalError(reason, message);
      throw error;
    }

    if (!spec.paused) {
      await this.applyAll(desired, status.inventory ?? [], log, installation);
      await this.prune(name, desired, status.inventory ?? [], log);
    }

    const components = distribution.componentHealth(desired, (object) => this.live(refOf(object)));
    const notReady = components.filter((c) => !c.ready);
    const domain: ConditionUpdate[] = [
      notReady.length === 0
        ? { type: ConditionType.ControlPlaneReady, status: 'True', reason: 'ComponentsAvailable', message: `${components.length} components available`, observedGeneration: generation }
        : { type: ConditionType.ControlPlaneReady, status: 'False', reason: 'ComponentsNotAvailable', message: `not available yet: ${notReady.map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name} (${c.available ?? 0}/${c.replicas ?? 1})`).join(', ')}`, observedGeneration: generation },
      authorityCondition(authority, spec.certificateAuthority.type, distribution.certificateAuthority !== undefined, spec.paused, generation),
      { type: ConditionType.DataPlaneReady, status: 'True', reason: 'NoEnrolledWorkloads', message: 'no namespace is enrolled for injection', observedGeneration: generation },
    ];
    status.conditions = withSummary({ generation, conditions: mergeConditions(status.conditions, domain, now), paused: spec.paused }, now);
    status.components = components;
    if (authority) status.certificateAuthority = { ...status.certificateAuthority, ...withoutAlgorithm(authority.summary) };
    status.observedGeneration = generation;
    if (!spec.paused) status.inventory = desired.map(refOf);
    this.options.hooks?.onManagedObjects?.(name, desired.length);
    const wasReady = (installation.status as MeshInstallationStatus | undefined)?.conditions?.find((c) => c.type === ConditionType.Ready)?.status;
    const ready = status.conditions.find((c) => c.type === ConditionType.Ready);
    if (ready && ready.status !== wasReady) {
      if (ready.status === 'True') this.options.hooks?.onEvent?.(installation, 'Normal', 'Ready', `the mesh is ready at version ${status.version}`);
      else if (wasReady === 'True') this.options.hooks?.onEvent?.(installation, 'Warning', 'NotReady', ready.message);
    }
    await this.writeStatus(installation, status);
    if (authority && !spec.paused) {
      // A renewal window already open is an External issuer only its owner can renew: look hourly.
      const untilDue = authority.nextCheckAt - this.clock.now();
      return { requeueAfterMs: untilDue > 0 ? Math.max(1000, Math.min(untilDue, MAX_CA_CHECK_INTERVAL_MS)) : MAX_CA_CHECK_INTERVAL_MS };
    }
  }

  /**
   * The PKI step: the CA must exist before the control plane that uses it starts. Its Secret lives
   * in the control-plane namespace, so before creating one the rendered Namespace is applied. Paused: nothing is
   * created; the render then leaves out what carries CA material.
   */
  private async certificateAuthority(mi: DefaultedMeshInstallation, distribution: MeshDistribution, resolved: ResolvedVersion, log: Logger): Promise<CertificateAuthorityOutcome | undefined> {
    const profile = distribution.certificateAuthority?.(mi);
    if (!profile) return undefined;
    if (mi.spec.paused) return this.authorities.observe(mi);
    // A CA that exists needs no write before the main apply (renewals travel in the desired set).
    if (!this.authorities.willCreate(mi)) return this.authorities.ensure(mi, profile);
    const withoutCa = renderInstallation(distribution, { installation: mi, resolved }).map((o) => markOwned(o, mi.metadata.name!));
    await this.applyAll(withoutCa.filter((o) => o.kind === 'Namespace'), [], log, mi as unknown as KubeObject);
    // A new CA: generating its key pairs takes hundreds of milliseconds (RSA) on the thread pool.
    // Meanwhile apply what can never carry CA material; nothing runs yet that a failure could break.
    const [authority, applied] = await Promise.allSettled([
      this.authorities.ensure(mi, profile),
      this.applyAll(withoutCa.filter((o) => CA_INDEPENDENT_KINDS.has(o.kind)), [], log, mi as unknown as KubeObject),
    ]);
    if (authority.status === 'rejected') throw authority.reason;
    if (applied.status === 'rejected') throw applied.reason;
    return authority.value;
  }


  /**
   * Applies what differs from the live state. An apply counts as a drift correction when the live
   * object already carries the hash of what we want (so someone else changed it) or when an object
   * the last pass applied has vanished (so someone deleted it).
   */
  private async applyAll(desired: KubeObject[], inventory: readonly ObjectRef[], log: Logger, installation: KubeObject): Promise<void> {
    const previouslyApplied = new Set(inventory.map(refKey));
    // Stage by stage in dependency order; within a stage nothing depends on anything else, so its
    // applies go out together (bounded), which is most of an install's wall-clock time.
    for (const stage of applyStages(desired)) {
      const pending = stage.filter((object) => needsApply(object, this.live(refOf(object))));
      for (let i = 0; i < pending.length; i += MAX_CONCURRENT_APPLIES) {
        await Promise.all(pending.slice(i, i + MAX_CONCURRENT_APPLIES).map((object) => this.applyOne(object, previouslyApplied, log, installation)));
      }
    }
  }

  private async applyOne(object: KubeObject, previouslyApplied: ReadonlySet<string>, log: Logger, installation: KubeObject): Promise<void> {
    const ref = refOf(object);
    const live = this.live(ref);
    const drift = live === undefined
      ? previouslyApplied.has(refKey(ref)) ? 'recreated' : undefined
      : live.metadata.annotations?.[DESIRED_HASH_ANNOTATION] === object.metadata.annotations?.[DESIRED_HASH_ANNOTATION] ? 'restored' : undefined;
    const applied = await this.options.client.apply(object, { force: true });
    this.remember(ref, live, applied);
    if (object.kind === 'CustomResourceDefinition') this.wakeInformersOf((object.spec as { group?: string } | undefined)?.group);
    if (drift) {
      const what = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
      log.info({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, drift }, 'drift corrected: another writer changed or deleted an owned object');
      this.options.hooks?.onDriftCorrected?.(object.kind, installation.metadata.name);
      this.options.hooks?.onEvent?.(installation, 'Normal', 'DriftCorrected', drift === 'recreated' ? `${what} was deleted by another writer and has been recreated` : `${what} was changed by another writer and has been restored`);
    } else {
      log.debug({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, created: !live }, 'applied');
    }
  }

  /** Deletes owned objects that are no longer desired (never those marked keep-on-delete). */
  private async prune(installation: string, desired: KubeObject[], inventory: readonly ObjectRef[], log: Logger): Promise<void> {
    const stale = staleObjects(desired.map(refOf), [], this.ownedObjects(installation, inventory));
    for (const ref of deleteOrder(stale)) {
      const live = this.live(ref);
      if (!live || live.metadata.deletionTimestamp || live.metadata.annotations?.[KEEP_ANNOTATION] === 'true') continue;
      log.info({ kind: ref.kind, namespace: ref.namespace, name: ref.name }, 'pruning an object no longer desired');
      await this.options.client.delete(ref, ref.name, ref.namespace).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      this.forgetWritten(ref);
    }
  }

  /**
   * Deletion: webhooks go first (so no pod creation is blocked by a webhook whose server is going
   * away), then everything else in reverse dependency order; the finalizer is removed only when
   * everything we owned is gone. Objects without our label or inventory entry are never touched.
   */
  private async finalize(installation: KubeObject): Promise<ReconcileResult | void> {
    if (!installation.metadata.finalizers?.includes(FINALIZER)) return;
    const name = installation.metadata.name;
    const inventory = ((installation.status as { inventory?: ObjectRef[] } | undefined)?.inventory) ?? [];
    const remaining = this.ownedObjects(name, inventory).filter((ref) => this.live(ref)?.metadata.annotations?.[KEEP_ANNOTATION] !== 'true');
    if (remaining.length > 0) {
      const webhooks = remaining.filter((ref) => ref.kind.endsWith('WebhookConfiguration'));
      const batch = webhooks.length > 0 ? webhooks : deleteOrder(remaining);
      for (const ref of batch) {
        if (this.live(ref)?.metadata.deletionTimestamp) continue;
        await this.options.client.delete(ref, ref.name, ref.namespace).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
        this.forgetWritten(ref);
      }
      this.options.log.info({ installation: name, remaining: remaining.length }, 'deleting owned objects before removing the finalizer');
      // Watch events of the deletions bring us back; the timer covers objects that linger (namespaces).
      return { requeueAfterMs: 2000 };
    }
    this.authorities.forget(installation.metadata.uid ?? name);
    const finalizers = installation.metadata.finalizers.filter((f) => f !== FINALIZER);
    await this.options.client.patch(installation, name, undefined, [
      { op: 'test', path: '/metadata/finalizers', value: installation.metadata.finalizers },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ], 'json');
    this.options.hooks?.onEvent?.(installation, 'Normal', 'Deleted', 'every object the installation owned is gone');
  }

  /** The installation as we last wrote it if the cache has not caught up yet. */
  private freshInstallation(cached: KubeObject): KubeObject & { spec: DefaultedMeshInstallation['spec']; status?: unknown } {
    return this.live(refOf(cached)) as never ?? cached;
  }

  /** Writes status by server-side apply on the status subresource, only when it changed. */
  private async writeStatus(installation: KubeObject, status: MeshInstallationStatus): Promise<void> {
    const current = installation.status ?? {};
    if (isSubset(status, current) && isSubset(current, status)) return;
    const updated = await this.options.client.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name: installation.metadata.name }, status }, { subresource: 'status', force: true });
    this.remember(refOf(installation), installation, updated);
  }
}
