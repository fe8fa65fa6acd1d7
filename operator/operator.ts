/**
 * Assembles the operator: an informer for MeshInstallations, a label-selected informer for every
 * kind any distribution may create, and the MeshInstallation controller fed by all of them.
 * Watch events only enqueue the owning installation's key; the reconcile reads the caches.
 * The schemas of the owned kinds (how each list merges) are loaded from the API server with the
 * caches, so drift is judged by them from the first pass.
 */
import type { Logger } from 'pino';
import { API_VERSION, KIND } from './api/meshinstallation.ts';
import { INSTALLATION_LABEL, MeshInstallationReconciler, type ReconcilerHooks } from './controllers/meshinstallation/index.ts';
import { ReferencedSecrets } from './controllers/referenced-secrets.ts';
import { trustAnchorKeysOfUserSecret } from './distributions/published-trust-anchors.ts';
import { withSpecDefaults } from './api/defaults.ts';
import type { DefaultedMeshInstallation } from './api/meshinstallation.ts';
import type { MeshDistribution } from './distributions/distribution.ts';
import type { WebhookEndpoint } from './distributions/injection.ts';
import type { Clock } from './runtime/clock.ts';
import { dataPlanePodView } from './controllers/meshinstallation/data-plane.ts';
import { enrolmentMayChange } from './controllers/meshinstallation/enrolment.ts';
import { INJECTED_BY_LABEL } from './distributions/injection.ts';
import { WorkloadCaches } from './rollout/caches.ts';
import { Controller, type ReconcileOutcome } from './runtime/controller.ts';
import { managedFieldsTransform } from './runtime/drift-rule.ts';
import { Informer } from './runtime/informer.ts';
import { isNotFound, type KubeClient, type KubeObject, type TypeRef } from './runtime/kube.ts';
import type { CacheState } from './runtime/readiness.ts';
import { openApiReader, SchemaRegistry } from './runtime/schema-registry.ts';

/**
 * The window in which pod and namespace events ask for at most one pass of an installation
 * (Controller.watch's coalescing: a lone event is still answered at once). Both come in storms (a
 * namespace per second from a GitOps sync, every pod of a rollout), and each event asking for a
 * whole pass made creating 1,000 namespaces keep the operator so busy that it failed to renew its
 * lease and exited. What they change (enrolment, status.dataPlane, a rollout's health gate) lags
 * a storm by at most this much; what a person edits (the installation, an owned object) is
 * reconciled at once.
 */
export const DATA_PLANE_COALESCE_MS = 500;

/** Settings of {@link Operator}. */
export interface OperatorOptions {
  client: KubeClient;
  distributions: readonly MeshDistribution[];
  log: Logger;
  clock?: Clock;
  workers?: number;
  hooks?: ReconcilerHooks & {
    onReconciled?: (outcome: ReconcileOutcome, seconds: number) => void;
    onQueueDepth?: (depth: number) => void;
  };
  /**
   * Label selector of the MeshInstallations this operator manages (all when unset): runs several
   * operators side by side without overlap, e.g. one per test.
   */
  installationSelector?: string;
  /**
   * Where the API server reaches this operator's injection webhook and the CA bundle it trusts
   * (injection/webhook.ts); undefined (or returning undefined): no webhook configuration is rendered.
   */
  webhookEndpoint?: () => WebhookEndpoint | undefined;
  /** Runs every pass (main.ts: holds back spare key pair refills while one runs); default: the pass as it is. */
  aroundPass?: <R>(pass: () => Promise<R>) => Promise<R>;
}

/**
 * The keys of a user's Secret an installation's mesh reads its published trust anchors from (the
 * referenced-secrets cache keeps these public entries only); none when its spec does not resolve.
 */
function userSecretTrustAnchorKeys(distributions: ReadonlyMap<string, MeshDistribution>, installation: KubeObject, secret: { namespace: string; name: string }): string[] {
  try {
    const spec = withSpecDefaults(installation.spec as never);
    const distribution = distributions.get(spec.mesh);
    return distribution ? trustAnchorKeysOfUserSecret(distribution, { ...installation, spec } as unknown as DefaultedMeshInstallation, secret) : [];
  } catch {
    return [];
  }
}

/** The running operator (without leader election, metrics or HTTP: see main.ts). */
export class Operator {
  readonly installations: Informer;
  readonly owned = new Map<string, Informer>();
  readonly controller: Controller;
  /** Watches of the user's External CA Secrets, which no owned cache sees (see controllers/referenced-secrets.ts). */
  readonly referencedSecrets: ReferencedSecrets;
  /** How the owned kinds' fields merge, from the API server's OpenAPI and our CRDs (see runtime/apply.ts). */
  readonly schemas: SchemaRegistry;
  /**
   * Every namespace, trimmed to name, labels and annotations: what injection and enrolment read
   * (the webhook answers from it without an API request per admission).
   */
  readonly namespaces: Informer;
  /**
   * Pods carrying the injection record label, trimmed to the record (controllers/meshinstallation/data-plane.ts):
   * what status.dataPlane counts.
   */
  readonly pods: Informer;
  /** Deployments, ReplicaSets, StatefulSets and DaemonSets, trimmed (rollout/caches.ts): what the data-plane rollout restarts. Only when a mesh injects. */
  readonly workloads?: WorkloadCaches;

  constructor(private readonly options: OperatorOptions) {
    const { client, log } = options;
    const onError = (type: TypeRef) => {
      let reportedNotServed = false;
      return (error: unknown, retryInMs: number) => {
        // A kind whose CRD comes with a mesh not installed (yet) is expected, not alarming: say so once.
        if (isNotFound(error)) {
          if (!reportedNotServed) log.info({ kind: type.kind, apiVersion: type.apiVersion }, 'kind not served yet (its CRD is installed with its mesh); watching for it');
          reportedNotServed = true;
          return;
        }
        log.warn({ kind: type.kind, err: error instanceof Error ? error.message : String(error), retryInMs }, 'list/watch failed; retrying');
      };
    };
    const miType = { apiVersion: API_VERSION, kind: KIND };
    this.installations = new Informer({ client, type: miType, labelSelector: options.installationSelector, clock: options.clock, onError: onError(miType) });
    for (const distribution of options.distributions) {
      // The CA state Secret is ours whatever the mesh renders; so are an injector's webhook configurations.
      const caTypes = distribution.certificateAuthority ? [{ apiVersion: 'v1', kind: 'Secret' }] : [];
      const injectionTypes = distribution.injector ? [{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }] : [];
      for (const type of [...distribution.ownedTypes, ...caTypes, ...injectionTypes]) {
        const key = `${type.apiVersion}/${type.kind}`;
        if (!this.owned.has(key)) this.owned.set(key, new Informer({ client, type, labelSelector: INSTALLATION_LABEL, clock: options.clock, onError: onError(type), transform: managedFieldsTransform(type) }));
      }
    }
    const nsType = { apiVersion: 'v1', kind: 'Namespace' };
    this.namespaces = new Informer({ client, type: nsType, clock: options.clock, onError: onError(nsType), transform: namespaceView });
    const podType = { apiVersion: 'v1', kind: 'Pod' };
    this.pods = new Informer({ client, type: podType, labelSelector: INJECTED_BY_LABEL, clock: options.clock, onError: onError(podType), transform: dataPlanePodView });
    if (options.distributions.some((d) => d.injector)) this.workloads = new WorkloadCaches({ client, clock: options.clock, onError });
    this.schemas = new SchemaRegistry({ read: openApiReader(client), log, clock: options.clock });
    // A CRD we apply defines its kind's schema at once (registered before the controller's own
    // handler, so a pass its event triggers already compares by it).
    this.owned.get('apiextensions.k8s.io/v1/CustomResourceDefinition')?.on((type, crd) => (type === 'delete' ? this.schemas.forgetCrd(crd) : this.schemas.learnCrd(crd)));
    const reconciler = new MeshInstallationReconciler({
      client,
      installations: this.installations,
      owned: this.owned,
      distributions: new Map(options.distributions.map((d) => [d.mesh, d])),
      log,
      clock: options.clock,
      hooks: options.hooks,
      schemas: this.schemas,
      webhookEndpoint: options.webhookEndpoint,
      namespaces: this.namespaces,
      pods: this.pods,
      workloads: this.workloads,
      // Created below (it enqueues into the controller); read only by passes, which start later.
      referencedSecret: (namespace, name) => this.referencedSecrets.get(namespace, name),
    });
    const { aroundPass } = options;
    this.controller = new Controller({
      name: 'meshinstallation',
      reconciler: aroundPass ? { reconcile: (key, trigger) => aroundPass(() => reconciler.reconcile(key, trigger)) } : reconciler,
      log,
      workers: options.workers ?? 2,
      clock: options.clock,
      onReconciled: options.hooks?.onReconciled,
      onQueueDepth: options.hooks?.onQueueDepth,
    });
    this.controller.watch(this.installations, (object) => [object.metadata.name]);
    // An installation gone frees what it owned: one stalled on a conflict with it may proceed now.
    this.installations.on((type) => {
      if (type === 'delete') for (const other of this.installations.list()) this.controller.enqueue(other.metadata.name);
    });
    const distributions = new Map(options.distributions.map((d) => [d.mesh as string, d]));
    this.referencedSecrets = new ReferencedSecrets({
      client, installations: this.installations, trustAnchorKeys: (installation, secret) => userSecretTrustAnchorKeys(distributions, installation, secret), enqueue: (name) => this.controller.enqueue(name), clock: options.clock, onError: onError({ apiVersion: 'v1', kind: 'Secret' }),
    });
    // A pod's proxy counts for the installation that injected it.
    this.controller.watch(this.pods, (pod) => {
      const owner = pod.metadata.labels?.[INJECTED_BY_LABEL];
      return owner ? [owner] : [];
    }, { coalesceMs: DATA_PLANE_COALESCE_MS });
    // A restarted workload's rollout status is what the rollout's health gate waits on (any installation
    // may have restarted it); coalesced like pod events, since a rollout updates many workloads at once.
    this.workloads?.onRestartedWorkloadChange(() => {
      for (const installation of this.installations.list()) this.controller.enqueue(installation.metadata.name, DATA_PLANE_COALESCE_MS);
    });
    // Enrolment follows namespaces coming, going and being relabelled (any installation may select them).
    this.namespaces.on((type, ns, old) => {
      if (type === 'update' && old && !enrolmentMayChange(old, ns)) return;
      for (const installation of this.installations.list()) this.controller.enqueue(installation.metadata.name, DATA_PLANE_COALESCE_MS);
    });
    for (const informer of this.owned.values()) {
      this.controller.watch(informer, (object) => {
        const owner = object.metadata.labels?.[INSTALLATION_LABEL];
        return owner ? [owner] : [];
      });
    }
  }

  /**
   * Fills the caches (a standby does this too, so it takes over warm). Resolves once every cache
   * is complete: listed, or empty because its kind is not served (a mesh's CRDs before that mesh
   * is installed). A cache that cannot list (e.g. RBAC) keeps this pending: reconciling from an
   * empty cache would mistake "not listed" for "nothing exists"; readiness says which one waits.
   * The owned kinds' schemas load alongside; one that fails to load does not hold this back (its
   * lists compare as atomic until a later load succeeds).
   */
  async startCaches(): Promise<void> {
    const owned = [...this.owned.values()];
    await Promise.all([...[this.installations, this.namespaces, this.pods, ...this.workloadInformers(), ...owned].map((informer) => informer.start()), this.schemas.load(owned.map((informer) => informer.type))]);
  }

  /** What each cache reports, for readiness (see runtime/readiness.ts). */
  cacheStates(): CacheState[] {
    return [this.installations, this.namespaces, this.pods, ...this.workloadInformers(), ...this.owned.values()].map((informer) => ({
      ...informer.type,
      synced: informer.hasSynced(),
      notServed: informer.isNotServed(),
      lastError: informer.lastError(),
      // Without its own API the operator has nothing to do: a person must install the CRD.
      required: informer === this.installations,
    }));
  }

  /** The workload caches' informers (none when no mesh injects). */
  private workloadInformers(): Informer[] {
    return this.workloads?.all() ?? [];
  }

  /** Fills the caches, then starts reconciling. */
  async start(): Promise<void> {
    await this.startCaches();
    this.controller.start();
  }

  /** Stops reconciling (waiting for passes in flight) and watching. */
  async stop(): Promise<void> {
    await this.controller.stop();
    await Promise.all([this.referencedSecrets.stop(), ...[this.installations, this.namespaces, this.pods, ...this.workloadInformers(), ...this.owned.values()].map((informer) => informer.stop())]);
  }
}

/**
 * A namespace as the namespace cache keeps it: name, labels, annotations and resourceVersion only.
 * Every namespace of the cluster is cached, so the rest (spec, status, managedFields) is dropped.
 */
export function namespaceView(object: KubeObject): KubeObject {
  const { name, labels, annotations, resourceVersion, uid, deletionTimestamp } = object.metadata;
  return {
    apiVersion: object.apiVersion ?? 'v1',
    kind: object.kind ?? 'Namespace',
    metadata: { name, resourceVersion, uid, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}), ...(deletionTimestamp ? { deletionTimestamp } : {}) },
  };
}
