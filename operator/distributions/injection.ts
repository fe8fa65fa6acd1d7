/**
 * Sidecar injection, as the mesh-agnostic parts of the operator see it. Each mesh supplies a
 * {@link SidecarInjector} (pure functions, no I/O): which pods it injects, what it adds to them, and
 * the MutatingWebhookConfigurations that send exactly those pods to the operator's webhook. The
 * webhook server (`operator/injection/`), `meshwright inject` and the conformance tests all call the
 * same functions, so what the tests judge is what pods get.
 *
 * Every injected pod also carries an {@link InjectionRecord} (mesh, revision, proxy version and the
 * SHA-256 of the trust bundle its proxy was given) as annotations, and a label the operator's pod
 * informer selects on: the ground for `status.dataPlane`, rollouts, upgrades and CA rotation.
 */
import { createHash } from 'node:crypto';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { Mesh } from '../api/spec.ts';
import type { KubeObject } from '../runtime/kube.ts';
import type { ResolvedVersion } from './distribution.ts';

/** A Pod as the webhook receives it (the name may be unset: `generateName` only). */
export interface PodObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<Record<string, unknown>>;
    [key: string]: unknown;
  };
  spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> };
  status?: Record<string, unknown>;
}

/** What the injector may know of the pod's namespace (from the operator's namespace cache). */
export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Everything one injection depends on besides the pod; injection is a pure function of it. */
export interface InjectionRequest {
  pod: PodObject;
  namespace: NamespaceView;
  installation: DefaultedMeshInstallation;
  /** The version (and so the proxy image and revision) this pod's proxy gets. */
  resolved: ResolvedVersion;
  /** The trust anchors (concatenated PEM) the proxy is given: what the pod's record hashes. */
  trustAnchorsPem: string;
  /**
   * Whether the cluster runs sidecars as native (restartable init) containers by default, as
   * upstream decides it from the kubelets' versions (>= 1.33 for Istio); a pod annotation may still
   * override it where the mesh honours one. Unset: the mesh's default for `resolved`.
   */
  nativeSidecars?: boolean;
  /**
   * The workload whose pod template `pod` is, when a template is injected outside admission
   * (`meshwright inject`, conformance vectors), as `istioctl kube-inject` knows it: Istio names the
   * workload in the proxy's metadata. Unset (admission): derived from the pod's controller reference.
   */
  workload?: { apiVersion: string; kind: string; name: string; namespace?: string };
}

/** Why an injector left a pod as it is (not an error: the pod is admitted unchanged). */
export interface InjectionSkipped {
  injected: false;
  /** A short machine-readable reason (e.g. `HostNetwork`, `OptedOut`, `AlreadyInjected`). */
  reason: string;
  message: string;
}

/** The injected pod and what it records. */
export interface InjectionDone {
  injected: true;
  pod: PodObject;
  record: InjectionRecord;
  /** Things upstream would warn about (e.g. an ignored annotation), for the admission response's warnings. */
  warnings?: string[];
}

/** The outcome of one injection. A pod that cannot be injected as asked throws {@link InjectionError}. */
export type InjectionOutcome = InjectionSkipped | InjectionDone;

/**
 * A pod that asks for something the injector cannot do (an invalid annotation value, say): the
 * webhook refuses it with this message, `meshwright inject` prints it, as upstream does.
 */
export class InjectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectionError';
  }
}

/** What an injected pod records about its proxy. */
export interface InjectionRecord {
  mesh: Mesh;
  /** The MeshInstallation that injected it. */
  installation: string;
  /** The control-plane revision the proxy connects to (`default` when unrevisioned). */
  revision: string;
  /** The mesh version of the proxy image (a catalog version). */
  proxyVersion: string;
  /** SHA-256 (hex) of the trust bundle given to the proxy, as {@link trustBundleSha256} computes it. */
  trustBundleSha256: string;
}

/**
 * Where each workload kind keeps the pod template its controller creates pods from: what
 * `meshwright inject` and the conformance harness inject in place, as `istioctl kube-inject` and
 * `linkerd inject --manual` do.
 */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** Label on every injected pod, valued with the installation's name: what the pod informer selects on. */
export const INJECTED_BY_LABEL = 'meshwright.dev/injected-by';
/** Annotations of the {@link InjectionRecord}. */
export const RECORD_ANNOTATIONS = {
  mesh: 'meshwright.dev/mesh',
  revision: 'meshwright.dev/revision',
  proxyVersion: 'meshwright.dev/proxy-version',
  trustBundleSha256: 'meshwright.dev/trust-bundle-sha256',
} as const;

/**
 * The hash a pod records for its trust bundle: SHA-256 (hex) of the PEM exactly as given to the
 * proxy. Linkerd's own `linkerd.io/trust-root-sha256` annotation is computed the same way.
 */
export function trustBundleSha256(pem: string): string {
  return createHash('sha256').update(pem).digest('hex');
}

/** Writes `record` onto an injected pod (label and annotations); returns a new pod. */
export function withInjectionRecord(pod: PodObject, record: InjectionRecord): PodObject {
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...pod.metadata.labels, [INJECTED_BY_LABEL]: record.installation },
      annotations: {
        ...pod.metadata.annotations,
        [RECORD_ANNOTATIONS.mesh]: record.mesh,
        [RECORD_ANNOTATIONS.revision]: record.revision,
        [RECORD_ANNOTATIONS.proxyVersion]: record.proxyVersion,
        [RECORD_ANNOTATIONS.trustBundleSha256]: record.trustBundleSha256,
      },
    },
  };
}

/** Reads the record back from a pod (undefined if the operator did not inject it). */
export function injectionRecordOf(pod: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } }): InjectionRecord | undefined {
  const installation = pod.metadata.labels?.[INJECTED_BY_LABEL];
  const a = pod.metadata.annotations ?? {};
  if (!installation || !a[RECORD_ANNOTATIONS.proxyVersion]) return undefined;
  return {
    mesh: a[RECORD_ANNOTATIONS.mesh] as Mesh,
    installation,
    revision: a[RECORD_ANNOTATIONS.revision] ?? 'default',
    proxyVersion: a[RECORD_ANNOTATIONS.proxyVersion]!,
    trustBundleSha256: a[RECORD_ANNOTATIONS.trustBundleSha256] ?? '',
  };
}

/** Where the API server reaches the operator's injection webhook. */
export type WebhookEndpoint =
  /** In a cluster: the operator's Service. */
  | { service: { namespace: string; name: string; port: number }; caBundlePem: string }
  /** Outside one (local development, the e2e tests): a URL, e.g. https://127.0.0.1:9443. */
  | { url: string; caBundlePem: string };

/** A mesh's injection: selection, mutation and the webhook configurations that route pods to it. */
export interface SidecarInjector {
  /**
   * Injects one pod, or says why not (opt-out, host networking, already injected, a system
   * namespace...). Pure. The pod-level half of upstream's selection semantics lives here; the
   * namespace/object selectors of {@link webhookConfigurations} are the other half.
   */
  inject(request: InjectionRequest): InjectionOutcome;
  /**
   * The MutatingWebhookConfigurations for `installation` (one revision each where the mesh has
   * revisions, and revision tags), pointing at `endpoint`, webhook paths under
   * `/inject/<installation>`. Namespaces that are not enrolled never match their selectors;
   * enrolled ones fail closed. Pure.
   */
  webhookConfigurations(installation: DefaultedMeshInstallation, resolved: ResolvedVersion, endpoint: WebhookEndpoint): KubeObject[];
  /** The label (and value) that enrols a namespace in `installation`'s injection (the mesh's own). */
  enrolmentLabel(installation: DefaultedMeshInstallation, resolved: ResolvedVersion): { key: string; value: string };
  /**
   * Other namespace label keys by which a person routes this mesh's injection (Istio: `istio.io/rev`
   * beside `istio-injection`, and the reverse). Enrolment leaves a namespace carrying one alone as
   * that person's choice, since adding the enrolment label could override it. None when absent.
   */
  otherSelectionLabels?(installation: DefaultedMeshInstallation, resolved: ResolvedVersion): readonly string[];
}
