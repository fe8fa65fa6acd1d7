/**
 * The one interface behind which everything mesh-specific lives (Istio, Linkerd, and the small
 * test distribution): version catalog, a pure renderer, component health, and where the mesh keeps
 * its CA material. The reconcile loop and the runtime know nothing else about a mesh.
 */
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { Mesh } from '../api/spec.ts';
import { ReconcileError } from '../runtime/errors.ts';
import type { KubeObject, TypeRef } from '../runtime/kube.ts';
import type { SidecarInjector } from './injection.ts';
import type { UpgradePath, UpgradePathRequest } from './upgrade-path.ts';

/** A version from the catalog, with what rendering needs to know about it. */
export interface ResolvedVersion {
  version: string;
  /** Revision name the control plane of this version runs under (e.g. `1-31-1`). */
  revision: string;
  /** Image references by component (registry override already applied). */
  images: Record<string, string>;
}

/** Why a spec cannot be served: a terminal {@link ReconcileError} (Stalled with this reason; no retry until the spec changes). */
export class UnsupportedSpecError extends ReconcileError {
  constructor(reason: string, message: string) {
    super(reason, message, { terminal: true });
    this.name = 'UnsupportedSpecError';
  }
}

/**
 * The mesh CA as the operator holds it. The public parts may be rendered anywhere; the issuer key
 * only into the one Secret the mesh's identity service reads it from.
 */
export interface CertificateAuthorityMaterial {
  /** The trust anchors (one root, or two during a root rotation), concatenated PEM. */
  trustAnchorsPem: string;
  /** The issuer (intermediate) certificate, followed by any further intermediates up to, not including, the root. */
  issuerChainPem: string;
  /** The issuer's private key, PKCS#8 PEM. */
  issuerKeyPem: string;
  /** Serving certificates for the mesh's own webhooks, by the names in {@link CertificateAuthorityProfile.servingCertificates}. */
  serving?: Record<string, ServingCertificate>;
  /**
   * A Secret of the user's (External) that already holds this material in the very layout the mesh
   * reads, under the name the mesh reads it from: the mesh reads it as it is, and the render path
   * leaves out its own Secret of that name, since the operator never writes a Secret it did not create.
   */
  usedInPlace?: { namespace: string; name: string };
}

/** A TLS serving certificate the operator issued for a mesh component (e.g. a validating webhook). */
export interface ServingCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** The CA that signed it, for a webhook configuration's caBundle. Not the mesh root. */
  caBundlePem: string;
}

/** Everything a renderer may depend on; rendering is a pure function of it. */
export interface RenderInput {
  installation: DefaultedMeshInstallation;
  resolved: ResolvedVersion;
  /**
   * The CA material. Absent in an offline render (`meshwright render`): the objects that carry
   * key material are left out and trust anchors embedded elsewhere are a placeholder, because the
   * operator creates the CA in the cluster and private keys never leave it.
   */
  ca?: CertificateAuthorityMaterial;
}

/** Placeholder for trust anchors in an offline render (see {@link RenderInput.ca}). */
export const OFFLINE_TRUST_ANCHORS_PLACEHOLDER = '# trust anchors: created in the cluster by the meshwright operator\n';

/** Health of one rendered workload, judged from its live object. */
export interface ComponentHealth {
  name: string;
  kind: string;
  namespace?: string;
  ready: boolean;
  replicas?: number;
  available?: number;
}

/** A distinguished name of a CA certificate the operator issues. */
export interface CertificateSubject {
  commonName: string;
  organization?: string;
}

/**
 * A Secret or ConfigMap in the control-plane namespace where a mesh publishes its trust anchors:
 * PEM certificates under `key` (base64 in a Secret's data, as the API stores it).
 */
export interface TrustAnchorLocation {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  key: string;
  /** Who writes it: unset, the mesh's renderer (a test checks it does); `controlPlane`, the mesh's own components. */
  writtenBy?: 'controlPlane';
}

/**
 * Where a mesh's CA can be seen in the cluster: what its renderer writes from
 * {@link RenderInput.ca}, and what its control plane publishes from that in turn. While any of
 * these holds a root, workloads trust it, so the operator makes no new root (see pki/continuity.ts).
 */
export interface PublishedCertificateAuthority {
  trustAnchors: readonly TrustAnchorLocation[];
  /**
   * The rendered objects (in the control-plane namespace) that hold private keys: the issuer's,
   * webhook serving keys. Overlays may not target them — a patch could read a key into a message
   * or change it — and a test checks that no other rendered object holds one.
   */
  keyHolders: ReadonlyArray<{ kind: string; name: string }>;
}

/**
 * What a mesh asks of the CA the operator creates for it: subject names, the key algorithm when the
 * spec leaves it unset, and names the issuer must carry; and where the mesh publishes it. How the
 * material is laid out is the renderer's business (it receives it in {@link RenderInput.ca}).
 */
export interface CertificateAuthorityProfile {
  root: CertificateSubject;
  issuer: CertificateSubject;
  /** DNS names in the issuer certificate's subjectAltName, if the mesh expects any. */
  issuerDnsNames?: string[];
  /** Key algorithm used when spec.certificateAuthority.keyAlgorithm is unset. */
  defaultKeyAlgorithm: 'ECDSAP256' | 'RSA2048';
  /**
   * Every key algorithm the mesh can work with: what it requires of a CA the user brings
   * (External) and of one the operator makes, whatever the spec leaves unset.
   */
  keyAlgorithms: ReadonlyArray<'ECDSAP256' | 'RSA2048'>;
  /**
   * Serving certificates the mesh's components need but do not create themselves (Linkerd's
   * webhooks); issued by a separate webhook CA, never by the mesh root.
   */
  servingCertificates?: Array<{ name: string; dnsNames: string[] }>;
  /** Where the mesh publishes its CA (in the control-plane namespace). */
  published: PublishedCertificateAuthority;
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
  /** The CA this mesh needs; undefined for a mesh whose CA the operator does not manage. */
  certificateAuthority?(installation: DefaultedMeshInstallation): CertificateAuthorityProfile;
  /**
   * Kinds this mesh never puts CA material in (no trust bundle, key or caBundle): while a new CA's
   * key pairs are made, objects of these kinds are applied already, which shortens an install.
   */
  readonly kindsWithoutCaMaterial?: ReadonlySet<string>;
  /**
   * Whether several installations of this mesh may share `object` besides its CRDs (which every
   * mesh shares): cluster-scoped objects the mesh renders identically, or first-come, for every
   * installation (Istio's default-revision validator). Anything else two installations would both
   * render is a conflict.
   */
  isShared?(object: KubeObject): boolean;
  /** Sidecar injection (see injection.ts); undefined for a mesh without a data plane (the test distribution). */
  readonly injector?: SidecarInjector;
  /**
   * Whether the mesh may move from the running version to the spec's, by its skew rules (pure; see
   * upgrade-path.ts). Undefined for a mesh without such rules (the test distribution): any move goes.
   */
  upgradePath?(request: UpgradePathRequest): UpgradePath;
  /** What changes for users between two catalog versions (release notes, changed defaults), in the order a move crosses them; for `meshwright plan`. */
  upgradeNotes?(from: string, to: string): string[];
}

/** Kinds that carry no CA material in any mesh shipped here: CRDs, identities and RBAC. */
export const IDENTITY_AND_RBAC_KINDS: ReadonlySet<string> = new Set(['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

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

/** Health of every Deployment among `desired`: what a mesh whose components are all Deployments reports. */
export function deploymentsHealth(desired: readonly KubeObject[], live: (object: KubeObject) => KubeObject | undefined): ComponentHealth[] {
  return desired.filter((object) => object.kind === 'Deployment').map((object) => deploymentHealth(object, live(object)));
}
