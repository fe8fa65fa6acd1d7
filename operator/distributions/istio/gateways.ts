/**
 * Ingress and egress gateways from `spec.gateways`: standalone Envoy deployments in the shape of
 * Istio's `istioctl` gateways (the proxy container is rendered in full, so they need no injector),
 * each with a Service, a ServiceAccount, a Role to read TLS Secrets over SDS, and an autoscaler and
 * a disruption budget where they apply. The spec may add the Service's externalTrafficPolicy and
 * pod-level security settings (sysctls, fsGroup, ...), as Istio's gateway chart values allow.
 *
 * Naming: the objects carry the gateway's name; its `istio` label is the name without an `istio-`
 * prefix (so `istio-ingressgateway` is selected by `istio: ingressgateway`, Istio's convention).
 *
 * Canary: the pods of each revision run in a Deployment (and HPA, PDB) named `<name>-<rev>`,
 * while the Service, ServiceAccount and SDS Role are shared: the Service selects the pods of every
 * revision, so traffic shifts as the revisions scale, Istio's documented gateway canary.
 */
import { GATEWAY_PROXY_UID } from '../../api/spec.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { computeMeshConfig } from './mesh-config.ts';
import { spreadAffinity, type Autoscale } from './profiles.ts';
import { istiodAddress, meshConfigMapName, meta, partOfIstio, REV_LABEL, type IstioScope } from './scope.ts';
import { fieldEnv, horizontalPodAutoscaler, podDisruptionBudget, ROLLING_UPDATE, serviceAccountToken } from './workloads.ts';

/** A gateway as the spec declares it. */
export type GatewaySpec = NonNullable<IstioScope['spec']['gateways']>[number];

/** A Service port of a gateway. */
interface GatewayPort {
  name: string;
  port: number;
  targetPort: number;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
}

/** Istio's default ports: health (ingress only), HTTP and HTTPS on unprivileged target ports. */
const DEFAULT_PORTS: Record<GatewaySpec['kind'], GatewayPort[]> = {
  Ingress: [
    { name: 'status-port', port: 15021, targetPort: 15021, protocol: 'TCP' },
    { name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' },
    { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
  ],
  Egress: [
    { name: 'http2', port: 80, targetPort: 8080, protocol: 'TCP' },
    { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
  ],
};

/** Everything about one gateway that its objects share. */
interface GatewayScope {
  spec: GatewaySpec;
  namespace: string;
  /** Deployment, HPA and PDB name (revisioned under Canary). */
  workloadName: string;
  serviceAccount: string;
  /** `app` and `istio` labels: the Service's selector. */
  selector: Record<string, string>;
  /** Labels of the revision-owned objects (Deployment, HPA, PDB). */
  workloadLabels: Record<string, string>;
  /** Labels of the objects shared by revisions under Canary (Service, ServiceAccount, Role). */
  sharedLabels: Record<string, string>;
  /** `ingressgateway` or `egressgateway`, which names the legacy file-mounted certificate volumes. */
  role: string;
  autoscale?: Autoscale;
  replicas: number;
  ports: GatewayPort[];
}

/** Replicas or autoscaling of a gateway: the spec's, else the profile's. */
function gatewayScaling(scope: IstioScope, gw: GatewaySpec): { autoscale?: Autoscale; replicas: number } {
  const profile = scope.profile.gateway;
  if (gw.autoscaling) {
    const { enabled, ...bounds } = gw.autoscaling;
    return enabled ? { autoscale: bounds, replicas: bounds.minReplicas } : { replicas: gw.replicas ?? profile.replicas };
  }
  if (gw.replicas !== undefined) return { replicas: gw.replicas };
  return profile.autoscale ? { autoscale: profile.autoscale, replicas: profile.autoscale.minReplicas } : { replicas: profile.replicas };
}

/** Derives the shared facts of one gateway. */
function gatewayScope(scope: IstioScope, gw: GatewaySpec): GatewayScope {
  const selector = { app: gw.name, istio: gw.name.replace(/^istio-/, '') };
  const revLabel: Record<string, string> = { [REV_LABEL]: scope.revLabel };
  return {
    spec: gw,
    namespace: gw.namespace ?? scope.namespace,
    workloadName: scope.revision ? `${gw.name}-${scope.revision}` : gw.name,
    serviceAccount: `${gw.name}-service-account`,
    selector,
    workloadLabels: { ...selector, ...partOfIstio(gw.name), ...revLabel },
    sharedLabels: { ...selector, ...partOfIstio(gw.name), ...(scope.revision ? {} : revLabel) },
    role: gw.kind === 'Ingress' ? 'ingressgateway' : 'egressgateway',
    ...gatewayScaling(scope, gw),
    ports: gw.service?.ports?.map((p) => ({ ...p, targetPort: p.targetPort ?? p.port })) ?? DEFAULT_PORTS[gw.kind],
  };
}

/** Environment of the gateway proxy (pilot-agent). */
function proxyEnv(scope: IstioScope, g: GatewayScope): Array<Record<string, unknown>> {
  const trustDomain = scope.spec.meshConfig.trustDomain;
  const literal = (name: string, value: string) => ({ name, value });
  return [
    literal('PILOT_CERT_PROVIDER', 'istiod'),
    literal('CA_ADDR', istiodAddress(scope)),
    fieldEnv('NODE_NAME', 'spec.nodeName', true),
    fieldEnv('POD_NAME', 'metadata.name', true),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace', true),
    fieldEnv('INSTANCE_IP', 'status.podIP', true),
    fieldEnv('HOST_IP', 'status.hostIP', true),
    { name: 'ISTIO_CPU_LIMIT', valueFrom: { resourceFieldRef: { divisor: '1', resource: 'limits.cpu' } } },
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName', false),
    literal('ISTIO_META_WORKLOAD_NAME', g.workloadName),
    literal('ISTIO_META_OWNER', `kubernetes://apis/apps/v1/namespaces/${g.namespace}/deployments/${g.workloadName}`),
    literal('ISTIO_META_MESH_ID', trustDomain),
    literal('TRUST_DOMAIN', trustDomain),
    literal('ISTIO_META_UNPRIVILEGED_POD', 'true'),
    literal('ISTIO_META_CLUSTER_ID', 'Kubernetes'),
    fieldEnv('ISTIO_META_NODE_NAME', 'spec.nodeName', false),
    // Outside the control-plane namespace the mesh-config ConfigMap is not there to mount: tell
    // the agent where istiod is directly.
    ...(g.namespace === scope.namespace ? [] : [literal('PROXY_CONFIG', JSON.stringify(computeMeshConfig(scope).defaultConfig))]),
  ];
}

/** The istio-proxy container running Envoy as a router. */
function proxyContainer(scope: IstioScope, g: GatewayScope): Record<string, unknown> {
  const containerPorts = [...new Map(g.ports.map((p) => [`${p.targetPort}/${p.protocol}`, { containerPort: p.targetPort, protocol: p.protocol }])).values()];
  const mount = (name: string, mountPath: string, readOnly = false) => ({ mountPath, name, ...(readOnly ? { readOnly } : {}) });
  return {
    args: [
      'proxy', 'router', '--domain', `$(POD_NAMESPACE).svc.${scope.clusterDomain}`,
      `--proxyLogLevel=${scope.spec.meshConfig.proxy?.logLevel ?? 'warning'}`, '--proxyComponentLogLevel=misc:error', '--log_output_level=default:info',
    ],
    env: proxyEnv(scope, g),
    image: scope.resolved.images.proxyv2,
    name: 'istio-proxy',
    ports: [...containerPorts, { containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
    readinessProbe: {
      failureThreshold: 30, httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' },
      initialDelaySeconds: 1, periodSeconds: 2, successThreshold: 1, timeoutSeconds: 1,
    },
    resources: g.spec.resources ?? scope.profile.gateway.resources,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, readOnlyRootFilesystem: true },
    volumeMounts: [
      mount('workload-socket', '/var/run/secrets/workload-spiffe-uds'),
      mount('credential-socket', '/var/run/secrets/credential-uds'),
      mount('workload-certs', '/var/run/secrets/workload-spiffe-credentials'),
      mount('istio-envoy', '/etc/istio/proxy'),
      mount('config-volume', '/etc/istio/config'),
      mount('istiod-ca-cert', '/var/run/secrets/istio'),
      mount('istio-token', '/var/run/secrets/tokens', true),
      mount('istio-data', '/var/lib/istio/data'),
      mount('podinfo', '/etc/istio/pod'),
      mount(`${g.role}-certs`, `/etc/istio/${g.role}-certs`, true),
      mount(`${g.role}-ca-certs`, `/etc/istio/${g.role}-ca-certs`, true),
    ],
  };
}

/** Volumes of a gateway pod. */
function gatewayVolumes(scope: IstioScope, g: GatewayScope): Array<Record<string, unknown>> {
  const emptyDir = (name: string) => ({ emptyDir: {}, name });
  const optionalSecret = (name: string) => ({ name, secret: { optional: true, secretName: `istio-${name}` } });
  return [
    emptyDir('workload-socket'),
    emptyDir('credential-socket'),
    emptyDir('workload-certs'),
    { configMap: { name: 'istio-ca-root-cert' }, name: 'istiod-ca-cert' },
    {
      downwardAPI: { items: [{ fieldRef: { fieldPath: 'metadata.labels' }, path: 'labels' }, { fieldRef: { fieldPath: 'metadata.annotations' }, path: 'annotations' }] },
      name: 'podinfo',
    },
    emptyDir('istio-envoy'),
    emptyDir('istio-data'),
    serviceAccountToken(),
    { configMap: { name: meshConfigMapName(scope), optional: true }, name: 'config-volume' },
    optionalSecret(`${g.role}-certs`),
    optionalSecret(`${g.role}-ca-certs`),
  ];
}

/** The gateway Deployment; no `spec.replicas` when an HPA owns them. */
function computeGatewayDeployment(scope: IstioScope, g: GatewayScope): KubeObject {
  // Under Canary each revision's Deployment selects only its own pods.
  const podSelector = scope.revision ? { ...g.selector, [REV_LABEL]: scope.revision } : g.selector;
  const podLabels = {
    ...g.workloadLabels, 'istio.io/dataplane-mode': 'none',
    'service.istio.io/canonical-name': g.spec.name, 'service.istio.io/canonical-revision': scope.revision ?? 'latest',
    'sidecar.istio.io/inject': 'false',
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(g.workloadName, g.namespace, { ...g.workloadLabels, 'istio.io/dataplane-mode': 'none' }),
    spec: {
      ...(g.autoscale ? {} : { replicas: g.replicas }),
      selector: { matchLabels: podSelector },
      strategy: ROLLING_UPDATE,
      template: {
        metadata: {
          annotations: {
            [REV_LABEL]: scope.revLabel,
            'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': '15020', 'prometheus.io/scrape': 'true',
            'sidecar.istio.io/inject': 'false',
          },
          labels: podLabels,
        },
        spec: {
          ...(scope.profile.gateway.spread ? { affinity: spreadAffinity(podSelector) } : {}),
          containers: [proxyContainer(scope, g)],
          // The spec's pod security context (sysctls, fsGroup, ...) is merged over the proxy user's.
          securityContext: { runAsGroup: GATEWAY_PROXY_UID, runAsNonRoot: true, runAsUser: GATEWAY_PROXY_UID, ...g.spec.securityContext },
          serviceAccountName: g.serviceAccount,
          volumes: gatewayVolumes(scope, g),
        },
      },
    },
  };
}

/** The gateway Service (shared by revisions). */
function computeGatewayService(g: GatewayScope): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(g.spec.name, g.namespace, g.sharedLabels, g.spec.service?.annotations),
    spec: {
      ports: g.ports.map(({ name, port, protocol, targetPort, nodePort }) => ({ name, ...(nodePort ? { nodePort } : {}), port, protocol, targetPort })),
      selector: g.selector,
      type: g.spec.service?.type ?? (g.spec.kind === 'Ingress' ? 'LoadBalancer' : 'ClusterIP'),
      ...(g.spec.service?.externalTrafficPolicy ? { externalTrafficPolicy: g.spec.service.externalTrafficPolicy } : {}),
    },
  };
}

/** ServiceAccount and the Role/RoleBinding that let the gateway read TLS Secrets of its namespace (SDS). */
function computeGatewayIdentity(g: GatewayScope): KubeObject[] {
  const roleName = `${g.spec.name}-sds`;
  const { app: _app, istio: _istio, ...roleLabels } = g.sharedLabels;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(g.serviceAccount, g.namespace, g.sharedLabels) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(roleName, g.namespace, roleLabels),
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'watch', 'list'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(roleName, g.namespace, roleLabels),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: g.serviceAccount }],
    },
  ];
}

/** The disruption budget of a gateway: the spec's, else the profile's for replicated gateways. */
function gatewayBudget(scope: IstioScope, g: GatewayScope): { minAvailable?: number | string; maxUnavailable?: number | string } | undefined {
  if (g.spec.podDisruptionBudget) return g.spec.podDisruptionBudget;
  const minimum = g.autoscale?.minReplicas ?? g.replicas;
  return scope.profile.gatewayDisruptionBudget && minimum > 1 ? { minAvailable: 1 } : undefined;
}

/** All objects of one gateway. */
function computeGateway(scope: IstioScope, gw: GatewaySpec): KubeObject[] {
  const g = gatewayScope(scope, gw);
  const objects = [...computeGatewayIdentity(g), computeGatewayService(g), computeGatewayDeployment(scope, g)];
  if (g.autoscale) objects.push(horizontalPodAutoscaler(g.workloadName, g.namespace, g.workloadLabels, g.autoscale));
  const budget = gatewayBudget(scope, g);
  if (budget) objects.push(podDisruptionBudget(g.workloadName, g.namespace, g.workloadLabels, scope.revision ? { ...g.selector, [REV_LABEL]: scope.revision } : g.selector, budget));
  return objects;
}

/** Namespaces the gateways run in. */
export function gatewayNamespaces(scope: IstioScope): string[] {
  return (scope.spec.gateways ?? []).map((gw) => gw.namespace ?? scope.namespace);
}

/** Every gateway's objects. */
export function computeGateways(scope: IstioScope): KubeObject[] {
  return (scope.spec.gateways ?? []).flatMap((gw) => computeGateway(scope, gw));
}

