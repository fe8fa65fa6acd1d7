/**
 * The Linkerd mesh distribution (`mesh: linkerd`): catalog, pure renderer, component health and CA
 * profile. Linkerd's proxy injector is not rendered: the operator injects proxies itself (injection/).
 */
import { deploymentsHealth, IDENTITY_AND_RBAC_KINDS, type MeshDistribution } from '../distribution.ts';
import { linkerdCertificateAuthority } from './ca.ts';
import { LINKERD_CATALOG, resolveLinkerdVersion } from './catalog.ts';
import { linkerdInjector } from './injection/index.ts';
import { renderLinkerd } from './render.ts';
import { linkerdUpgradeNotes, linkerdUpgradePath } from './upgrade-path.ts';

/** The Linkerd distribution. */
export const linkerdDistribution: MeshDistribution = {
  mesh: 'linkerd',
  catalog: LINKERD_CATALOG,
  ownedTypes: [
    { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
    { apiVersion: 'v1', kind: 'Namespace' },
    { apiVersion: 'v1', kind: 'ServiceAccount' },
    { apiVersion: 'v1', kind: 'ConfigMap' },
    { apiVersion: 'v1', kind: 'Secret' },
    { apiVersion: 'v1', kind: 'Service' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'batch/v1', kind: 'CronJob' },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
  ],
  resolve: resolveLinkerdVersion,
  render: renderLinkerd,
  componentHealth: deploymentsHealth,
  kindsWithoutCaMaterial: IDENTITY_AND_RBAC_KINDS,
  certificateAuthority: linkerdCertificateAuthority,
  injector: linkerdInjector,
  /** One major at a time, edges forward, the built-from edge decides between channels (upgrade-path.ts). */
  upgradePath: (request) => linkerdUpgradePath(request),
  /** The catalog's notes of the releases crossed. */
  upgradeNotes: (from, to) => linkerdUpgradeNotes(from, to),
};
