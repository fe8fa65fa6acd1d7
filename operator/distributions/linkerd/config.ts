/**
 * Linkerd's configuration objects: `linkerd-config` (the install's values, which Linkerd's CLI,
 * extensions and heartbeat read) and `linkerd-identity-trust-roots` (the trust bundle every
 * control-plane proxy loads).
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { configYaml } from '../config-yaml.ts';
import { imageRepository, imageTag } from './catalog.ts';
import type { Resources } from '../resources.ts';
import { configMap } from './objects.ts';
import { CLUSTER_DOMAIN, CLUSTER_NETWORKS, DEFAULT_OPAQUE_PORTS, type LinkerdScope } from './scope.ts';
import { SERVING_CERTIFICATES } from './webhooks.ts';

/** Name of the trust-bundle ConfigMap and its key, as Linkerd's proxies and identity read them. */
export const TRUST_ROOTS = { name: 'linkerd-identity-trust-roots', key: 'ca-bundle.crt' } as const;

/** Name of the issuer Secret identity mounts. */
export const ISSUER_SECRET = 'linkerd-identity-issuer';
/** Linkerd's identity scheme for an issuer in the cert-manager layout (`tls.crt`, `tls.key`). */
export const ISSUER_SCHEME = 'kubernetes.io/tls';

/** Version of Linkerd's CRD chart recorded in linkerd-config (what `linkerd check` compares). */
const CRDS_CHART_VERSION = 'linkerd-crds-1.0.0-edge';

/** The proxy's fixed ports (Linkerd's defaults; the injector and proxy-init rely on them). */
export const PROXY_PORTS = { admin: 4191, control: 4190, inbound: 4143, outbound: 4140 } as const;

/** User the proxy runs as (proxy-init exempts its traffic from the redirect by this UID). */
export const PROXY_UID = 2102;
/** User the controllers run as. */
export const CONTROLLER_UID = 2103;
/** `nobody`: proxy-init and the network validator run unprivileged. */
export const NOBODY = 65534;

/** Inbound and outbound ports proxy-init leaves alone by default (Galera replication). */
export const PROXY_INIT_IGNORED_PORTS = '4567,4568';
/** Kubernetes API server ports: control-plane pods reach them before their proxy is up. */
export const KUBE_API_SERVER_PORTS = '443,6443';

/** Linkerd's resource shape in values: `{cpu: {request, limit}, memory: ..., ephemeral-storage: ...}`, empty strings for unset. */
function linkerdResources(resources: Resources | undefined): Record<string, { limit: string; request: string }> {
  const of = (name: string) => ({ limit: resources?.limits?.[name] ?? '', request: resources?.requests?.[name] ?? '' });
  return { cpu: of('cpu'), 'ephemeral-storage': of('ephemeral-storage'), memory: of('memory') };
}

const optionalResources = (resources: Resources | undefined) => (resources ? linkerdResources(resources) : null);

const webhookNamespaceSelector = {
  matchExpressions: [{ key: 'config.linkerd.io/admission-webhooks', operator: 'NotIn', values: ['disabled'] }],
};

/** A webhook's section of the values: its certificate comes from the operator (an external Secret to Linkerd). */
function webhookValues(caBundle: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { caBundle, crtPEM: '', externalSecret: true, injectCaFrom: '', injectCaFromSecret: '', namespaceSelector: webhookNamespaceSelector, ...extra };
}

/**
 * The values of this install in the layout of Linkerd's chart values, which is what readers of
 * linkerd-config expect. Settings meshwright does not expose keep Linkerd's defaults.
 */
export function computeConfigValues(scope: LinkerdScope): Record<string, unknown> {
  const { controlPlane, proxy } = scope;
  const ha = controlPlane.highAvailability;
  const caBundle = (name: string) => scope.ca?.serving?.[name]?.caBundlePem ?? '';
  const tracingLabels = { 'k8s.container.name': '$(_pod_containerName)', 'k8s.pod.ip': '$(_pod_ip)', 'k8s.pod.uid': '$(_pod_uid)' };
  const securityContext = {
    allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true,
    runAsGroup: NOBODY, runAsNonRoot: true, runAsUser: NOBODY, seccompProfile: { type: 'RuntimeDefault' },
  };
  // 2.20 added honorTimestamps to the pod monitors; 2.19's config has no such key.
  const honorTimestamps = scope.shape.podMonitorHonorTimestamps ? { honorTimestamps: false } : {};
  const proxyInitImage = scope.images.proxyInit;
  return {
    cliVersion: '',
    clusterDomain: CLUSTER_DOMAIN,
    clusterNetworks: CLUSTER_NETWORKS,
    cniEnabled: false,
    controller: {
      podDisruptionBudget: { maxUnavailable: '1' },
      // Control-plane tracing is Linkerd's separate controller.tracing, not the proxies' tracing.
      tracing: { collector: { endpoint: '', meshIdentity: null }, enabled: false, labels: null, protocol: '', traceServiceName: '' },
    },
    controllerGID: -1,
    controllerImage: imageRepository(scope.images.controller),
    controllerLogFormat: 'plain',
    controllerLogLevel: controlPlane.logLevel,
    controllerReplicas: controlPlane.replicas,
    controllerUID: CONTROLLER_UID,
    debugContainer: { image: { name: imageRepository(scope.images.debug), pullPolicy: '', version: scope.linkerdVersion } },
    deploymentStrategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: ha ? 1 : '25%' } },
    destinationController: {
      meshedHttp2ClientProtobuf: { keep_alive: { interval: { seconds: 10 }, timeout: { seconds: 3 }, while_idle: true } },
      podAnnotations: {},
    },
    destinationProxyResources: null,
    destinationResources: optionalResources(controlPlane.resources('destination')),
    disableHeartBeat: false,
    disableIPv6: true,
    egress: { globalEgressNetworkNamespace: 'linkerd-egress' },
    enableEndpointSlices: true,
    enableH2Upgrade: true,
    enablePodAntiAffinity: ha,
    enablePodDisruptionBudget: ha,
    heartbeat: null,
    heartbeatResources: optionalResources(controlPlane.resources('heartbeat')),
    heartbeatSchedule: scope.heartbeatSchedule,
    highAvailability: ha,
    identity: {
      additionalEnv: null,
      experimentalEnv: null,
      externalCA: false,
      // kubernetes.io/tls: the issuer is read from the Secret, so its certificate is not copied here.
      issuer: { clockSkewAllowance: '20s', issuanceLifetime: '24h0m0s', scheme: ISSUER_SCHEME },
      kubeAPI: { clientBurst: 200, clientQPS: 100 },
      podAnnotations: {},
      serviceAccountTokenProjection: true,
    },
    identityProxyResources: null,
    identityResources: optionalResources(controlPlane.resources('identity')),
    identityTrustAnchorsPEM: scope.trustAnchorsPem,
    identityTrustDomain: scope.trustDomain,
    imagePullPolicy: 'IfNotPresent',
    imagePullSecrets: [],
    linkerdVersion: scope.linkerdVersion,
    networkValidator: { connectAddr: '', listenAddr: '', logFormat: 'plain', logLevel: 'debug', securityContext, timeout: '10s' },
    nodeAffinity: null,
    nodeSelector: controlPlane.nodeSelector,
    podAnnotations: {},
    podLabels: {},
    podMonitor: {
      controller: { enabled: true, ...honorTimestamps, namespaceSelector: 'matchNames:\n  - {{ .Release.Namespace }}\n  - linkerd-viz\n' },
      enabled: false,
      proxy: { enabled: true, ...honorTimestamps },
      scrapeInterval: '10s',
      scrapeTimeout: '10s',
      serviceMirror: { enabled: true, ...honorTimestamps },
    },
    policyController: { logLevel: 'info', probeNetworks: ['0.0.0.0/0', '::/0'], resources: linkerdResources(controlPlane.resources('policy')) },
    policyValidator: webhookValues(caBundle(SERVING_CERTIFICATES.policyValidator)),
    priorityClassName: controlPlane.priorityClassName ?? '',
    profileValidator: webhookValues(caBundle(SERVING_CERTIFICATES.spValidator)),
    prometheusUrl: '',
    proxy: {
      accessLog: proxy.accessLog ?? '',
      additionalEnv: null,
      await: proxy.await,
      capabilities: null,
      control: { streams: { idleTimeout: '5m', initialTimeout: '3s', lifetime: '1h' } },
      defaultInboundPolicy: scope.defaultInboundPolicy,
      disableInboundProtocolDetectTimeout: false,
      disableOutboundProtocolDetectTimeout: false,
      enableExternalProfiles: false,
      enableShutdownEndpoint: false,
      experimentalEnv: null,
      gid: -1,
      image: { name: imageRepository(scope.images.proxy), pullPolicy: '', version: scope.linkerdVersion },
      inbound: { server: { http2: { keepAliveInterval: '10s', keepAliveTimeout: '3s' } } },
      inboundConnectTimeout: '100ms',
      inboundDiscoveryCacheUnusedTimeout: '90s',
      isGateway: false,
      isIngress: false,
      livenessProbe: { initialDelaySeconds: 10, timeoutSeconds: 1 },
      logFormat: 'plain',
      logHTTPHeaders: 'off',
      logLevel: proxy.logLevel,
      metrics: { hostnameLabels: false },
      nativeSidecar: scope.shape.nativeSidecars,
      opaquePorts: DEFAULT_OPAQUE_PORTS,
      outbound: { server: { http2: { keepAliveInterval: '10s', keepAliveTimeout: '3s' } } },
      outboundConnectTimeout: '1000ms',
      outboundDiscoveryCacheUnusedTimeout: '5s',
      outboundTransportMode: 'transport-header',
      podInboundPorts: '',
      ports: { ...PROXY_PORTS },
      readinessProbe: { initialDelaySeconds: 2, timeoutSeconds: 1 },
      requireIdentityOnInboundPorts: '',
      resources: linkerdResources(proxy.resources),
      runtime: { workers: { minimum: 1 } },
      saMountPath: null,
      securityContext: {},
      shutdownGracePeriod: '',
      startupProbe: { failureThreshold: 120, initialDelaySeconds: 0, periodSeconds: 1 },
      tracing: {
        collector: { endpoint: proxy.tracingCollector ?? '', meshIdentity: { namespace: '', serviceAccountName: '' } },
        enabled: proxy.tracingCollector !== undefined,
        labels: tracingLabels,
        protocol: proxy.tracingCollector ? 'opentelemetry' : '',
        traceServiceName: 'linkerd-proxy',
      },
      uid: PROXY_UID,
      waitBeforeExitSeconds: 0,
    },
    proxyContainerName: 'linkerd-proxy',
    proxyInit: {
      capabilities: null,
      closeWaitTimeoutSecs: 0,
      ignoreInboundPorts: PROXY_INIT_IGNORED_PORTS,
      ignoreOutboundPorts: PROXY_INIT_IGNORED_PORTS,
      ...(proxyInitImage ? { image: { name: imageRepository(proxyInitImage), pullPolicy: '', version: imageTag(proxyInitImage) } } : {}),
      iptablesMode: 'nft',
      kubeAPIServerPorts: KUBE_API_SERVER_PORTS,
      logFormat: '',
      logLevel: '',
      privileged: false,
      resources: null,
      runAsGroup: NOBODY,
      runAsRoot: false,
      runAsUser: NOBODY,
      saMountPath: null,
      skipSubnets: '',
      xtMountPath: { mountPath: '/run', name: 'linkerd-proxy-init-xtables-lock', readOnly: false },
    },
    // Linkerd's injector is not installed; its section stays so readers find the usual layout.
    proxyInjector: webhookValues('', {
      additionalEnv: null,
      experimentalEnv: null,
      namespaceSelector: {
        matchExpressions: [
          ...webhookNamespaceSelector.matchExpressions,
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'cert-manager'] },
        ],
      },
      podAnnotations: {},
    }),
    proxyInjectorProxyResources: null,
    proxyInjectorResources: null,
    revisionHistoryLimit: 10,
    spValidator: { livenessProbe: { timeoutSeconds: 1 }, readinessProbe: { timeoutSeconds: 1 } },
    tolerations: controlPlane.tolerations ?? null,
    webhookFailurePolicy: scope.webhookFailurePolicy,
  };
}

/** The `linkerd-config` ConfigMap. */
export function computeLinkerdConfig(scope: LinkerdScope): KubeObject {
  return configMap(scope, 'linkerd-config', 'controller', {
    'linkerd-crds-chart-version': CRDS_CHART_VERSION,
    // Linkerd reads these values with a YAML 1.1 reader: `off` must be written "off".
    values: configYaml(computeConfigValues(scope), { sortMapEntries: true, lineWidth: 0 }),
  });
}

/** `linkerd-identity-trust-roots`: the trust anchors (trimmed, as Linkerd writes them). */
export function computeTrustRoots(scope: LinkerdScope): KubeObject {
  return configMap(scope, TRUST_ROOTS.name, 'identity', { [TRUST_ROOTS.key]: scope.trustAnchorsPem.trim() });
}
