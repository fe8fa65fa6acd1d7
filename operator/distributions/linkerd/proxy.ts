/**
 * The Linkerd proxy and proxy-init containers of the control-plane pods, and the volumes they use.
 * Linkerd meshes its own control plane: every control-plane pod carries a proxy configured like
 * an injected workload's, plus a few settings only the control plane has (local discovery
 * addresses, TLS required on the identity port).
 */
import { CLUSTER_DOMAIN, CLUSTER_NETWORKS, DEFAULT_OPAQUE_PORTS, identityName, serviceFqdn, type LinkerdScope } from './scope.ts';
import { KUBE_API_SERVER_PORTS, NOBODY, PROXY_INIT_IGNORED_PORTS, PROXY_PORTS, PROXY_UID, TRUST_ROOTS } from './config.ts';
import type { Resources } from '../resources.ts';
import { adminProbe } from './workload.ts';

/** A container env var. */
type EnvVar = { name: string; value: string } | { name: string; valueFrom: Record<string, unknown> };

/** Name of the proxy container (Linkerd's `proxyContainerName`). */
export const PROXY_CONTAINER = 'linkerd-proxy';

/** Where the proxy keeps its workload certificate, and the token it presents to identity. */
const END_ENTITY_DIR = '/var/run/linkerd/identity/end-entity';
const TOKEN_DIR = '/var/run/secrets/tokens';
const TOKEN_FILE = 'linkerd-identity-token';

/** The parts of a control-plane proxy that differ by pod. */
export interface ControlPlaneProxy {
  /** Ports the pod's own containers listen on (LINKERD2_PROXY_INBOUND_PORTS). */
  inboundPorts: number[];
  /** Ports on which inbound connections must be mTLS (the identity service). */
  requireTlsPorts?: number[];
  destinationAddress: string;
  policyAddress: string;
  identityAddress: string;
  /**
   * Run as a native sidecar (an init container that keeps running): it must be ready before the
   * pod's containers start. Not for identity, whose proxy needs identity running to get a certificate.
   */
  nativeSidecar: boolean;
}

const fieldRef = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const env = (name: string, value: string | number): EnvVar => ({ name, value: String(value) });

/** Whole cores of a CPU quantity, rounded up (`1500m` is 2). */
function wholeCores(quantity: string): number {
  const millis = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
  return Math.max(1, Math.ceil(millis / 1000));
}

/** The runtime worker settings: one worker minimum, at most as many as the CPU limit allows. */
function coresEnv(resources: Resources | undefined): EnvVar[] {
  const limit = resources?.limits?.cpu;
  return [env('LINKERD2_PROXY_CORES', 1), env('LINKERD2_PROXY_CORES_MIN', 1), ...(limit ? [env('LINKERD2_PROXY_CORES_MAX', wholeCores(limit))] : [])];
}

/** Tracing and access-log variables, when the mesh config asks for them. */
function telemetryEnv(scope: LinkerdScope): EnvVar[] {
  const { accessLog, tracingCollector } = scope.proxy;
  return [
    ...(accessLog ? [env('LINKERD2_PROXY_ACCESS_LOG', accessLog)] : []),
    // No collector identity in the spec: spans go to the collector without requiring its mesh identity.
    ...(tracingCollector ? [
      env('LINKERD2_PROXY_TRACE_COLLECTOR_SVC_ADDR', tracingCollector),
      env('LINKERD2_PROXY_TRACE_PROTOCOL', 'opentelemetry'),
      env('LINKERD2_PROXY_TRACE_SERVICE_NAME', 'linkerd-proxy'),
      env('LINKERD2_PROXY_TRACE_EXTRA_ATTRIBUTES', 'k8s.container.name=$(_pod_containerName)\nk8s.pod.ip=$(_pod_ip)\nk8s.pod.uid=$(_pod_uid)'),
    ] : []),
  ];
}

function proxyEnv(scope: LinkerdScope, pod: ControlPlaneProxy): EnvVar[] {
  const destinationIdentity = identityName(scope, 'linkerd-destination', scope.namespace);
  return [
    fieldRef('_pod_name', 'metadata.name'),
    fieldRef('_pod_ns', 'metadata.namespace'),
    fieldRef('_pod_uid', 'metadata.uid'),
    fieldRef('_pod_ip', 'status.podIP'),
    fieldRef('_pod_nodeName', 'spec.nodeName'),
    env('_pod_containerName', PROXY_CONTAINER),
    ...coresEnv(scope.proxy.resources),
    ...(pod.requireTlsPorts ? [env('LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_TLS', pod.requireTlsPorts.join(','))] : []),
    env('LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED', 'false'),
    // HTTP headers and request bodies stay out of proxy logs (Linkerd's logHTTPHeaders: off).
    env('LINKERD2_PROXY_LOG', `${scope.proxy.logLevel},[{headers}]=off,[{request}]=off`),
    env('LINKERD2_PROXY_LOG_FORMAT', 'plain'),
    env('LINKERD2_PROXY_DESTINATION_SVC_ADDR', pod.destinationAddress),
    env('LINKERD2_PROXY_DESTINATION_PROFILE_NETWORKS', CLUSTER_NETWORKS),
    env('LINKERD2_PROXY_POLICY_SVC_ADDR', pod.policyAddress),
    env('LINKERD2_PROXY_POLICY_WORKLOAD', '{"ns":"$(_pod_ns)", "pod":"$(_pod_name)"}\n'),
    // The control plane must accept unauthenticated clients: proxies without a certificate yet
    // (identity), the API server calling the webhooks, kubelet probes. The mesh-wide default
    // (spec.meshConfig.mtls) is the policy controller's, for everyone else.
    env('LINKERD2_PROXY_INBOUND_DEFAULT_POLICY', 'all-unauthenticated'),
    env('LINKERD2_PROXY_POLICY_CLUSTER_NETWORKS', CLUSTER_NETWORKS),
    env('LINKERD2_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT', '3s'),
    env('LINKERD2_PROXY_CONTROL_STREAM_IDLE_TIMEOUT', '5m'),
    env('LINKERD2_PROXY_CONTROL_STREAM_LIFETIME', '1h'),
    env('LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT', '100ms'),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT', '1000ms'),
    env('LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT', '5s'),
    env('LINKERD2_PROXY_INBOUND_DISCOVERY_IDLE_TIMEOUT', '90s'),
    env('LINKERD2_PROXY_CONTROL_LISTEN_ADDR', `0.0.0.0:${PROXY_PORTS.control}`),
    env('LINKERD2_PROXY_ADMIN_LISTEN_ADDR', `0.0.0.0:${PROXY_PORTS.admin}`),
    env('LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR', `127.0.0.1:${PROXY_PORTS.outbound}`),
    env('LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS', `127.0.0.1:${PROXY_PORTS.outbound}`),
    env('LINKERD2_PROXY_INBOUND_LISTEN_ADDR', `0.0.0.0:${PROXY_PORTS.inbound}`),
    fieldRef('LINKERD2_PROXY_INBOUND_IPS', 'status.podIPs'),
    env('LINKERD2_PROXY_INBOUND_PORTS', [...pod.inboundPorts].sort((a, b) => a - b).join(',')),
    env('LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES', `svc.${CLUSTER_DOMAIN}.`),
    env('LINKERD2_PROXY_INBOUND_ACCEPT_KEEPALIVE', '10000ms'),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_KEEPALIVE', '10000ms'),
    env('LINKERD2_PROXY_INBOUND_ACCEPT_USER_TIMEOUT', '30s'),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_USER_TIMEOUT', '30s'),
    env('LINKERD2_PROXY_OUTBOUND_METRICS_HOSTNAME_LABELS', 'false'),
    env('LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL', '10s'),
    env('LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT', '3s'),
    env('LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL', '10s'),
    env('LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT', '3s'),
    env('LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', DEFAULT_OPAQUE_PORTS),
    env('LINKERD2_PROXY_DESTINATION_CONTEXT', '{"ns":"$(_pod_ns)", "nodeName":"$(_pod_nodeName)", "pod":"$(_pod_name)"}\n'),
    fieldRef('_pod_sa', 'spec.serviceAccountName'),
    env('_l5d_ns', scope.namespace),
    env('_l5d_trustdomain', scope.trustDomain),
    env('LINKERD2_PROXY_IDENTITY_DIR', END_ENTITY_DIR),
    // Control-plane proxies read the bundle from the ConfigMap, so a new bundle reaches them on restart.
    { name: 'LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS', valueFrom: { configMapKeyRef: { name: TRUST_ROOTS.name, key: TRUST_ROOTS.key } } },
    env('LINKERD2_PROXY_IDENTITY_TOKEN_FILE', `${TOKEN_DIR}/${TOKEN_FILE}`),
    env('LINKERD2_PROXY_IDENTITY_SVC_ADDR', pod.identityAddress),
    env('LINKERD2_PROXY_IDENTITY_LOCAL_NAME', `$(_pod_sa).$(_pod_ns).serviceaccount.identity.${scope.namespace}.${scope.trustDomain}`),
    env('LINKERD2_PROXY_IDENTITY_SVC_NAME', identityName(scope, 'linkerd-identity', scope.namespace)),
    env('LINKERD2_PROXY_DESTINATION_SVC_NAME', destinationIdentity),
    env('LINKERD2_PROXY_POLICY_SVC_NAME', destinationIdentity),
    ...telemetryEnv(scope),
  ];
}

const proxyProbe = (path: string, extra: Record<string, number>) => adminProbe(path, PROXY_PORTS.admin, extra);

/** The proxy container of a control-plane pod. */
export function proxyContainer(scope: LinkerdScope, pod: ControlPlaneProxy): Record<string, unknown> {
  const resources = scope.proxy.resources;
  return {
    env: proxyEnv(scope, pod),
    image: scope.images.proxy,
    imagePullPolicy: 'IfNotPresent',
    livenessProbe: proxyProbe('/live', { initialDelaySeconds: 10, timeoutSeconds: 1 }),
    name: PROXY_CONTAINER,
    ports: [{ containerPort: PROXY_PORTS.inbound, name: 'linkerd-proxy' }, { containerPort: PROXY_PORTS.admin, name: 'linkerd-admin' }],
    readinessProbe: proxyProbe('/ready', { initialDelaySeconds: 2, timeoutSeconds: 1 }),
    // A native sidecar holds back the pod's containers until it is ready, within two minutes.
    ...(pod.nativeSidecar ? { startupProbe: proxyProbe('/ready', { initialDelaySeconds: 0, periodSeconds: 1, failureThreshold: 120 }) } : {}),
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true,
      runAsNonRoot: true, runAsUser: PROXY_UID, seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [{ mountPath: END_ENTITY_DIR, name: 'linkerd-identity-end-entity' }, { mountPath: TOKEN_DIR, name: TOKEN_FILE }],
    ...(pod.nativeSidecar ? { restartPolicy: 'Always' } : {}),
  };
}

/**
 * proxy-init: redirects the pod's traffic through the proxy with iptables (nft), leaving the
 * proxy's own control and admin ports, and the API server ports the controllers need before the
 * proxy runs, outside the redirect.
 */
export function proxyInitContainer(scope: LinkerdScope): Record<string, unknown> {
  const resources = scope.proxy.resources;
  return {
    args: [
      '--firewall-bin-path', 'iptables-nft',
      '--firewall-save-bin-path', 'iptables-nft-save',
      '--ipv6=false',
      '--incoming-proxy-port', String(PROXY_PORTS.inbound),
      '--outgoing-proxy-port', String(PROXY_PORTS.outbound),
      '--proxy-uid', String(PROXY_UID),
      '--inbound-ports-to-ignore', `${PROXY_PORTS.control},${PROXY_PORTS.admin},${PROXY_INIT_IGNORED_PORTS}`,
      '--outbound-ports-to-ignore', KUBE_API_SERVER_PORTS,
    ],
    image: scope.images.proxy,
    command: ['/usr/lib/linkerd/linkerd2-proxy-init'],
    imagePullPolicy: 'IfNotPresent',
    name: 'linkerd-init',
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] }, privileged: false,
      runAsNonRoot: true, runAsUser: NOBODY, runAsGroup: NOBODY, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [{ mountPath: '/run', name: 'linkerd-proxy-init-xtables-lock' }],
  };
}

/** Volumes of the proxy and proxy-init: the xtables lock, the identity token, the certificate directory. */
export function proxyVolumes(): Array<Record<string, unknown>> {
  return [
    { emptyDir: {}, name: 'linkerd-proxy-init-xtables-lock' },
    // A token with identity's audience, so it is useless against the API server.
    { name: TOKEN_FILE, projected: { sources: [{ serviceAccountToken: { path: TOKEN_FILE, expirationSeconds: 86400, audience: 'identity.l5d.io' } }] } },
    { emptyDir: { medium: 'Memory' }, name: 'linkerd-identity-end-entity' },
  ];
}

/** Address of a control-plane service as a proxy dials it (`name.ns.svc.cluster.local.:port`). */
export function serviceAddress(scope: LinkerdScope, service: string, port: number): string {
  return `${serviceFqdn(scope, service)}:${port}`;
}
