/**
 * The Istio mesh distribution (`mesh: istio`): catalog, pure renderer, component health and CA
 * profile. The render is assembled from one `computeX(scope)` per responsibility:
 *
 * | module         | renders                                                                  |
 * |----------------|--------------------------------------------------------------------------|
 * | namespaces.ts  | the control-plane and gateway namespaces                                 |
 * | crds.ts        | Istio's 14 CRDs                                                          |
 * | istiod-rbac.ts | istiod's ServiceAccount, ClusterRoles, Role and bindings; reader account  |
 * | mesh-config.ts | the `istio` mesh-config ConfigMap and the mesh-wide PeerAuthentication  |
 * | istiod.ts      | istiod's Deployment, Service, HPA and PDB                                |
 * | webhooks.ts    | config-validation webhooks (no injection webhook: that is the operator's) |
 * | gateways.ts    | ingress/egress gateways                                                  |
 * | ca-secret.ts   | the plug-in CA Secret `cacerts`                                          |
 */
import type { KubeObject, TypeRef } from '../../runtime/kube.ts';
import { deploymentsHealth, IDENTITY_AND_RBAC_KINDS, type MeshDistribution, type RenderInput } from '../distribution.ts';
import { computeCaSecret, istioCertificateAuthority } from './ca-secret.ts';
import { ISTIO_CATALOG, resolveIstioVersion } from './catalog.ts';
import { istioUpgradeNotes, istioUpgradePath } from './upgrade-path.ts';
import { computeCrds } from './crds.ts';
import { computeGateways } from './gateways.ts';
import { computeIstiod } from './istiod.ts';
import { computeIstiodRbac, computeReaderServiceAccount } from './istiod-rbac.ts';
import { computeMeshConfigMap, computePeerAuthentication } from './mesh-config.ts';
import { computeNamespaces } from './namespaces.ts';
import { computeScope } from './scope.ts';
import { computeValidatingWebhooks } from './webhooks.ts';
import { istioInjector } from './injection/index.ts';

/** Every kind the Istio renderer produces, in the order its output is sorted. */
export const ISTIO_OWNED_TYPES: readonly TypeRef[] = [
  { apiVersion: 'v1', kind: 'Namespace' },
  { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' },
  { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
];

const kindRank = new Map(ISTIO_OWNED_TYPES.map((type, i) => [type.kind, i]));

/** Sorts by kind (dependencies first), then namespace, then name. */
export function sortObjects(objects: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject) => [kindRank.get(o.kind) ?? kindRank.size, o.metadata.namespace ?? '', o.metadata.name] as const;
  return [...objects].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka[0] - kb[0] || ka[1].localeCompare(kb[1]) || ka[2].localeCompare(kb[2]);
  });
}

/**
 * The desired Istio objects for an installation at a resolved version (pure). The result shares
 * no structure with the input, with module constants or within itself, so whoever patches it
 * (overlays, the reconciler) cannot change anything else.
 */
export function renderIstio(input: RenderInput): KubeObject[] {
  const scope = computeScope(input);
  const objects = sortObjects([
    ...computeNamespaces(scope),
    ...computeCrds(),
    computeReaderServiceAccount(scope),
    ...computeIstiodRbac(scope),
    ...computeCaSecret(scope),
    computeMeshConfigMap(scope),
    ...computeIstiod(scope),
    computePeerAuthentication(scope),
    ...computeValidatingWebhooks(scope),
    ...computeGateways(scope),
  ]);
  return JSON.parse(JSON.stringify(objects)) as KubeObject[];
}

/** Istio, as the operator sees it. */
export const istioDistribution: MeshDistribution = {
  mesh: 'istio',
  ownedTypes: ISTIO_OWNED_TYPES,
  catalog: ISTIO_CATALOG,
  resolve: resolveIstioVersion,
  render: renderIstio,
  /** istiod and every gateway, each judged from its live Deployment (replicas included, also when an HPA owns them). */
  componentHealth: deploymentsHealth,
  kindsWithoutCaMaterial: IDENTITY_AND_RBAC_KINDS,
  certificateAuthority: istioCertificateAuthority,
  injector: istioInjector,
  /** In place one minor, canary two, never behind the data plane, no downgrade unless allowed (upgrade-path.ts). */
  upgradePath: (request) => istioUpgradePath(request),
  /** The istiod feature-flag defaults that change across the minors crossed (catalog.ts behaviourChanges). */
  upgradeNotes: (from, to) => istioUpgradeNotes(from, to),
  /**
   * Every in-place installation renders the cluster-wide `istiod-default-validator`; one of them
   * serves it at a time (the first), and it goes with the last, as Istio's own default revision does.
   */
  isShared: (object) => object.kind === 'ValidatingWebhookConfiguration' && object.metadata.name === 'istiod-default-validator',
};
