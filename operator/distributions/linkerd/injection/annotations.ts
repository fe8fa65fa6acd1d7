/**
 * Linkerd's injection annotations and labels (names are Linkerd's, from `pkg/k8s/labels.go`), and
 * how the `config.linkerd.io/*` overrides change a pod's proxy values, as Linkerd's
 * `ApplyAnnotationOverrides` does. One deliberate difference: Linkerd logs and ignores a value it
 * cannot parse; here it is an {@link InjectionError} naming the annotation, the value and what is
 * accepted, so a pod never runs with a setting other than the one its owner wrote.
 */
import { parseQuantity } from '../../../runtime/quantity.ts';
import { InjectionError } from '../../injection.ts';
import { wholeCores, type EnvVar, type ProxyInitValues, type ProxyValues } from '../proxy.ts';

/** `linkerd.io/inject`: `enabled`, `ingress` or `disabled`. */
export const INJECT_ANNOTATION = 'linkerd.io/inject';
/** Values of {@link INJECT_ANNOTATION}. */
export const INJECT_VALUES = ['enabled', 'ingress', 'disabled'] as const;
/** Namespace label that keeps Linkerd's admission webhooks away from a namespace. */
export const ADMISSION_WEBHOOKS_LABEL = 'config.linkerd.io/admission-webhooks';
/** Label of control-plane pods (the webhook's objectSelector leaves them out). */
export const CONTROL_PLANE_COMPONENT_LABEL = 'linkerd.io/control-plane-component';

/** What injection writes on a pod. */
export const POD_ANNOTATIONS = {
  createdBy: 'linkerd.io/created-by',
  proxyVersion: 'linkerd.io/proxy-version',
  trustRootSha256: 'linkerd.io/trust-root-sha256',
} as const;
// Linkerd no longer writes `linkerd.io/identity-mode` (identity is always on; none of the
// edge-26.8 vectors carries it), so neither does the injector.
/** Labels injection writes on a pod. */
export const POD_LABELS = { controlPlaneNs: 'linkerd.io/control-plane-ns', workloadNs: 'linkerd.io/workload-ns' } as const;

/** The owner label by the owner's kind (`linkerd.io/proxy-deployment: web`). */
export const OWNER_LABELS: Readonly<Record<string, string>> = {
  Deployment: 'linkerd.io/proxy-deployment',
  ReplicationController: 'linkerd.io/proxy-replicationcontroller',
  ReplicaSet: 'linkerd.io/proxy-replicaset',
  Job: 'linkerd.io/proxy-job',
  DaemonSet: 'linkerd.io/proxy-daemonset',
  StatefulSet: 'linkerd.io/proxy-statefulset',
  CronJob: 'linkerd.io/proxy-cronjob',
};

const C = 'config.linkerd.io';
/** The override annotations, by what they set. */
export const CONFIG = {
  adminPort: `${C}/admin-port`,
  controlPort: `${C}/control-port`,
  inboundPort: `${C}/inbound-port`,
  outboundPort: `${C}/outbound-port`,
  podInboundPorts: `${C}/pod-inbound-ports`,
  enableDebugSidecar: `${C}/enable-debug-sidecar`,
  enableExternalProfiles: `${C}/enable-external-profiles`,
  imagePullPolicy: `${C}/image-pull-policy`,
  proxyImage: `${C}/proxy-image`,
  proxyVersion: `${C}/proxy-version`,
  debugImage: `${C}/debug-image`,
  debugImageVersion: `${C}/debug-image-version`,
  debugImagePullPolicy: `${C}/debug-image-pull-policy`,
  cpuRequest: `${C}/proxy-cpu-request`,
  cpuLimit: `${C}/proxy-cpu-limit`,
  cpuRatioLimit: `${C}/proxy-cpu-ratio-limit`,
  memoryRequest: `${C}/proxy-memory-request`,
  memoryLimit: `${C}/proxy-memory-limit`,
  ephemeralStorageRequest: `${C}/proxy-ephemeral-storage-request`,
  ephemeralStorageLimit: `${C}/proxy-ephemeral-storage-limit`,
  adminShutdown: `${C}/proxy-admin-shutdown`,
  logFormat: `${C}/proxy-log-format`,
  logLevel: `${C}/proxy-log-level`,
  logHttpHeaders: `${C}/proxy-log-http-headers`,
  uid: `${C}/proxy-uid`,
  gid: `${C}/proxy-gid`,
  requireIdentityInboundPorts: `${C}/proxy-require-identity-inbound-ports`,
  skipInboundPorts: `${C}/skip-inbound-ports`,
  skipOutboundPorts: `${C}/skip-outbound-ports`,
  skipSubnets: `${C}/skip-subnets`,
  opaquePorts: `${C}/opaque-ports`,
  metricsHostnameLabels: `${C}/proxy-metrics-hostname-labels`,
  outboundConnectTimeout: `${C}/proxy-outbound-connect-timeout`,
  inboundConnectTimeout: `${C}/proxy-inbound-connect-timeout`,
  outboundDiscoveryCacheUnusedTimeout: `${C}/proxy-outbound-discovery-cache-unused-timeout`,
  inboundDiscoveryCacheUnusedTimeout: `${C}/proxy-inbound-discovery-cache-unused-timeout`,
  disableOutboundProtocolDetectTimeout: `${C}/proxy-disable-outbound-protocol-detect-timeout`,
  disableInboundProtocolDetectTimeout: `${C}/proxy-disable-inbound-protocol-detect-timeout`,
  await: `${C}/proxy-await`,
  defaultInboundPolicy: `${C}/default-inbound-policy`,
  accessLog: `${C}/access-log`,
  shutdownGracePeriod: `${C}/shutdown-grace-period`,
  enableNativeSidecar: `${C}/proxy-enable-native-sidecar`,
  additionalEnv: `${C}/proxy-additional-env`,
  enableGateway: `${C}/enable-gateway`,
  closeWaitTimeout: `${C}/close-wait-timeout`,
  /** Alpha and beta spellings Linkerd still honours. */
  waitBeforeExitSeconds: 'config.alpha.linkerd.io/proxy-wait-before-exit-seconds',
  enableNativeSidecarAlpha: 'config.alpha.linkerd.io/proxy-enable-native-sidecar',
  enableNativeSidecarBeta: 'config.beta.linkerd.io/proxy-enable-native-sidecar',
} as const;

/**
 * Annotations a pod inherits from its namespace when it lacks them (Linkerd's `ProxyAnnotations`,
 * its alpha ones and `linkerd.io/inject`); others on the namespace are not copied.
 */
export const NAMESPACE_INHERITED_ANNOTATIONS: readonly string[] = [
  CONFIG.adminPort, CONFIG.controlPort, CONFIG.enableDebugSidecar, CONFIG.enableExternalProfiles, CONFIG.imagePullPolicy,
  CONFIG.inboundPort, CONFIG.outboundPort, CONFIG.podInboundPorts, CONFIG.cpuLimit, CONFIG.cpuRequest, CONFIG.proxyImage,
  CONFIG.adminShutdown, CONFIG.logFormat, CONFIG.logLevel, CONFIG.logHttpHeaders, CONFIG.memoryLimit, CONFIG.memoryRequest,
  CONFIG.ephemeralStorageLimit, CONFIG.ephemeralStorageRequest, CONFIG.uid, CONFIG.gid, CONFIG.proxyVersion,
  CONFIG.requireIdentityInboundPorts, CONFIG.skipInboundPorts, CONFIG.opaquePorts, CONFIG.skipOutboundPorts,
  CONFIG.metricsHostnameLabels, CONFIG.outboundConnectTimeout, CONFIG.inboundConnectTimeout, CONFIG.await,
  CONFIG.defaultInboundPolicy, CONFIG.skipSubnets, CONFIG.accessLog, CONFIG.shutdownGracePeriod,
  CONFIG.outboundDiscoveryCacheUnusedTimeout, CONFIG.inboundDiscoveryCacheUnusedTimeout,
  CONFIG.disableOutboundProtocolDetectTimeout, CONFIG.disableInboundProtocolDetectTimeout, CONFIG.enableNativeSidecar,
  CONFIG.additionalEnv, CONFIG.waitBeforeExitSeconds, CONFIG.enableNativeSidecarAlpha, INJECT_ANNOTATION,
];

/** Linkerd's default inbound policies. */
export const INBOUND_POLICIES = ['all-unauthenticated', 'all-authenticated', 'cluster-unauthenticated', 'cluster-authenticated', 'deny', 'audit'] as const;

/** Everything the overrides may change: the proxy, proxy-init, and the debug sidecar. */
export interface PodProxyValues {
  proxy: ProxyValues;
  /** Image repository and tag of the proxy, kept apart because annotations override each alone. */
  proxyImage: { name: string; version: string };
  init: ProxyInitValues;
  debug: { enabled: boolean; name: string; version: string; pullPolicy: string };
  /** Seconds proxy-init waits for half-closed connections (needs root: refused). */
  closeWaitTimeoutSeconds?: number;
}

function invalid(annotation: string, value: string, accepted: string): never {
  throw new InjectionError(`annotation ${annotation}: ${JSON.stringify(value)} is not valid; expected ${accepted}`);
}

/** Go's `strconv.ParseBool`. */
function parseBool(annotation: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return invalid(annotation, value, 'true or false');
}

function parseEnabled(annotation: string, value: string): boolean {
  if (value === 'enabled' || value === 'disabled') return value === 'enabled';
  return invalid(annotation, value, 'enabled or disabled');
}

function parsePort(annotation: string, value: string): number {
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) invalid(annotation, value, 'a port number from 1 to 65535');
  return port;
}

function parseId(annotation: string, value: string): number {
  if (!/^[0-9]{1,10}$/.test(value)) invalid(annotation, value, 'a non-negative integer user or group id');
  return Number(value);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Seconds of a Go duration (`1m30s`, `500ms`, `0`). */
export function parseGoDuration(annotation: string, value: string): number {
  if (value === '0') return 0;
  const part = /([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/y;
  let seconds = 0;
  let at = 0;
  const sign = value.startsWith('-') ? -1 : 1;
  if (value.startsWith('-') || value.startsWith('+')) at = 1;
  if (at >= value.length) invalid(annotation, value, 'a duration such as 500ms, 10s or 1m30s');
  while (at < value.length) {
    part.lastIndex = at;
    const match = part.exec(value);
    if (!match) invalid(annotation, value, 'a duration such as 500ms, 10s or 1m30s');
    seconds += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    at = part.lastIndex;
  }
  return sign * seconds;
}

function parseQuantityValue(annotation: string, value: string): string {
  if (parseQuantity(value) === undefined) invalid(annotation, value, 'a Kubernetes quantity such as 100m, 1, 64Mi');
  return value;
}

/** A comma-separated list of ports and ranges (`22,8100-8102`), as proxy-init takes it. */
function parsePortList(annotation: string, value: string): string {
  for (const item of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(item);
    const [low, high] = match ? [Number(match[1]), Number(match[2] ?? match[1])] : [NaN, NaN];
    if (!(low >= 0 && high <= 65535 && low <= high)) invalid(annotation, value, 'comma-separated ports or port ranges, e.g. 22,8100-8102');
  }
  return value;
}

function parseSubnets(annotation: string, value: string): string {
  const cidr = /^(([0-9]{1,3}\.){3}[0-9]{1,3}\/[0-9]{1,2}|[0-9a-fA-F:]+\/[0-9]{1,3})$/;
  for (const item of value.split(',').map((s) => s.trim())) if (!cidr.test(item)) invalid(annotation, value, 'comma-separated CIDRs, e.g. 10.0.0.0/8,fd00::/8');
  return value;
}

/**
 * Opaque ports: numbers, ranges, or names of the pod's container ports (resolved to their
 * numbers). A name no container declares is skipped, as Linkerd does (a namespace-wide list names
 * ports some pods lack).
 */
export function resolveOpaquePorts(annotation: string, value: string, namedPorts: ReadonlyMap<string, number>): string {
  const out: string[] = [];
  for (const item of value.replace(/,$/, '').split(',').map((p) => p.trim())) {
    const named = namedPorts.get(item);
    if (named !== undefined) {
      out.push(String(named));
      continue;
    }
    const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(item);
    if (!match) {
      if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(item) && /[a-z]/.test(item)) continue;
      invalid(annotation, value, 'comma-separated ports, port ranges or container port names');
    }
    const [low, high] = [Number(match[1]), Number(match[2] ?? match[1])];
    if (!(high <= 65535 && low <= high)) invalid(annotation, value, 'comma-separated ports, port ranges or container port names');
    out.push(low === high ? String(low) : `${low}-${high}`);
  }
  return out.join(',');
}

function parseAdditionalEnv(annotation: string, value: string): EnvVar[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    invalid(annotation, value, 'a JSON list of env vars, e.g. [{"name":"X","value":"1"}]');
  }
  if (!Array.isArray(parsed) || !parsed.every((e) => typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string')) {
    invalid(annotation, value, 'a JSON list of env vars, each with a name, e.g. [{"name":"X","value":"1"}]');
  }
  return parsed as EnvVar[];
}

/** Replaces env vars of the same name, appends the others (Linkerd's `mergeEnvByName`). */
function mergeEnvByName(base: EnvVar[], extra: EnvVar[]): EnvVar[] {
  const out = [...base];
  for (const e of extra) {
    const at = out.findIndex((o) => o.name === e.name);
    if (at >= 0) out[at] = e;
    else out.push(e);
  }
  return out;
}

const oneOf = <T extends string>(annotation: string, value: string, allowed: readonly T[]): T =>
  (allowed as readonly string[]).includes(value) ? (value as T) : invalid(annotation, value, `one of ${allowed.join(', ')}`);

/**
 * Applies the override annotations (the pod's, with the namespace's already merged in) to
 * `values`; returns new values. `namedPorts` resolves port names in `opaque-ports`;
 * `namespaceAnnotations` and `podAnnotations` give the layers of `proxy-additional-env`.
 */
export function applyOverrides(
  values: PodProxyValues,
  annotations: Readonly<Record<string, string>>,
  namedPorts: ReadonlyMap<string, number>,
  layers: { namespace: Readonly<Record<string, string>>; pod: Readonly<Record<string, string>> },
): PodProxyValues {
  const proxy: ProxyValues = { ...values.proxy, ports: { ...values.proxy.ports }, workers: { ...values.proxy.workers } };
  const resources = { limits: { ...values.proxy.resources?.limits }, requests: { ...values.proxy.resources?.requests } };
  const init: ProxyInitValues = { ...values.init };
  const proxyImage = { ...values.proxyImage };
  const debug = { ...values.debug };
  let closeWaitTimeoutSeconds = values.closeWaitTimeoutSeconds;
  const a = (key: string): string | undefined => annotations[key];
  let v: string | undefined;

  // `linkerd.io/inject: ingress` (ingress mode) is decided with the selection (selection.ts).
  if ((v = a(CONFIG.proxyImage)) !== undefined) proxyImage.name = v;
  if ((v = a(CONFIG.proxyVersion)) !== undefined) proxyImage.version = v;
  if ((v = a(CONFIG.imagePullPolicy)) !== undefined) proxy.imagePullPolicy = oneOf(CONFIG.imagePullPolicy, v, ['Always', 'IfNotPresent', 'Never']);
  if ((v = a(CONFIG.controlPort)) !== undefined) proxy.ports.control = parsePort(CONFIG.controlPort, v);
  if ((v = a(CONFIG.inboundPort)) !== undefined) proxy.ports.inbound = parsePort(CONFIG.inboundPort, v);
  if ((v = a(CONFIG.adminPort)) !== undefined) proxy.ports.admin = parsePort(CONFIG.adminPort, v);
  if ((v = a(CONFIG.outboundPort)) !== undefined) proxy.ports.outbound = parsePort(CONFIG.outboundPort, v);
  // pod-inbound-ports: Linkerd computes LINKERD2_PROXY_INBOUND_PORTS from the pod after the
  // overrides, so the annotation never takes effect; it is accepted and ignored alike.
  if ((v = a(CONFIG.adminShutdown)) !== undefined) proxy.enableShutdownEndpoint = parseEnabled(CONFIG.adminShutdown, v);
  if ((v = a(CONFIG.logLevel)) !== undefined) proxy.logLevel = v;
  if ((v = a(CONFIG.logHttpHeaders)) !== undefined) proxy.logHttpHeaders = oneOf(CONFIG.logHttpHeaders, v, ['off', 'insecure']);
  if ((v = a(CONFIG.logFormat)) !== undefined) proxy.logFormat = v;
  if ((v = a(CONFIG.requireIdentityInboundPorts)) !== undefined) proxy.requireIdentityOnInboundPorts = parsePortList(CONFIG.requireIdentityInboundPorts, v);
  if ((v = a(CONFIG.metricsHostnameLabels)) !== undefined) proxy.metricsHostnameLabels = parseBool(CONFIG.metricsHostnameLabels, v);
  // Connect timeouts in whole milliseconds, discovery idle timeouts in whole seconds, as Linkerd writes them.
  const ms = (key: string, value: string) => `${Math.trunc(parseGoDuration(key, value) * 1000)}ms`;
  const s = (key: string, value: string) => `${Math.trunc(parseGoDuration(key, value))}s`;
  if ((v = a(CONFIG.outboundConnectTimeout)) !== undefined) proxy.outboundConnectTimeout = ms(CONFIG.outboundConnectTimeout, v);
  if ((v = a(CONFIG.inboundConnectTimeout)) !== undefined) proxy.inboundConnectTimeout = ms(CONFIG.inboundConnectTimeout, v);
  if ((v = a(CONFIG.outboundDiscoveryCacheUnusedTimeout)) !== undefined) proxy.outboundDiscoveryIdleTimeout = s(CONFIG.outboundDiscoveryCacheUnusedTimeout, v);
  if ((v = a(CONFIG.inboundDiscoveryCacheUnusedTimeout)) !== undefined) proxy.inboundDiscoveryIdleTimeout = s(CONFIG.inboundDiscoveryCacheUnusedTimeout, v);
  if ((v = a(CONFIG.disableOutboundProtocolDetectTimeout)) !== undefined) proxy.disableOutboundProtocolDetectTimeout = parseBool(CONFIG.disableOutboundProtocolDetectTimeout, v);
  if ((v = a(CONFIG.disableInboundProtocolDetectTimeout)) !== undefined) proxy.disableInboundProtocolDetectTimeout = parseBool(CONFIG.disableInboundProtocolDetectTimeout, v);
  if ((v = a(CONFIG.shutdownGracePeriod)) !== undefined) proxy.shutdownGracePeriod = ms(CONFIG.shutdownGracePeriod, v);
  if ((v = a(CONFIG.enableGateway)) !== undefined) proxy.isGateway = parseBool(CONFIG.enableGateway, v);
  if ((v = a(CONFIG.waitBeforeExitSeconds)) !== undefined) {
    if (!/^[0-9]+$/.test(v)) invalid(CONFIG.waitBeforeExitSeconds, v, 'a whole number of seconds');
    proxy.waitBeforeExitSeconds = Number(v);
  }
  // The stable spelling wins over beta, beta over alpha.
  const native = [CONFIG.enableNativeSidecar, CONFIG.enableNativeSidecarBeta, CONFIG.enableNativeSidecarAlpha].find((k) => a(k) !== undefined);
  if (native) proxy.nativeSidecar = parseBool(native, a(native)!);

  if ((v = a(CONFIG.cpuRequest)) !== undefined) {
    resources.requests.cpu = parseQuantityValue(CONFIG.cpuRequest, v);
    proxy.workers.minimum = wholeCores(v);
  }
  if ((v = a(CONFIG.cpuLimit)) !== undefined) {
    resources.limits.cpu = parseQuantityValue(CONFIG.cpuLimit, v);
    proxy.workers.maximum = wholeCores(v);
  }
  if ((v = a(CONFIG.cpuRatioLimit)) !== undefined) {
    const ratio = /^[0-9]*\.?[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!(ratio > 0 && ratio < 1)) invalid(CONFIG.cpuRatioLimit, v, 'a ratio between 0.0 and 1.0 (exclusive)');
    proxy.workers.maximumCpuRatio = ratio;
  }
  if ((v = a(CONFIG.memoryRequest)) !== undefined) resources.requests.memory = parseQuantityValue(CONFIG.memoryRequest, v);
  if ((v = a(CONFIG.memoryLimit)) !== undefined) resources.limits.memory = parseQuantityValue(CONFIG.memoryLimit, v);
  if ((v = a(CONFIG.ephemeralStorageRequest)) !== undefined) resources.requests['ephemeral-storage'] = parseQuantityValue(CONFIG.ephemeralStorageRequest, v);
  if ((v = a(CONFIG.ephemeralStorageLimit)) !== undefined) resources.limits['ephemeral-storage'] = parseQuantityValue(CONFIG.ephemeralStorageLimit, v);
  const hasLimits = Object.keys(resources.limits).length > 0;
  const hasRequests = Object.keys(resources.requests).length > 0;
  if (hasLimits || hasRequests) proxy.resources = { ...(hasLimits ? { limits: resources.limits } : {}), ...(hasRequests ? { requests: resources.requests } : {}) };

  if ((v = a(CONFIG.uid)) !== undefined) proxy.uid = parseId(CONFIG.uid, v);
  if ((v = a(CONFIG.gid)) !== undefined) proxy.gid = parseId(CONFIG.gid, v);
  if ((v = a(CONFIG.enableExternalProfiles)) !== undefined) proxy.enableExternalProfiles = parseBool(CONFIG.enableExternalProfiles, v);
  if ((v = a(CONFIG.skipInboundPorts)) !== undefined) init.ignoreInboundPorts = parsePortList(CONFIG.skipInboundPorts, v);
  if ((v = a(CONFIG.skipOutboundPorts)) !== undefined) init.ignoreOutboundPorts = parsePortList(CONFIG.skipOutboundPorts, v);
  if ((v = a(CONFIG.opaquePorts)) !== undefined) proxy.opaquePorts = resolveOpaquePorts(CONFIG.opaquePorts, v, namedPorts);
  if ((v = a(CONFIG.debugImage)) !== undefined) debug.name = v;
  if ((v = a(CONFIG.debugImageVersion)) !== undefined) debug.version = v;
  if ((v = a(CONFIG.debugImagePullPolicy)) !== undefined) debug.pullPolicy = oneOf(CONFIG.debugImagePullPolicy, v, ['Always', 'IfNotPresent', 'Never']);
  if ((v = a(CONFIG.await)) !== undefined) proxy.await = parseEnabled(CONFIG.await, v);
  if ((v = a(CONFIG.defaultInboundPolicy)) !== undefined) proxy.defaultInboundPolicy = oneOf(CONFIG.defaultInboundPolicy, v, INBOUND_POLICIES);
  if ((v = a(CONFIG.skipSubnets)) !== undefined) init.skipSubnets = parseSubnets(CONFIG.skipSubnets, v);
  if ((v = a(CONFIG.accessLog)) !== undefined) proxy.accessLog = oneOf(CONFIG.accessLog, v, ['apache', 'json']);
  if ((v = a(CONFIG.enableDebugSidecar)) !== undefined) debug.enabled = parseBool(CONFIG.enableDebugSidecar, v);
  if ((v = a(CONFIG.closeWaitTimeout)) !== undefined) closeWaitTimeoutSeconds = Math.trunc(parseGoDuration(CONFIG.closeWaitTimeout, v));

  // proxy-additional-env: the namespace's list, then the pod's, replacing by name.
  for (const layer of [layers.namespace, layers.pod]) {
    const raw = layer[CONFIG.additionalEnv];
    if (raw) proxy.additionalEnv = mergeEnvByName(proxy.additionalEnv, parseAdditionalEnv(CONFIG.additionalEnv, raw));
  }

  proxy.image = `${proxyImage.name}:${proxyImage.version}`;
  return { proxy, proxyImage, init, debug, ...(closeWaitTimeoutSeconds !== undefined ? { closeWaitTimeoutSeconds } : {}) };
}
