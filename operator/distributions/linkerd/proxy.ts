/**
 * The Linkerd proxy and proxy-init containers, and the volumes they use: one builder for both the
 * control-plane pods and injected workloads. Linkerd meshes its own control plane: every
 * control-plane pod carries a proxy configured like an injected workload's, plus a few settings only
 * the control plane has (local discovery addresses, TLS required on the identity port, the trust
 * bundle read from its ConfigMap, the API server ports outside the redirect).
 *
 * {@link ProxyValues} and {@link ProxyInitValues} are Linkerd's `proxy` and `proxyInit` values as
 * one pod gets them: {@link controlPlaneProxyValues} derives them for a control-plane pod, the
 * injector (`injection/values.ts`) from the installation and the pod's `config.linkerd.io/*`
 * annotations.
 */
import { CLUSTER_DOMAIN, CLUSTER_NETWORKS, DEFAULT_OPAQUE_PORTS, identityName, serviceFqdn, type LinkerdScope } from './scope.ts';
import { KUBE_API_SERVER_PORTS, NOBODY, PROXY_INIT_IGNORED_PORTS, PROXY_PORTS, PROXY_UID, TRUST_ROOTS } from './config.ts';
import type { Resources } from '../resources.ts';
import { adminProbe } from './workload.ts';

/** A container env var. */
export type EnvVar = { name: string; value?: string } | { name: string; valueFrom: Record<string, unknown> };

/** Name of the proxy container (Linkerd's `proxyContainerName`). */
export const PROXY_CONTAINER = 'linkerd-proxy';
/** Name of the proxy-init container. */
export const PROXY_INIT_CONTAINER = 'linkerd-init';

/** Where the proxy keeps its workload certificate, and the token it presents to identity. */
const END_ENTITY_DIR = '/var/run/linkerd/identity/end-entity';
const TOKEN_DIR = '/var/run/secrets/tokens';
const TOKEN_FILE = 'linkerd-identity-token';
/** Volume names of the proxy and proxy-init (Linkerd's; the injector checks a pod does not already use them). */
export const PROXY_VOLUMES = { xtablesLock: 'linkerd-proxy-init-xtables-lock', endEntity: 'linkerd-identity-end-entity', token: TOKEN_FILE } as const;

/** The proxy's listening ports. */
export interface ProxyPorts {
  admin: number;
  control: number;
  inbound: number;
  outbound: number;
}

/** Linkerd's `proxy` values as one pod's proxy gets them. */
export interface ProxyValues {
  image: string;
  imagePullPolicy: string;
  ports: ProxyPorts;
  uid: number;
  /** Group to run as; unset: the image's. */
  gid?: number;
  /** Log filter in Linkerd's syntax. */
  logLevel: string;
  logFormat: string;
  /** `insecure` lets the proxy log HTTP headers and request bodies. */
  logHttpHeaders: 'off' | 'insecure';
  /** Runtime workers: `LINKERD2_PROXY_CORES{,_MIN,_MAX,_MAX_RATIO}`. */
  workers: { minimum: number; maximum?: number; maximumCpuRatio?: number };
  resources?: Resources;
  enableShutdownEndpoint: boolean;
  requireIdentityOnInboundPorts?: string;
  requireTlsOnInboundPorts?: string;
  /** Control-plane addresses as the proxy dials them. */
  destinationAddress: string;
  policyAddress: string;
  identityAddress: string;
  defaultInboundPolicy: string;
  inboundConnectTimeout: string;
  outboundConnectTimeout: string;
  outboundDiscoveryIdleTimeout: string;
  inboundDiscoveryIdleTimeout: string;
  disableOutboundProtocolDetectTimeout: boolean;
  disableInboundProtocolDetectTimeout: boolean;
  /** The pod's own ports, already formatted (`LINKERD2_PROXY_INBOUND_PORTS`). */
  podInboundPorts: string;
  isGateway: boolean;
  isIngress: boolean;
  enableExternalProfiles: boolean;
  metricsHostnameLabels: boolean;
  opaquePorts: string;
  /** The trust bundle: inline PEM (injected pods), or the ConfigMap the control plane's proxies read. */
  trustAnchors: { pem: string } | 'configMap';
  /** Linkerd access log format; unset: none. */
  accessLog?: string;
  /** OpenTelemetry collector `host:port`; unset: no tracing. */
  tracingCollector?: string;
  shutdownGracePeriod?: string;
  additionalEnv: EnvVar[];
  /** Run as a native sidecar (an init container that keeps running). */
  nativeSidecar: boolean;
  /** Hold the pod's containers back until the proxy is ready. */
  await: boolean;
  waitBeforeExitSeconds: number;
  capabilities?: { add?: string[]; drop?: string[] };
  /** The application's service-account token mount, repeated in the proxy (Linkerd's `saMountPath`). */
  serviceAccountMount?: { mountPath: string; name: string; readOnly?: boolean };
}

/** Linkerd's `proxyInit` values as one pod's proxy-init gets them. */
export interface ProxyInitValues {
  /** proxy-init's own image (releases that ship it apart, 2.19); absent: the proxy image's binary runs. */
  image?: string;
  ignoreInboundPorts: string;
  ignoreOutboundPorts: string;
  skipSubnets?: string;
  capabilities?: { add?: string[]; drop?: string[] };
  serviceAccountMount?: { mountPath: string; name: string; readOnly?: boolean };
}

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
  /** Hold the pod's containers back until the proxy is ready; default: as {@link nativeSidecar}. */
  await?: boolean;
}

const fieldRef = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const env = (name: string, value: string | number): EnvVar => ({ name, value: String(value) });
/** An env var whose empty value is left out, as the API server serializes it. */
const envMaybeEmpty = (name: string, value: string): EnvVar => (value ? { name, value } : { name });

/** Whole cores of a CPU quantity, rounded up (`1500m` is 2). */
export function wholeCores(quantity: string): number {
  const millis = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
  return Math.max(1, Math.ceil(millis / 1000));
}

/** The runtime worker settings. */
function coresEnv({ workers }: ProxyValues): EnvVar[] {
  return [
    env('LINKERD2_PROXY_CORES', workers.minimum),
    env('LINKERD2_PROXY_CORES_MIN', workers.minimum),
    ...(workers.maximum ? [env('LINKERD2_PROXY_CORES_MAX', workers.maximum)] : []),
    ...(workers.maximumCpuRatio ? [env('LINKERD2_PROXY_CORES_MAX_RATIO', workers.maximumCpuRatio)] : []),
  ];
}

/** Access-log, tracing and shutdown variables, and any additional ones. */
function trailingEnv(values: ProxyValues): EnvVar[] {
  const { accessLog, tracingCollector } = values;
  return [
    ...(accessLog ? [env('LINKERD2_PROXY_ACCESS_LOG', accessLog)] : []),
    // No collector identity in the spec: spans go to the collector without requiring its mesh identity.
    ...(tracingCollector ? [
      env('LINKERD2_PROXY_TRACE_COLLECTOR_SVC_ADDR', tracingCollector),
      env('LINKERD2_PROXY_TRACE_PROTOCOL', 'opentelemetry'),
      env('LINKERD2_PROXY_TRACE_SERVICE_NAME', 'linkerd-proxy'),
      env('LINKERD2_PROXY_TRACE_EXTRA_ATTRIBUTES', 'k8s.container.name=$(_pod_containerName)\nk8s.pod.ip=$(_pod_ip)\nk8s.pod.uid=$(_pod_uid)'),
    ] : []),
    ...(values.shutdownGracePeriod ? [env('LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD', values.shutdownGracePeriod)] : []),
    ...values.additionalEnv,
  ];
}

function proxyEnv(scope: LinkerdScope, values: ProxyValues): EnvVar[] {
  const destinationIdentity = identityName(scope, 'linkerd-destination', scope.namespace);
  const { ports } = values;
  return [
    fieldRef('_pod_name', 'metadata.name'),
    fieldRef('_pod_ns', 'metadata.namespace'),
    fieldRef('_pod_uid', 'metadata.uid'),
    fieldRef('_pod_ip', 'status.podIP'),
    fieldRef('_pod_nodeName', 'spec.nodeName'),
    env('_pod_containerName', PROXY_CONTAINER),
    ...coresEnv(values),
    ...(values.requireIdentityOnInboundPorts ? [env('LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY', values.requireIdentityOnInboundPorts)] : []),
    ...(values.requireTlsOnInboundPorts ? [env('LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_TLS', values.requireTlsOnInboundPorts)] : []),
    env('LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED', String(values.enableShutdownEndpoint)),
    // HTTP headers and request bodies stay out of proxy logs unless asked for (Linkerd's logHTTPHeaders).
    env('LINKERD2_PROXY_LOG', values.logHttpHeaders === 'insecure' ? values.logLevel : `${values.logLevel},[{headers}]=off,[{request}]=off`),
    env('LINKERD2_PROXY_LOG_FORMAT', values.logFormat),
    env('LINKERD2_PROXY_DESTINATION_SVC_ADDR', values.destinationAddress),
    env('LINKERD2_PROXY_DESTINATION_PROFILE_NETWORKS', CLUSTER_NETWORKS),
    env('LINKERD2_PROXY_POLICY_SVC_ADDR', values.policyAddress),
    env('LINKERD2_PROXY_POLICY_WORKLOAD', '{"ns":"$(_pod_ns)", "pod":"$(_pod_name)"}\n'),
    env('LINKERD2_PROXY_INBOUND_DEFAULT_POLICY', values.defaultInboundPolicy),
    env('LINKERD2_PROXY_POLICY_CLUSTER_NETWORKS', CLUSTER_NETWORKS),
    env('LINKERD2_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT', '3s'),
    env('LINKERD2_PROXY_CONTROL_STREAM_IDLE_TIMEOUT', '5m'),
    env('LINKERD2_PROXY_CONTROL_STREAM_LIFETIME', '1h'),
    env('LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT', values.inboundConnectTimeout),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT', values.outboundConnectTimeout),
    env('LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT', values.outboundDiscoveryIdleTimeout),
    env('LINKERD2_PROXY_INBOUND_DISCOVERY_IDLE_TIMEOUT', values.inboundDiscoveryIdleTimeout),
    // "Disabled" detection timeouts are a year, as Linkerd writes them.
    ...(values.disableOutboundProtocolDetectTimeout ? [env('LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT', '365d')] : []),
    ...(values.disableInboundProtocolDetectTimeout ? [env('LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT', '365d')] : []),
    env('LINKERD2_PROXY_CONTROL_LISTEN_ADDR', `0.0.0.0:${ports.control}`),
    env('LINKERD2_PROXY_ADMIN_LISTEN_ADDR', `0.0.0.0:${ports.admin}`),
    env('LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR', `127.0.0.1:${ports.outbound}`),
    env('LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS', `127.0.0.1:${ports.outbound}`),
    env('LINKERD2_PROXY_INBOUND_LISTEN_ADDR', `0.0.0.0:${ports.inbound}`),
    fieldRef('LINKERD2_PROXY_INBOUND_IPS', 'status.podIPs'),
    envMaybeEmpty('LINKERD2_PROXY_INBOUND_PORTS', values.podInboundPorts),
    ...(values.isGateway ? [env('LINKERD2_PROXY_INBOUND_GATEWAY_SUFFIXES', `svc.${CLUSTER_DOMAIN}.`)] : []),
    ...(values.isIngress ? [env('LINKERD2_PROXY_INGRESS_MODE', 'true')] : []),
    env('LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES', values.enableExternalProfiles ? '.' : `svc.${CLUSTER_DOMAIN}.`),
    env('LINKERD2_PROXY_INBOUND_ACCEPT_KEEPALIVE', '10000ms'),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_KEEPALIVE', '10000ms'),
    env('LINKERD2_PROXY_INBOUND_ACCEPT_USER_TIMEOUT', '30s'),
    env('LINKERD2_PROXY_OUTBOUND_CONNECT_USER_TIMEOUT', '30s'),
    env('LINKERD2_PROXY_OUTBOUND_METRICS_HOSTNAME_LABELS', String(values.metricsHostnameLabels)),
    env('LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL', '10s'),
    env('LINKERD2_PROXY_INBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT', '3s'),
    env('LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_INTERVAL', '10s'),
    env('LINKERD2_PROXY_OUTBOUND_SERVER_HTTP2_KEEP_ALIVE_TIMEOUT', '3s'),
    ...(values.opaquePorts ? [env('LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', values.opaquePorts)] : []),
    env('LINKERD2_PROXY_DESTINATION_CONTEXT', '{"ns":"$(_pod_ns)", "nodeName":"$(_pod_nodeName)", "pod":"$(_pod_name)"}\n'),
    fieldRef('_pod_sa', 'spec.serviceAccountName'),
    env('_l5d_ns', scope.namespace),
    env('_l5d_trustdomain', scope.trustDomain),
    env('LINKERD2_PROXY_IDENTITY_DIR', END_ENTITY_DIR),
    // Control-plane proxies read the bundle from the ConfigMap, so a new bundle reaches them on
    // restart; an injected proxy gets it inline (trimmed, one final newline, as Linkerd writes it).
    values.trustAnchors === 'configMap'
      ? { name: 'LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS', valueFrom: { configMapKeyRef: { name: TRUST_ROOTS.name, key: TRUST_ROOTS.key } } }
      : env('LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS', `${values.trustAnchors.pem.trim()}\n`),
    env('LINKERD2_PROXY_IDENTITY_TOKEN_FILE', `${TOKEN_DIR}/${TOKEN_FILE}`),
    env('LINKERD2_PROXY_IDENTITY_SVC_ADDR', values.identityAddress),
    env('LINKERD2_PROXY_IDENTITY_LOCAL_NAME', `$(_pod_sa).$(_pod_ns).serviceaccount.identity.${scope.namespace}.${scope.trustDomain}`),
    env('LINKERD2_PROXY_IDENTITY_SVC_NAME', identityName(scope, 'linkerd-identity', scope.namespace)),
    env('LINKERD2_PROXY_DESTINATION_SVC_NAME', destinationIdentity),
    env('LINKERD2_PROXY_POLICY_SVC_NAME', destinationIdentity),
    ...trailingEnv(values),
  ];
}

/** The `linkerd-proxy` container for `values` (a control-plane pod's or an injected workload's). */
export function linkerdProxyContainer(scope: LinkerdScope, values: ProxyValues): Record<string, unknown> {
  const { resources, ports } = values;
  const probe = (path: string, extra: Record<string, number>) => adminProbe(path, ports.admin, extra);
  const capabilities = values.capabilities && (values.capabilities.add?.length || values.capabilities.drop?.length)
    ? { capabilities: { ...(values.capabilities.add?.length ? { add: values.capabilities.add } : {}), ...(values.capabilities.drop?.length ? { drop: values.capabilities.drop } : {}) } }
    : {};
  // A classic sidecar cannot hold the pod's containers back by itself: linkerd-await does, as a
  // postStart hook; a native sidecar does it with its startup probe.
  const lifecycle = !values.nativeSidecar && (values.await || values.waitBeforeExitSeconds)
    ? {
      lifecycle: {
        ...(values.await ? { postStart: { exec: { command: ['/usr/lib/linkerd/linkerd-await', '--timeout=2m', `--port=${ports.admin}`] } } } : {}),
        ...(values.waitBeforeExitSeconds ? { preStop: { exec: { command: ['/bin/sleep', String(values.waitBeforeExitSeconds)] } } } : {}),
      },
    }
    : {};
  return {
    env: proxyEnv(scope, values),
    image: values.image,
    imagePullPolicy: values.imagePullPolicy,
    livenessProbe: probe('/live', { initialDelaySeconds: 10, timeoutSeconds: 1 }),
    name: PROXY_CONTAINER,
    ports: [{ containerPort: ports.inbound, name: 'linkerd-proxy' }, { containerPort: ports.admin, name: 'linkerd-admin' }],
    readinessProbe: probe('/ready', { initialDelaySeconds: 2, timeoutSeconds: 1 }),
    // A native sidecar holds back the pod's containers until it is ready, within two minutes.
    ...(values.nativeSidecar && values.await ? { startupProbe: probe('/ready', { initialDelaySeconds: 0, periodSeconds: 1, failureThreshold: 120 }) } : {}),
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false, ...capabilities, readOnlyRootFilesystem: true,
      runAsNonRoot: true, runAsUser: values.uid, ...(values.gid !== undefined ? { runAsGroup: values.gid } : {}), seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...lifecycle,
    volumeMounts: [
      { mountPath: END_ENTITY_DIR, name: PROXY_VOLUMES.endEntity },
      { mountPath: TOKEN_DIR, name: TOKEN_FILE },
      ...(values.serviceAccountMount ? [values.serviceAccountMount] : []),
    ],
    ...(values.nativeSidecar ? { restartPolicy: 'Always' } : {}),
  };
}

/**
 * proxy-init: redirects the pod's traffic through the proxy with iptables (nft), leaving the
 * proxy's own control and admin ports, and the ports in `init`, outside the redirect.
 */
export function linkerdProxyInitContainer(values: ProxyValues, init: ProxyInitValues): Record<string, unknown> {
  const { resources, ports } = values;
  // proxy-init needs NET_ADMIN and NET_RAW whatever the application drops.
  const extraAdd = init.capabilities?.add ?? [];
  const drop = (init.capabilities?.drop ?? []).filter((c) => c !== 'NET_RAW' && c !== 'NET_ADMIN');
  return {
    args: [
      '--firewall-bin-path', 'iptables-nft',
      '--firewall-save-bin-path', 'iptables-nft-save',
      '--ipv6=false',
      '--incoming-proxy-port', String(ports.inbound),
      '--outgoing-proxy-port', String(ports.outbound),
      '--proxy-uid', String(values.uid),
      ...(values.gid !== undefined ? ['--proxy-gid', String(values.gid)] : []),
      '--inbound-ports-to-ignore', [ports.control, ports.admin, ...(init.ignoreInboundPorts ? [init.ignoreInboundPorts] : [])].join(','),
      ...(init.ignoreOutboundPorts ? ['--outbound-ports-to-ignore', init.ignoreOutboundPorts] : []),
      ...(init.skipSubnets ? ['--subnets-to-ignore', init.skipSubnets] : []),
    ],
    // Its own image runs its entrypoint; inside the proxy image the binary is named.
    ...(init.image ? { image: init.image } : { image: values.image, command: ['/usr/lib/linkerd/linkerd2-proxy-init'] }),
    imagePullPolicy: values.imagePullPolicy,
    name: PROXY_INIT_CONTAINER,
    ...(resources ? { resources } : {}),
    securityContext: {
      allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW', ...extraAdd], ...(drop.length ? { drop } : {}) }, privileged: false,
      runAsNonRoot: true, runAsUser: NOBODY, runAsGroup: NOBODY, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [{ mountPath: '/run', name: PROXY_VOLUMES.xtablesLock }, ...(init.serviceAccountMount ? [init.serviceAccountMount] : [])],
  };
}

/** The settings every Linkerd proxy starts from (Linkerd's chart defaults), before the pod's own. */
export function baseProxyValues(scope: LinkerdScope): Omit<ProxyValues, 'destinationAddress' | 'policyAddress' | 'identityAddress' | 'podInboundPorts' | 'nativeSidecar' | 'trustAnchors'> {
  return {
    image: scope.images.proxy,
    imagePullPolicy: 'IfNotPresent',
    ports: { ...PROXY_PORTS },
    uid: PROXY_UID,
    logLevel: scope.proxy.logLevel,
    logFormat: 'plain',
    logHttpHeaders: 'off',
    workers: { minimum: 1 },
    ...(scope.proxy.resources ? { resources: scope.proxy.resources } : {}),
    enableShutdownEndpoint: false,
    defaultInboundPolicy: scope.defaultInboundPolicy,
    inboundConnectTimeout: '100ms',
    outboundConnectTimeout: '1000ms',
    outboundDiscoveryIdleTimeout: '5s',
    inboundDiscoveryIdleTimeout: '90s',
    disableOutboundProtocolDetectTimeout: false,
    disableInboundProtocolDetectTimeout: false,
    isGateway: false,
    isIngress: false,
    enableExternalProfiles: false,
    metricsHostnameLabels: false,
    opaquePorts: DEFAULT_OPAQUE_PORTS,
    ...(scope.proxy.accessLog ? { accessLog: scope.proxy.accessLog } : {}),
    ...(scope.proxy.tracingCollector ? { tracingCollector: scope.proxy.tracingCollector } : {}),
    additionalEnv: [],
    await: scope.proxy.await,
    waitBeforeExitSeconds: 0,
  };
}

/** The proxy values of a control-plane pod. */
export function controlPlaneProxyValues(scope: LinkerdScope, pod: ControlPlaneProxy): ProxyValues {
  return {
    ...baseProxyValues(scope),
    destinationAddress: pod.destinationAddress,
    policyAddress: pod.policyAddress,
    identityAddress: pod.identityAddress,
    // At most as many workers as the CPU limit allows (an injected proxy gets a maximum only from
    // its proxy-cpu-limit annotation, as in Linkerd).
    workers: { minimum: 1, ...(scope.proxy.resources?.limits?.cpu ? { maximum: wholeCores(scope.proxy.resources.limits.cpu) } : {}) },
    podInboundPorts: [...pod.inboundPorts].sort((a, b) => a - b).join(','),
    ...(pod.requireTlsPorts ? { requireTlsOnInboundPorts: pod.requireTlsPorts.join(',') } : {}),
    // The control plane must accept unauthenticated clients: proxies without a certificate yet
    // (identity), the API server calling the webhooks, kubelet probes. The mesh-wide default
    // (spec.meshConfig.mtls) is the policy controller's, for everyone else.
    defaultInboundPolicy: 'all-unauthenticated',
    trustAnchors: 'configMap',
    capabilities: { drop: ['ALL'] },
    nativeSidecar: pod.nativeSidecar,
    // A native sidecar holds the controllers back (its startup probe), a classic one only when
    // asked (linkerd-await); identity's proxy must not wait, since it gets its certificate from identity itself.
    await: pod.await ?? pod.nativeSidecar,
  };
}

/** The proxy container of a control-plane pod. */
export function proxyContainer(scope: LinkerdScope, pod: ControlPlaneProxy): Record<string, unknown> {
  return linkerdProxyContainer(scope, controlPlaneProxyValues(scope, pod));
}

/**
 * proxy-init of a control-plane pod: the API server ports stay outside the redirect, since the
 * controllers reach them before their proxy runs.
 */
export function proxyInitContainer(scope: LinkerdScope): Record<string, unknown> {
  const values = controlPlaneProxyValues(scope, { inboundPorts: [], destinationAddress: '', policyAddress: '', identityAddress: '', nativeSidecar: false });
  return linkerdProxyInitContainer(values, { ...(scope.images.proxyInit ? { image: scope.images.proxyInit } : {}), ignoreInboundPorts: PROXY_INIT_IGNORED_PORTS, ignoreOutboundPorts: KUBE_API_SERVER_PORTS });
}

/** The xtables lock volume proxy-init uses. */
export function xtablesLockVolume(): Record<string, unknown> {
  return { emptyDir: {}, name: PROXY_VOLUMES.xtablesLock };
}

/** The proxy's own volumes: the certificate directory (in memory) and the identity token. */
export function identityVolumes(): { endEntity: Record<string, unknown>; token: Record<string, unknown> } {
  return {
    endEntity: { emptyDir: { medium: 'Memory' }, name: PROXY_VOLUMES.endEntity },
    // A token with identity's audience, so it is useless against the API server.
    token: { name: TOKEN_FILE, projected: { sources: [{ serviceAccountToken: { path: TOKEN_FILE, expirationSeconds: 86400, audience: 'identity.l5d.io' } }] } },
  };
}

/** Volumes of the proxy and proxy-init: the xtables lock, the identity token, the certificate directory. */
export function proxyVolumes(): Array<Record<string, unknown>> {
  const { endEntity, token } = identityVolumes();
  return [xtablesLockVolume(), token, endEntity];
}

/** Address of a control-plane service as a proxy dials it (`name.ns.svc.cluster.local.:port`). */
export function serviceAddress(scope: LinkerdScope, service: string, port: number): string {
  return `${serviceFqdn(scope, service)}:${port}`;
}
