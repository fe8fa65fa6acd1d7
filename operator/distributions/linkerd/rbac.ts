/**
 * Service accounts and RBAC of Linkerd's control plane: identity, destination (with the policy
 * controller and remote discovery), heartbeat, and the read access extensions get to
 * linkerd-config. The proxy injector's account is absent: injection is the operator's own.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { createdBy } from './objects.ts';
import { controlPlaneLabels, type LinkerdScope } from './scope.ts';

/** An RBAC policy rule. */
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const RBAC = 'rbac.authorization.k8s.io/v1';
const readOnly = ['list', 'get', 'watch'];
const getListWatch = ['get', 'list', 'watch'];
const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule =>
  ({ apiGroups, resources, verbs, ...(resourceNames ? { resourceNames } : {}) });

/** Policy resources the policy controller watches (and the policy validator admits). */
export const POLICY_RESOURCES = [
  'authorizationpolicies', 'httplocalratelimitpolicies', 'httproutes', 'meshtlsauthentications',
  'networkauthentications', 'servers', 'serverauthorizations', 'egressnetworks',
] as const;

/** Gateway API route kinds Linkerd's policy controller serves. */
export const GATEWAY_ROUTE_RESOURCES = ['httproutes', 'grpcroutes', 'tlsroutes', 'tcproutes'] as const;

function serviceAccount(scope: LinkerdScope, name: string, component: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: scope.namespace, labels: controlPlaneLabels(scope, component) } };
}

function role(kind: 'ClusterRole' | 'Role', name: string, labels: Record<string, string>, rules: PolicyRule[], namespace?: string): KubeObject {
  return { apiVersion: RBAC, kind, metadata: { name, ...(namespace ? { namespace } : {}), labels }, rules };
}

function binding(scope: LinkerdScope, kind: 'ClusterRoleBinding' | 'RoleBinding', name: string, labels: Record<string, string>, roleName: string, serviceAccountName: string): KubeObject {
  const namespaced = kind === 'RoleBinding';
  return {
    apiVersion: RBAC, kind,
    metadata: { name, ...(namespaced ? { namespace: scope.namespace } : {}), labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: namespaced ? 'Role' : 'ClusterRole', name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace: scope.namespace }],
  };
}

/** Identity: reviews service-account tokens of proxies asking for certificates; records events. */
export function computeIdentityRbac(scope: LinkerdScope): KubeObject[] {
  const name = `linkerd-${scope.namespace}-identity`;
  const labels = controlPlaneLabels(scope, 'identity');
  return [
    role('ClusterRole', name, labels, [
      rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
      rule([''], ['events'], ['create', 'patch']),
    ]),
    binding(scope, 'ClusterRoleBinding', name, labels, name, 'linkerd-identity'),
    serviceAccount(scope, 'linkerd-identity', 'identity'),
  ];
}

/**
 * Destination: endpoint and profile discovery (cluster-wide reads, EndpointSlice writes for
 * external workloads, leases), the policy controller's access, and remote-discovery Secrets.
 */
export function computeDestinationRbac(scope: LinkerdScope): KubeObject[] {
  const name = `linkerd-${scope.namespace}-destination`;
  const labels = controlPlaneLabels(scope, 'destination');
  const partOf = { 'app.kubernetes.io/part-of': 'Linkerd', ...labels };
  return [
    role('ClusterRole', name, labels, [
      rule(['apps'], ['replicasets'], readOnly),
      rule(['batch'], ['jobs'], readOnly),
      rule([''], ['pods', 'endpoints', 'services', 'nodes'], readOnly),
      rule(['linkerd.io'], ['serviceprofiles'], readOnly),
      rule(['workload.linkerd.io'], ['externalworkloads'], readOnly),
      rule(['coordination.k8s.io'], ['leases'], ['create', 'get', 'update', 'patch']),
      rule(['discovery.k8s.io'], ['endpointslices'], [...readOnly, 'create', 'update', 'patch', 'delete']),
    ]),
    binding(scope, 'ClusterRoleBinding', name, labels, name, 'linkerd-destination'),
    serviceAccount(scope, 'linkerd-destination', 'destination'),
    role('ClusterRole', 'linkerd-policy', partOf, [
      rule([''], ['pods'], getListWatch),
      rule(['apps'], ['deployments'], ['get']),
      rule(['policy.linkerd.io'], [...POLICY_RESOURCES], getListWatch),
      rule(['gateway.networking.k8s.io'], [...GATEWAY_ROUTE_RESOURCES], getListWatch),
      rule(['policy.linkerd.io'], ['httproutes/status', 'httplocalratelimitpolicies/status', 'egressnetworks/status'], ['patch']),
      rule(['gateway.networking.k8s.io'], GATEWAY_ROUTE_RESOURCES.map((r) => `${r}/status`), ['patch']),
      rule(['workload.linkerd.io'], ['externalworkloads'], getListWatch),
      rule(['coordination.k8s.io'], ['leases'], ['create', 'get', 'patch']),
    ]),
    binding(scope, 'ClusterRoleBinding', 'linkerd-destination-policy', partOf, 'linkerd-policy', 'linkerd-destination'),
    role('Role', 'remote-discovery', partOf, [rule([''], ['secrets'], getListWatch)], scope.namespace),
    binding(scope, 'RoleBinding', 'linkerd-destination-remote-discovery', partOf, 'remote-discovery', 'linkerd-destination'),
  ];
}

/** Heartbeat: reads linkerd-config and counts namespaces and service profiles. */
export function computeHeartbeatRbac(scope: LinkerdScope): KubeObject[] {
  const labels = controlPlaneLabels(scope);
  return [
    role('Role', 'linkerd-heartbeat', labels, [rule([''], ['configmaps'], ['get'], ['linkerd-config'])], scope.namespace),
    binding(scope, 'RoleBinding', 'linkerd-heartbeat', labels, 'linkerd-heartbeat', 'linkerd-heartbeat'),
    role('ClusterRole', 'linkerd-heartbeat', labels, [
      rule([''], ['namespaces'], ['list']),
      rule(['linkerd.io'], ['serviceprofiles'], ['list']),
    ]),
    binding(scope, 'ClusterRoleBinding', 'linkerd-heartbeat', labels, 'linkerd-heartbeat', 'linkerd-heartbeat'),
    serviceAccount(scope, 'linkerd-heartbeat', 'heartbeat'),
  ];
}

/** The Role Linkerd extensions bind to read linkerd-config (the binding is theirs). */
export function computeConfigReaderRole(scope: LinkerdScope): KubeObject {
  const object = role('Role', 'ext-namespace-metadata-linkerd-config', controlPlaneLabels(scope), [rule([''], ['configmaps'], ['get'], ['linkerd-config'])], scope.namespace);
  object.metadata.annotations = createdBy();
  return object;
}
