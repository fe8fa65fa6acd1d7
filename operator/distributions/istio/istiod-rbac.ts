/**
 * istiod's identity and permissions: its ServiceAccount, the cluster-wide roles for discovery,
 * status writing and the Gateway API deployment controller, the read-only role for multicluster
 * readers, and the namespaced role for its own Secrets, ConfigMaps and leader-election Leases.
 *
 * The rules are Istio's, with one deliberate narrowing: istiod gets no write access to admission
 * webhook configurations, because the operator, not istiod, keeps them (see webhooks.ts).
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { clusterRevisioned, meta, partOfIstio, revisioned, type IstioScope } from './scope.ts';

/** A PolicyRule. */
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const rule = (apiGroups: string[], resources: string[], verbs: string[]): Rule => ({ apiGroups, resources, verbs });

const READ = ['get', 'list', 'watch'];
const READ_WRITE = ['get', 'watch', 'list', 'update', 'patch', 'create', 'delete'];
const ISTIO_GROUPS = ['config.istio.io', 'security.istio.io', 'networking.istio.io', 'authentication.istio.io', 'rbac.istio.io', 'telemetry.istio.io', 'extensions.istio.io'];
const GATEWAY_API_STATUS = [
  'backendtlspolicies/status', 'gatewayclasses/status', 'gateways/status', 'grpcroutes/status', 'httproutes/status',
  'referencegrants/status', 'tcproutes/status', 'tlsroutes/status', 'udproutes/status', 'listenersets/status',
];

/** Cluster-wide rules of istiod (discovery, status, ingress, Gateway API, multicluster). */
const ISTIOD_CLUSTER_RULES: Rule[] = [
  // Read only: istiod watches webhook configurations (revision tags) but does not patch them here.
  rule(['admissionregistration.k8s.io'], ['mutatingwebhookconfigurations'], READ),
  rule(['admissionregistration.k8s.io'], ['validatingwebhookconfigurations'], READ),
  rule(ISTIO_GROUPS, ['*'], ['get', 'watch', 'list']),
  rule(['networking.istio.io'], ['workloadentries'], READ_WRITE),
  rule(['networking.istio.io'], ['workloadentries/status', 'serviceentries/status'], READ_WRITE),
  rule(['security.istio.io'], ['authorizationpolicies/status'], READ_WRITE),
  rule([''], ['services/status'], READ_WRITE),
  rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], READ),
  rule([''], ['pods', 'nodes', 'services', 'namespaces', 'endpoints'], READ),
  rule(['discovery.k8s.io'], ['endpointslices'], READ),
  rule(['networking.k8s.io'], ['ingresses', 'ingressclasses'], READ),
  rule(['networking.k8s.io'], ['ingresses/status'], ['*']),
  // istiod publishes the root certificate as a ConfigMap in every namespace.
  rule([''], ['configmaps'], ['create', 'get', 'list', 'watch', 'update']),
  rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
  rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
  rule(['gateway.networking.k8s.io', 'gateway.networking.x-k8s.io'], ['*'], ['get', 'watch', 'list']),
  rule(['gateway.networking.x-k8s.io'], ['xbackendtrafficpolicies/status'], ['update', 'patch']),
  rule(['gateway.networking.k8s.io'], GATEWAY_API_STATUS, ['update', 'patch']),
  rule(['gateway.networking.k8s.io'], ['gatewayclasses'], ['create', 'update', 'patch', 'delete']),
  rule(['inference.networking.k8s.io'], ['inferencepools'], ['get', 'watch', 'list']),
  rule(['inference.networking.k8s.io'], ['inferencepools/status'], ['update', 'patch']),
  rule([''], ['secrets'], ['get', 'watch', 'list']),
  rule(['multicluster.x-k8s.io'], ['serviceexports'], ['get', 'watch', 'list', 'create', 'delete']),
  rule(['multicluster.x-k8s.io'], ['serviceimports'], ['get', 'watch', 'list']),
];

/** What istiod's Gateway API deployment controller creates for a Gateway. */
const GATEWAY_CONTROLLER_RULES: Rule[] = [
  rule(['apps'], ['deployments'], READ_WRITE),
  rule(['autoscaling'], ['horizontalpodautoscalers'], READ_WRITE),
  rule(['policy'], ['poddisruptionbudgets'], READ_WRITE),
  rule([''], ['services'], READ_WRITE),
  rule([''], ['serviceaccounts'], READ_WRITE),
];

/** Read access for remote istiods and tools (`istio-reader-service-account`). */
const READER_RULES: Rule[] = [
  rule(ISTIO_GROUPS, ['*'], READ),
  rule([''], ['endpoints', 'pods', 'services', 'nodes', 'replicationcontrollers', 'namespaces', 'secrets', 'configmaps'], READ),
  rule(['networking.istio.io'], ['workloadentries'], ['get', 'watch', 'list']),
  rule(['networking.x-k8s.io', 'gateway.networking.k8s.io'], ['gateways'], ['get', 'watch', 'list']),
  rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], READ),
  rule(['discovery.k8s.io'], ['endpointslices'], READ),
  rule(['multicluster.x-k8s.io'], ['serviceexports'], ['get', 'list', 'watch', 'create', 'delete']),
  rule(['multicluster.x-k8s.io'], ['serviceimports'], READ),
  rule(['apps'], ['replicasets'], READ),
  rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
  rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
];

/** istiod's rules in its own namespace: CA and DNS-cert Secrets, root-cert ConfigMaps, leader election. */
const ISTIOD_NAMESPACE_RULES: Rule[] = [
  rule(['networking.istio.io'], ['gateways'], ['create']),
  rule([''], ['secrets'], ['create', 'get', 'watch', 'list', 'update', 'delete']),
  rule([''], ['configmaps'], ['delete']),
  rule(['coordination.k8s.io'], ['leases'], ['get', 'update', 'patch', 'create']),
];

/** Name of the reader ServiceAccount; shared by every revision, like Istio's base chart has it. */
export const READER_SERVICE_ACCOUNT = 'istio-reader-service-account';

const RBAC = 'rbac.authorization.k8s.io/v1';

/** A ClusterRole and the binding of it to one ServiceAccount of the control-plane namespace. */
function clusterRoleAndBinding(scope: IstioScope, name: string, app: string, rules: Rule[], serviceAccount: string): KubeObject[] {
  const labels = { app, ...partOfIstio(app) };
  return [
    { apiVersion: RBAC, kind: 'ClusterRole', metadata: meta(name, undefined, labels), rules },
    {
      apiVersion: RBAC, kind: 'ClusterRoleBinding', metadata: meta(name, undefined, labels),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: scope.namespace }],
    },
  ];
}

/** istiod's ServiceAccount name (`istiod` / `istiod-<rev>`). */
export function istiodServiceAccountName(scope: IstioScope): string {
  return revisioned(scope, 'istiod');
}

/** istiod's ServiceAccount, roles and bindings for this revision. */
export function computeIstiodRbac(scope: IstioScope): KubeObject[] {
  const sa = istiodServiceAccountName(scope);
  const labels = { app: 'istiod', ...partOfIstio('istiod') };
  const roleName = revisioned(scope, 'istiod');
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(sa, scope.namespace, labels) },
    ...clusterRoleAndBinding(scope, clusterRevisioned(scope, 'istiod-clusterrole'), 'istiod', ISTIOD_CLUSTER_RULES, sa),
    ...clusterRoleAndBinding(scope, clusterRevisioned(scope, 'istiod-gateway-controller'), 'istiod', GATEWAY_CONTROLLER_RULES, sa),
    ...clusterRoleAndBinding(scope, clusterRevisioned(scope, 'istio-reader-clusterrole'), 'istio-reader', READER_RULES, READER_SERVICE_ACCOUNT),
    { apiVersion: RBAC, kind: 'Role', metadata: meta(roleName, scope.namespace, labels), rules: ISTIOD_NAMESPACE_RULES },
    {
      apiVersion: RBAC, kind: 'RoleBinding', metadata: meta(roleName, scope.namespace, labels),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: scope.namespace }],
    },
  ];
}

/** The reader ServiceAccount (shared by every revision). */
export function computeReaderServiceAccount(scope: IstioScope): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(READER_SERVICE_ACCOUNT, scope.namespace, { app: 'istio-reader', ...partOfIstio('istio-reader') }) };
}
