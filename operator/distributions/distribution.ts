/**
 * The one interface behind which everything mesh-specific lives (Istio, Linkerd, and the small
 * test distribution): version catalog, a pure renderer, component health, and where the mesh keeps
 * its CA material. The reconcile loop and the runtime know nothing else about a mesh.
 */
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { Mesh } from '../api/spec.ts';
import type { KubeObject, TypeRef } from '../runtime/kube.ts';

/** A version from the catalog, with what rendering needs to know about it. */
export interface ResolvedVersion {
  version: string;
  /** Revision name the control plane of this version runs under (e.g. `1-31-1`). */
  revision: string;
  /** Image references by component (registry override already applied). */
  images: Record<string, string>;
}

/** Why a spec cannot be served: shown as Stalled with this reason; no retry until spec changes. */
export class UnsupportedSpecError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedSpecError';
  }
}

/** Everything a renderer may depend on; rendering is a pure function of it. */
export interface RenderInput {
  installation: DefaultedMeshInstallation;
  resolved: ResolvedVersion;
  /** Public CA material to embed (trust bundle); never private keys. */
  trustBundlePem?: string;
}

/** Health of one rendered workload, judged from its live object. */
export interface ComponentHealth {
  name: string;
  kind: string;
  namespace?: string;
  ready: boolean;
  replicas?: number;
  available?: number;
}

/** Where a mesh keeps its CA material, so the operator can create it there before the control plane starts. */
export interface CertificateAuthorityLayout {
  /** Secret holding the issuer (intermediate) certificate and key. */
  issuerSecret: { namespace: string; name: string };
  /** Where the trust bundle (roots) is published, if apart from the issuer Secret. */
  trustBundle?: { kind: 'ConfigMap' | 'Secret'; namespace: string; name: string; key: string };
}

/** A mesh, as the operator sees it. */
export interface MeshDistribution {
  readonly mesh: Mesh;
  /** Every kind the renderer may produce, in any version: the operator watches these. */
  readonly ownedTypes: readonly TypeRef[];
  /** Versions this operator can install, newest first. */
  readonly catalog: readonly string[];
  /** Looks the spec's version up in the catalog; throws UnsupportedSpecError naming what is allowed. */
  resolve(installation: DefaultedMeshInstallation): ResolvedVersion;
  /** The desired objects (pure: same input, same output, no I/O). */
  render(input: RenderInput): KubeObject[];
  /** Health of the workloads among `desired`, from their live versions. */
  componentHealth(desired: readonly KubeObject[], live: (object: KubeObject) => KubeObject | undefined): ComponentHealth[];
  /** Where the CA material lives; undefined for a mesh whose CA the operator does not manage. */
  certificateAuthorityLayout?(installation: DefaultedMeshInstallation): CertificateAuthorityLayout;
}

/** Health of a Deployment the way `kubectl rollout status` judges it: current generation, all replicas updated and available. */
export function deploymentHealth(desired: KubeObject, live: KubeObject | undefined): ComponentHealth {
  const base = { name: desired.metadata.name, kind: desired.kind, namespace: desired.metadata.namespace };
  if (!live) return { ...base, ready: false, replicas: 0, available: 0 };
  const spec = live.spec as { replicas?: number } | undefined;
  const status = (live.status ?? {}) as { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
  const replicas = spec?.replicas ?? 1;
  const available = status.availableReplicas ?? 0;
  const current = (status.observedGeneration ?? 0) >= (live.metadata.generation ?? 0);
  const ready = current && (status.updatedReplicas ?? 0) >= replicas && available >= replicas && (status.replicas ?? 0) <= replicas;
  return { ...base, ready, replicas, available };
}
