/**
 * The operator's own install objects (`manifests/operator.yaml`): namespace, ServiceAccount,
 * least-privilege RBAC derived from what the shipped distributions can render, and the Deployment.
 * Generated, like the CRD, so the permissions follow the code: a kind a renderer starts producing
 * shows up here, and nothing else does.
 */
import type { MeshDistribution } from '../distributions/distribution.ts';
import type { KubeObject, TypeRef } from '../runtime/kube.ts';

/**
 * Node's flags for the operator process: the Deployment sets them in NODE_OPTIONS, `bin/meshwright.mjs`
 * carries them on its `#!` line, and the tests and benchmarks start the operator with them. Only
 * flags NODE_OPTIONS accepts (a test checks): Node refuses to start on any other, and
 * `meshwright run` sets the rest itself (bin/meshwright.mjs: --optimize-for-size).
 * Why, measured by bench/memory.ts's reading with one mesh installed (bench/README.md):
 * - `--max-semi-space-size=4`: V8 grows its young generation up to 2 × 16 MB for throughput, and
 *   keeps it; the operator's allocations are small and short-lived, so a 4 MB semi-space costs it
 *   nothing measurable and its idle resident memory drops by about 35 MB (148 → 110 MB).
 * - `--v8-pool-size=1`: one V8 worker thread for background compilation and GC instead
 *   of Node's default 4, each with its own stack and malloc arena: about 6 MB less, idle.
 */
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--v8-pool-size=1'];

/** Settings of {@link computeOperatorManifests}. */
export interface OperatorManifestOptions {
  namespace: string;
  image: string;
  distributions: readonly MeshDistribution[];
  name?: string;
}

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The REST resource (plural) of a kind, by the API's English pluralisation rules for the kinds we own. */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

const groupOf = (type: TypeRef) => (type.apiVersion.includes('/') ? type.apiVersion.split('/')[0]! : '');

/** One rule per API group: every owned resource in it, with the verbs apply, prune and watch need. */
function ownedRules(types: readonly TypeRef[]): PolicyRule[] {
  const byGroup = new Map<string, Set<string>>();
  for (const type of types) {
    const group = groupOf(type);
    byGroup.set(group, (byGroup.get(group) ?? new Set()).add(pluralOf(type.kind)));
  }
  return [...byGroup.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([group, resources]) => ({
    apiGroups: [group], resources: [...resources].sort(), verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  }));
}

/** The ClusterRole the operator runs with. */
export function computeOperatorClusterRole(name: string, distributions: readonly MeshDistribution[]): KubeObject {
  const owned = distributions.flatMap((d) => [
    ...d.ownedTypes,
    ...(d.certificateAuthority ? [{ apiVersion: 'v1', kind: 'Secret' }] : []),
    // An injector's webhook configurations are rendered into every installation of its mesh.
    ...(d.injector ? [{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }] : []),
  ]);
  const rules: PolicyRule[] = [
    { apiGroups: ['meshwright.dev'], resources: ['meshinstallations'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
    { apiGroups: ['meshwright.dev'], resources: ['meshinstallations/status'], verbs: ['get', 'patch', 'update'] },
    { apiGroups: ['meshwright.dev'], resources: ['meshinstallations/finalizers'], verbs: ['update'] },
    ...ownedRules(owned),
    // Installing a mesh means granting its control plane permissions the operator itself need not
    // use: escalate and bind let it create those roles without holding every permission in them.
    { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'roles'], verbs: ['bind', 'escalate'] },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    // The data plane: injected pods are watched (status.dataPlane), namespaces enrolled by patching
    // the mesh's label onto them (whichever kinds the meshes render).
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'patch', 'watch'] },
    // The data-plane rollout (operator/rollout/): workloads are watched to group injected pods by
    // owner (a Deployment through its ReplicaSet) and judge their rollouts; outdated ones are
    // restarted by a merge patch of their pod template's annotations, as kubectl rollout restart
    // does. Only where a mesh injects proxies; never delete, and no patch on ReplicaSets.
    ...(distributions.some((d) => d.injector) ? [
      { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'replicasets', 'statefulsets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'statefulsets'], verbs: ['patch'] },
    ] : []),
  ];
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules } as KubeObject;
}

/** Everything needed to run the operator in a cluster (the CRD ships separately in crds/). */
export function computeOperatorManifests(options: OperatorManifestOptions): KubeObject[] {
  const name = options.name ?? 'meshwright-operator';
  const { namespace } = options;
  const labels = { 'app.kubernetes.io/name': 'meshwright-operator', 'app.kubernetes.io/component': 'operator' };
  const subject = { kind: 'ServiceAccount', name, namespace };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } },
    { ...computeOperatorClusterRole(name, options.distributions), metadata: { name, labels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [subject] },
    {
      // Leader election needs leases only in the operator's own namespace.
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${name}-leader-election`, namespace, labels },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] }],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-leader-election`, namespace, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-leader-election` }, subjects: [subject] },
    {
      // The injection webhook's serving CA: one Secret in the operator's own namespace, created
      // once and renewed by update (injection/webhook-ca-keeper.ts); never deleted.
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${name}-webhook-ca`, namespace, labels },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['create', 'get', 'list', 'update', 'watch'] }],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-webhook-ca`, namespace, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-webhook-ca` }, subjects: [subject] },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            // Two replicas on different nodes where possible: a node's loss leaves a standby to take the lease.
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } } }] } },
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'operator', image: options.image,
              args: ['run', '--leader-elect=true', '--metrics-address=:8080', '--webhook-port=9443', `--webhook-service=${namespace}/${name}-webhook:443`],
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'NODE_OPTIONS', value: OPERATOR_NODE_FLAGS.join(' ') }],
              ports: [{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }, { name: 'webhook', containerPort: 9443, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            }],
          },
        },
      },
    },
    // A voluntary disruption (a node drain) never takes both replicas at once.
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace, labels }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: `${name}-metrics`, namespace, labels }, spec: { selector: labels, ports: [{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }] } },
    // The injection webhook, served by every replica (injection/server.ts).
    { apiVersion: 'v1', kind: 'Service', metadata: { name: `${name}-webhook`, namespace, labels }, spec: { selector: labels, ports: [{ name: 'https-webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' }] } },
  ] as KubeObject[];
}
