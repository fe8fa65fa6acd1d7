/**
 * What every step of a pass shares across passes: the client, the caches with our own writes, the
 * CA keeper, the distributions and the hooks to metrics and Events. Nothing here is about one
 * installation; that is the {@link PassScope}'s.
 */
import type { MeshDistribution } from '../../distributions/distribution.ts';
import type { WebhookEndpoint } from '../../distributions/injection.ts';
import type { PassTrigger } from '../../runtime/controller.ts';
import type { ReconcileError } from '../../runtime/errors.ts';
import type { DriftRepairTiming } from '../../runtime/metrics.ts';
import type { KubeClient, KubeObject, TypeRef } from '../../runtime/kube.ts';
import type { SchemaNode } from '../../runtime/list-semantics.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { WorkloadCaches } from '../../rollout/caches.ts';
import type { CertificateAuthorities } from '../certificate-authority.ts';
import type { LiveObjects } from './live-objects.ts';

/** What the reconciler reports to metrics and Events. */
export interface ReconcilerHooks {
  onDriftCorrected?(kind: string, installation: string): void;
  /** Where a drift repair's time went, once its write's watch event has reached the cache. */
  onDriftRepairTimed?(timing: DriftRepairTiming): void;
  onManagedObjects?(installation: string, count: number): void;
  onEvent?(installation: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string): void;
  /** A pass over `installation` ended, its status written (tests wait on this instead of sleeping). */
  onPassCompleted?(installation: string, failure: ReconcileError | undefined): void;
  /** A phase of a pass over `installation` that did work took `seconds` (phases.ts; /metrics' meshwright_pass_phase_seconds). */
  onPhase?(installation: string, phase: string, seconds: number): void;
}

/** Shared dependencies of the steps of a pass. */
export interface PassContext {
  client: KubeClient;
  live: LiveObjects;
  authorities: CertificateAuthorities;
  distributions: ReadonlyMap<string, MeshDistribution>;
  hooks: ReconcilerHooks;
  /** How the fields of a kind merge (lists atomic, keyed or sets), as the API server serves it; undefined until known. */
  schemaOf(type: TypeRef): SchemaNode | undefined;
  /** Every namespace (trimmed): what enrolment plans from; absent, nothing is enrolled. */
  namespaces?: Informer;
  /** Pods carrying the injection record (trimmed, see data-plane.ts): what status.dataPlane counts. */
  pods?: Informer;
  /** Where the API server reaches the injection webhook, with the CA bundle to trust (undefined: no webhook configurations). */
  webhookEndpoint?: () => WebhookEndpoint | undefined;
  /** The user's Secret an External CA names, as the referenced-secrets cache keeps it (public certificate entries only). */
  referencedSecret?: (namespace: string, name: string) => KubeObject | undefined;
  /** Deployments, ReplicaSets, StatefulSets and DaemonSets (trimmed, rollout/caches.ts): what the data-plane rollout restarts; absent, nothing is restarted. */
  workloads?: WorkloadCaches;
  /** Why the pass of each installation in flight runs (passes of one installation never overlap), by installation name: what repairs are timed from. */
  triggers?: Map<string, PassTrigger>;
}
