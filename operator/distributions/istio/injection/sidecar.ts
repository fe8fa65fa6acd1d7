/**
 * What Istio's `sidecar` injection template adds to a pod, as data: the pod labels and annotations,
 * the `istio-init` container (iptables), the `istio-proxy` container (in `containers`, or as a
 * native sidecar in `initContainers`) and the proxy's volumes. Facts from Istio's template
 * (`manifests/charts/istio-control/istio-discovery/files/injection-template.yaml`) for a cluster
 * without Istio CNI, with Istio's chart defaults where our API has no setting.
 */
import { ANNOTATION, LABEL, annotationOr, jsonAnnotation } from './annotations.ts';
import { holdsApplication, proxyConfigJson, proxyMetadata, type ProxyConfig } from './proxy-config.ts';
import { canonicalQuantity } from './quantity.ts';
import { ISTIO_PROXY_DEFAULTS as D, type IstioInjectionSettings } from './settings.ts';
import type { WorkloadIdentity } from './workload.ts';

/** A container, volume or probe as plain JSON. */
export type Json = Record<string, unknown>;

/** The name of the injected proxy container. */
export const PROXY_CONTAINER = 'istio-proxy';
/** The iptables init container. */
export const INIT_CONTAINER = 'istio-init';

/** What the template is rendered from. */
export interface TemplateInput {
  settings: IstioInjectionSettings;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** The pod's containers before injection. */
  containers: readonly Json[];
  serviceAccountName?: string;
  workload: WorkloadIdentity;
  proxyConfig: ProxyConfig;
  native: boolean;
}

/** The template's output: what is merged into the pod. */
export interface SidecarTemplate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  initContainers: Json[];
  containers: Json[];
  volumes: Json[];
}

/** Kubernetes' canonical resources from the `sidecar.istio.io/proxy*` annotations, else the installation's. */
function proxyResources(input: TemplateInput): Json | undefined {
  const a = input.annotations;
  const pick = (cpu: string, memory: string): Record<string, string> | undefined => {
    const out: Record<string, string> = {};
    if (a[cpu] !== undefined) out.cpu = canonicalQuantity(a[cpu]);
    if (a[memory] !== undefined) out.memory = canonicalQuantity(a[memory]);
    return Object.keys(out).length ? out : undefined;
  };
  if ([ANNOTATION.proxyCPU, ANNOTATION.proxyMemory, ANNOTATION.proxyCPULimit, ANNOTATION.proxyMemoryLimit].some((k) => a[k] !== undefined)) {
    const requests = pick(ANNOTATION.proxyCPU, ANNOTATION.proxyMemory);
    const limits = pick(ANNOTATION.proxyCPULimit, ANNOTATION.proxyMemoryLimit);
    return { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) };
  }
  const canonical = (m: Record<string, string> | undefined) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, canonicalQuantity(v)])) : undefined);
  const { requests, limits } = input.settings.proxyResources;
  const out: Json = {};
  if (limits && Object.keys(limits).length) out.limits = canonical(limits);
  if (requests && Object.keys(requests).length) out.requests = canonical(requests);
  return Object.keys(out).length ? out : undefined;
}

/** Istio's `excludeInboundPort`: the status port added to the excluded inbound ports unless already there (or 0). */
export function excludeInboundPort(port: string, excluded: string): string {
  const portText = port.trim();
  if (portText.length === 0 || portText === '0') return excluded;
  const ports = excluded.split(',');
  if (ports.includes(portText)) return excluded;
  return [...ports.map((p) => p.trim()).filter((p) => p.length > 0), portText].join(',');
}

/** The image with Istio's image type (`distroless`, `debug`, `default`) applied to its tag. */
function withImageType(image: string, imageType: string | undefined): string {
  if (!imageType) return image;
  const colon = image.lastIndexOf(':');
  if (colon < 0 || image.lastIndexOf('/') > colon) return image;
  let tag = image.slice(colon + 1);
  for (const known of ['distroless', 'debug']) {
    if (tag.endsWith(`-${known}`)) {
      tag = tag.slice(0, -(known.length + 1));
      break;
    }
  }
  return `${image.slice(0, colon)}:${imageType === 'default' ? tag : `${tag}-${imageType}`}`;
}

/** Go's `trimAll "-_."` after `trunc 63`: the canonical-name label value. */
function canonicalNameValue(value: string): string {
  return value.slice(0, 63).replace(/^[-_.]+|[-_.]+$/g, '');
}

/** The container ports as ISTIO_META_POD_PORTS lists them (Go's JSON of a ContainerPort, one per line). */
function podPortsJson(containers: readonly Json[]): string {
  const lines: string[] = [];
  for (const c of containers) {
    for (const p of (c.ports as Json[] | undefined) ?? []) {
      const port: Json = {};
      if (p.name) port.name = p.name;
      if (p.hostPort) port.hostPort = p.hostPort;
      port.containerPort = p.containerPort ?? 0;
      if (p.protocol) port.protocol = p.protocol;
      if (p.hostIP) port.hostIP = p.hostIP;
      lines.push(`${lines.length ? ',' : ''}${JSON.stringify(port)}`);
    }
  }
  return ['[', ...lines.map((l) => `    ${l}`), ']'].join('\n');
}

const fieldRef = (path: string): Json => ({ valueFrom: { fieldRef: { fieldPath: path } } });
const resourceRef = (resource: string): Json => ({ valueFrom: { resourceFieldRef: { divisor: '1', resource } } });

/** Renders the sidecar template for one pod. */
export function renderSidecarTemplate(input: TemplateInput): SidecarTemplate {
  const { settings, annotations: a, labels, proxyConfig, native, workload } = input;
  const interceptionMode = annotationOr(a, ANNOTATION.interceptionMode, String(proxyConfig.interceptionMode ?? 'REDIRECT'));
  const tproxy = interceptionMode === 'TPROXY';
  const capNetBindService = annotationOr(a, ANNOTATION.capNetBindService, 'false') === 'true';
  const statusPort = annotationOr(a, ANNOTATION.statusPort, D.statusPort);
  const appContainers = input.containers.map((c) => String(c.name)).filter((n) => n !== PROXY_CONTAINER);
  const holdProxy = holdsApplication(proxyConfig) && !native;
  const resources = proxyResources(input);
  const imagePullPolicy: string | undefined = undefined; // values.global.imagePullPolicy: unset in our installations

  const templateLabels: Record<string, string> = {
    [LABEL.tlsMode]: labels[LABEL.tlsMode] || 'istio',
    [LABEL.canonicalName]: canonicalNameValue(labels[LABEL.canonicalName] || labels['app.kubernetes.io/name'] || labels.app || workload.name),
    [LABEL.canonicalRevision]: labels[LABEL.canonicalRevision] || labels['app.kubernetes.io/version'] || labels.version || 'latest',
  };
  const templateAnnotations: Record<string, string> = { [ANNOTATION.rev]: settings.revision || 'default' };
  if (appContainers.length > 0) {
    if (a[ANNOTATION.defaultLogsContainer] === undefined) templateAnnotations[ANNOTATION.defaultLogsContainer] = appContainers[0]!;
    if (a[ANNOTATION.defaultContainer] === undefined) templateAnnotations[ANNOTATION.defaultContainer] = appContainers[0]!;
  }

  const proxyImage = (a[ANNOTATION.proxyImage] ?? '').includes('/') ? a[ANNOTATION.proxyImage]! : withImageType(settings.proxyImage, a[ANNOTATION.proxyImageType] ?? (proxyConfig.image as { imageType?: string } | undefined)?.imageType);
  const initImage = (a[ANNOTATION.proxyImage] ?? '').includes('/') ? a[ANNOTATION.proxyImage]! : withImageType(settings.proxyImage, a[ANNOTATION.proxyImageType]);
  const metadataEnv = proxyMetadata(proxyConfig).map(([name, value]) => ({ name, value }));
  const excludedInbound = excludeInboundPort(statusPort, annotationOr(a, ANNOTATION.excludeInboundPorts, D.excludeInboundPorts));
  const agentLogLevel = annotationOr(a, ANNOTATION.agentLogLevel, D.agentLogLevel);

  const initContainers: Json[] = [];
  if (interceptionMode !== 'NONE') {
    const args = [
      'istio-iptables', '-p', '15001', '-z', '15006', '-u', tproxy ? '1337' : String(D.proxyUid), '-m', interceptionMode,
      '-i', annotationOr(a, ANNOTATION.includeOutboundIPRanges, D.includeIPRanges),
      '-x', annotationOr(a, ANNOTATION.excludeOutboundIPRanges, D.excludeIPRanges),
      '-b', annotationOr(a, ANNOTATION.includeInboundPorts, D.includeInboundPorts),
      '-d', excludedInbound ? `15090,15021,${excludedInbound}` : '15090,15021',
    ];
    if (a[ANNOTATION.includeOutboundPorts] !== undefined || D.includeOutboundPorts !== '') args.push('-q', annotationOr(a, ANNOTATION.includeOutboundPorts, D.includeOutboundPorts));
    if (a[ANNOTATION.excludeOutboundPorts] !== undefined || D.excludeOutboundPorts !== '') args.push('-o', annotationOr(a, ANNOTATION.excludeOutboundPorts, D.excludeOutboundPorts));
    if (a[ANNOTATION.rerouteVirtualInterfaces] !== undefined) args.push('-k', a[ANNOTATION.rerouteVirtualInterfaces]!);
    else if (a[ANNOTATION.kubevirtInterfaces] !== undefined) args.push('-k', a[ANNOTATION.kubevirtInterfaces]!);
    if (a[ANNOTATION.excludeInterfaces] !== undefined) args.push('-c', a[ANNOTATION.excludeInterfaces]!);
    args.push(`--log_output_level=${agentLogLevel}`);
    initContainers.push({
      name: INIT_CONTAINER,
      image: initImage,
      args,
      ...(imagePullPolicy ? { imagePullPolicy } : {}),
      ...(metadataEnv.length ? { env: metadataEnv } : {}),
      resources: resources ?? {},
      securityContext: {
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
        readOnlyRootFilesystem: false,
        runAsGroup: 0,
        runAsNonRoot: false,
        runAsUser: 0,
      },
    });
  }

  const env: Json[] = [
    { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
    { name: 'CA_ADDR', value: settings.caAddress },
    { name: 'POD_NAME', ...fieldRef('metadata.name') },
    { name: 'POD_NAMESPACE', ...fieldRef('metadata.namespace') },
    { name: 'INSTANCE_IP', ...fieldRef('status.podIP') },
    { name: 'SERVICE_ACCOUNT', ...fieldRef('spec.serviceAccountName') },
    { name: 'HOST_IP', ...fieldRef('status.hostIP') },
    { name: 'ISTIO_CPU_LIMIT', ...resourceRef('limits.cpu') },
    { name: 'PROXY_CONFIG', value: `${proxyConfigJson(proxyConfig)}\n` },
    { name: 'ISTIO_META_POD_PORTS', value: podPortsJson(input.containers) },
    { name: 'ISTIO_META_APP_CONTAINERS', value: appContainers.join(',') },
    { name: 'GOMEMLIMIT', ...resourceRef('limits.memory') },
    { name: 'GOMAXPROCS', ...resourceRef('limits.cpu') },
    { name: 'ISTIO_META_CLUSTER_ID', value: D.clusterName },
    { name: 'ISTIO_META_NODE_NAME', ...fieldRef('spec.nodeName') },
    { name: 'ISTIO_META_INTERCEPTION_MODE', value: a[ANNOTATION.interceptionMode] || String(proxyConfig.interceptionMode ?? 'REDIRECT') },
  ];
  const workloadName = labels[LABEL.workloadName] || workload.name;
  if (workloadName) env.push({ name: 'ISTIO_META_WORKLOAD_NAME', value: workloadName });
  if (workload.apiVersion && workload.name) {
    env.push({ name: 'ISTIO_META_OWNER', value: `kubernetes://apis/${workload.apiVersion}/namespaces/${workload.namespace || 'default'}/${workload.kind.toLowerCase()}s/${workload.name}` });
  }
  if (a[ANNOTATION.bootstrapOverride] !== undefined) env.push({ name: 'ISTIO_BOOTSTRAP_OVERRIDE', value: '/etc/istio/custom-bootstrap/custom_bootstrap.json' });
  if (settings.trustDomain) {
    env.push({ name: 'ISTIO_META_MESH_ID', value: settings.trustDomain }, { name: 'TRUST_DOMAIN', value: settings.trustDomain });
  }
  env.push(...metadataEnv);

  const proxy: Json = {
    name: PROXY_CONTAINER,
    image: proxyImage,
    ...(native ? { restartPolicy: 'Always' } : {}),
    ports: [{ containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' }],
    args: [
      'proxy', 'sidecar', '--domain', `$(POD_NAMESPACE).svc.${D.clusterDomain}`,
      `--proxyLogLevel=${annotationOr(a, ANNOTATION.logLevel, settings.proxyLogLevel)}`,
      `--proxyComponentLogLevel=${annotationOr(a, ANNOTATION.componentLogLevel, D.componentLogLevel)}`,
      `--log_output_level=${agentLogLevel}`,
    ],
    env,
  };
  if (holdProxy) proxy.lifecycle = { postStart: { exec: { command: ['pilot-agent', 'wait'] } } };
  else if (native) proxy.lifecycle = { preStop: { exec: { command: ['pilot-agent', 'request', `--debug-port=${statusPort}`, 'POST', 'drain'] } } };
  if (statusPort !== '0') {
    proxy.startupProbe = { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: D.startupProbeFailureThreshold };
    const readiness: Json = { httpGet: { path: '/healthz/ready', port: 15021 } };
    const seconds = (name: string, fallback: number) => Number(annotationOr(a, name, fallback));
    const initialDelay = seconds(ANNOTATION.readinessInitialDelaySeconds, D.readinessInitialDelaySeconds);
    const period = seconds(ANNOTATION.readinessPeriodSeconds, D.readinessPeriodSeconds);
    const failure = seconds(ANNOTATION.readinessFailureThreshold, D.readinessFailureThreshold);
    // Go leaves zero integers out of the pod it serialises.
    if (initialDelay) readiness.initialDelaySeconds = initialDelay;
    if (period) readiness.periodSeconds = period;
    readiness.timeoutSeconds = 3;
    if (failure) readiness.failureThreshold = failure;
    proxy.readinessProbe = readiness;
  }
  const rootless = !(tproxy || capNetBindService);
  proxy.securityContext = {
    allowPrivilegeEscalation: false,
    capabilities: {
      ...(rootless ? {} : { add: [...(tproxy ? ['NET_ADMIN'] : []), ...(capNetBindService ? ['NET_BIND_SERVICE'] : [])] }),
      drop: ['ALL'],
    },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: rootless,
    runAsUser: rootless ? D.proxyUid : 0,
    runAsGroup: rootless ? D.proxyGid : 1337,
  };
  proxy.resources = resources ?? {};
  const volumeMounts: Json[] = [
    { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
    { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
    { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
    { mountPath: '/var/run/secrets/istio', name: 'istiod-ca-cert' },
    { mountPath: '/var/run/secrets/istio/crl', name: 'istio-ca-crl' },
    { mountPath: '/var/lib/istio/data', name: 'istio-data' },
    ...(a[ANNOTATION.bootstrapOverride] !== undefined ? [{ mountPath: '/etc/istio/custom-bootstrap', name: 'custom-bootstrap-volume' }] : []),
    { mountPath: '/etc/istio/proxy', name: 'istio-envoy' },
    { mountPath: '/var/run/secrets/tokens', name: 'istio-token' },
    { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
  ];
  for (const [name, mount] of Object.entries(jsonAnnotation(a, ANNOTATION.userVolumeMount) ?? {})) volumeMounts.push({ name, ...(mount as Json) });
  proxy.volumeMounts = volumeMounts;

  const volumes: Json[] = [
    { name: 'workload-socket' },
    { name: 'credential-socket' },
    { name: 'workload-certs' },
    ...(a[ANNOTATION.bootstrapOverride] !== undefined ? [{ name: 'custom-bootstrap-volume', configMap: { name: a[ANNOTATION.bootstrapOverride] } }] : []),
    { emptyDir: { medium: 'Memory' }, name: 'istio-envoy' },
    { name: 'istio-data', emptyDir: {} },
    {
      name: 'istio-podinfo',
      downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] },
    },
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: D.tokenAudience } }] } },
    { name: 'istiod-ca-cert', configMap: { name: D.trustBundleConfigMap } },
    { name: 'istio-ca-crl', configMap: { name: D.crlConfigMap, optional: true } },
  ];
  for (const [name, volume] of Object.entries(jsonAnnotation(a, ANNOTATION.userVolume) ?? {})) volumes.push({ name, ...(volume as Json) });

  // Go leaves an empty env value out (ISTIO_META_APP_CONTAINERS of a pod with only the proxy).
  proxy.env = env.map((e) => (e.value === '' ? { name: e.name } : e));

  return {
    labels: templateLabels,
    annotations: templateAnnotations,
    initContainers: native ? [...initContainers, proxy] : initContainers,
    containers: native ? [] : [proxy],
    volumes,
  };
}
