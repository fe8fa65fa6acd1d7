/**
 * The render scope: everything the `computeX(scope)` functions need, derived once from the
 * RenderInput (spec defaults, profile, resolved images, CA material). Each Linkerd setting is
 * decided here, so the builders only place values.
 *
 * How `spec.meshConfig` maps onto Linkerd:
 * - `mtls.mode`: the default inbound policy (STRICT → `all-authenticated`, PERMISSIVE →
 *   `all-unauthenticated`) of the policy controller and linkerd-config; control-plane proxies
 *   stay `all-unauthenticated`, as in Linkerd, because bootstrap clients have no identity yet.
 * - `trustDomain`: identity's trust domain and every identity name.
 * - `proxy.logLevel`, `proxy.resources` (merged over the profile's quantity by quantity):
 *   linkerd-config's proxy settings and the control-plane proxies; `proxy.holdApplicationUntilProxyStarts`: linkerd-config's `proxy.await`.
 * - `accessLog`: Linkerd's proxy access log (`apache` for TEXT, `json` for JSON).
 * - `tracing`: the proxies' OpenTelemetry exporter. Linkerd has no sampling rate (proxies
 *   follow the caller's decision), no Zipkin exporter, and its controllers' own tracing is a
 *   separate setting we leave off; the spec carries no collector identity, so none is required.
 * - `outboundTrafficPolicy`: Linkerd has no REGISTRY_ONLY (the API refuses it for Linkerd).
 * The API rejects the settings Linkerd lacks, so none is silently ignored here.
 */
import { createHash } from 'node:crypto';
import type { DefaultedMeshInstallationSpec } from '../../api/spec.ts';
import { OFFLINE_TRUST_ANCHORS_PLACEHOLDER, type CertificateAuthorityMaterial, type RenderInput } from '../distribution.ts';
import { imageTag, shapeOf, type LinkerdImages, type LinkerdManifestShape } from './catalog.ts';
import { mergeResourcesWithinLimits, quantitiesAsStrings, type Resources } from '../resources.ts';
import { DEFAULT_PROXY_LOG_LEVEL, profilePreset } from './profile.ts';

/** Linkerd's cluster domain: meshwright has no setting for clusters with another DNS suffix. */
export const CLUSTER_DOMAIN = 'cluster.local';

/** Networks the proxies treat as in-cluster (Linkerd's default: every private range). */
export const CLUSTER_NETWORKS = '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8';

/** Ports whose protocol is never detected (server-speaks-first protocols), Linkerd's default. */
export const DEFAULT_OPAQUE_PORTS = '25,587,3306,4444,5432,6379,9300,11211';

/** Annotation telling meshwright's pruner to leave an object behind when the installation goes. */
export const KEEP_ON_DELETE = { 'meshwright.dev/keep-on-delete': 'true' } as const;

/** Value of Linkerd's `linkerd.io/created-by` annotation on what meshwright renders. */
export const CREATED_BY = 'meshwright';

/** Linkerd's inbound policy for pods no Server selects. */
export type DefaultInboundPolicy = 'all-authenticated' | 'all-unauthenticated';

/** Settings of the proxies: mesh-wide (linkerd-config) and the control plane's own. */
export interface ProxySettings {
  /** Log filter in Linkerd's syntax. */
  logLevel: string;
  resources?: Resources;
  /** Linkerd access log format (`apache` or `json`); absent: no access log. */
  accessLog?: 'apache' | 'json';
  /** OpenTelemetry collector `host:port`; absent: no tracing. */
  tracingCollector?: string;
  /** Linkerd's `proxy.await`: applications start once the proxy is ready. */
  await: boolean;
}

/** Scheduling and sizing applied to the control-plane pods. */
export interface ControlPlaneSettings {
  replicas: number;
  highAvailability: boolean;
  /** Resources of a control-plane container by role; undefined: none declared. */
  resources(role: 'identity' | 'destination' | 'sp-validator' | 'policy' | 'heartbeat'): Resources | undefined;
  nodeSelector: Record<string, string>;
  tolerations?: unknown[];
  /** The user's affinity, replacing the HA anti-affinity when set. */
  affinity?: Record<string, unknown>;
  priorityClassName?: string;
  logLevel: 'info' | 'debug';
}

/** Everything the Linkerd builders read. */
export interface LinkerdScope {
  installationName: string;
  namespace: string;
  /** The Linkerd version the images carry (their tag), as Linkerd labels its objects with it. */
  linkerdVersion: string;
  images: LinkerdImages;
  /** What the release's install manifest looks like (sidecar kind, proxy-init image, config keys). */
  shape: LinkerdManifestShape;
  trustDomain: string;
  /** Trust anchors exactly as rendered into linkerd-config (the placeholder offline). */
  trustAnchorsPem: string;
  /** sha256 of {@link trustAnchorsPem}: a pod-template annotation, so a new bundle rolls the control plane. */
  trustRootSha256: string;
  defaultInboundPolicy: DefaultInboundPolicy;
  proxy: ProxySettings;
  controlPlane: ControlPlaneSettings;
  webhookFailurePolicy: 'Ignore' | 'Fail';
  heartbeatSchedule: string;
  ca?: CertificateAuthorityMaterial;
}

/** `spec.meshConfig.mtls.mode` as Linkerd's default inbound policy: STRICT admits only mTLS clients. */
export function defaultInboundPolicyFor(mode: 'STRICT' | 'PERMISSIVE'): DefaultInboundPolicy {
  return mode === 'STRICT' ? 'all-authenticated' : 'all-unauthenticated';
}

type ProxyLogLevel = NonNullable<NonNullable<DefaultedMeshInstallationSpec['meshConfig']['proxy']>['logLevel']>;

/**
 * A spec proxy log level as a Linkerd log filter. Linkerd filters per target: the level applies
 * to the proxy's own `linkerd` target while other crates stay at `warn` and the DNS resolver at
 * `error`, as in Linkerd's default; `error` and `off` apply to everything.
 */
export function proxyLogFilter(level: ProxyLogLevel): string {
  switch (level) {
    case 'trace':
    case 'debug': return `warn,linkerd=${level},hickory=error`;
    case 'info': return DEFAULT_PROXY_LOG_LEVEL;
    case 'warning': return 'warn,hickory=error';
    case 'error':
    case 'off': return level;
  }
}

/**
 * A daily heartbeat time that spreads installations over the day but stays the same on every
 * render (Linkerd's CLI uses the install time, which a pure renderer does not have).
 */
export function heartbeatScheduleFor(installationName: string, namespace: string): string {
  const digest = createHash('sha256').update(`${installationName}/${namespace}`).digest();
  const minutes = digest.readUInt16BE(0) % (24 * 60);
  return `${minutes % 60} ${Math.floor(minutes / 60)} * * *`;
}

/** sha256 (hex) of a string, as Linkerd's trust-root annotation and config checksums use it. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function requireImage(images: Record<string, string>, name: keyof LinkerdImages): string {
  const image = images[name];
  if (!image) throw new Error(`resolved Linkerd version lacks the ${name} image`);
  return image;
}

/** Derives the scope from the render input (pure). */
export function linkerdScope({ installation, resolved, ca }: RenderInput): LinkerdScope {
  const spec = installation.spec;
  const preset = profilePreset(spec.profile);
  const meshConfig = spec.meshConfig;
  const controlPlane = spec.controlPlane ?? {};
  const images: LinkerdImages = {
    controller: requireImage(resolved.images, 'controller'),
    proxy: requireImage(resolved.images, 'proxy'),
    debug: requireImage(resolved.images, 'debug'),
    ...(resolved.images.proxyInit ? { proxyInit: resolved.images.proxyInit } : {}),
  };
  const trustAnchorsPem = ca?.trustAnchorsPem ?? OFFLINE_TRUST_ANCHORS_PLACEHOLDER;
  const controllerResources = (role: 'identity' | 'destination' | 'sp-validator' | 'policy' | 'heartbeat'): Resources | undefined => {
    if (controlPlane.resources) return quantitiesAsStrings(controlPlane.resources);
    // The profile sizes the main controllers only, as Linkerd's HA values do.
    return role === 'identity' || role === 'destination' || role === 'heartbeat' ? preset.resources[role] : undefined;
  };
  const tracing = meshConfig.tracing;
  return {
    installationName: installation.metadata.name ?? '',
    namespace: spec.namespace,
    linkerdVersion: imageTag(images.proxy),
    images,
    shape: shapeOf(resolved.version),
    trustDomain: meshConfig.trustDomain,
    trustAnchorsPem,
    trustRootSha256: sha256Hex(trustAnchorsPem),
    defaultInboundPolicy: defaultInboundPolicyFor(meshConfig.mtls.mode),
    proxy: {
      logLevel: meshConfig.proxy?.logLevel ? proxyLogFilter(meshConfig.proxy.logLevel) : preset.proxyLogLevel,
      // Quantity by quantity: requests alone keep the profile's limits.
      resources: mergeResourcesWithinLimits(preset.resources.proxy, meshConfig.proxy?.resources, { field: 'meshConfig.proxy.resources', profile: spec.profile }),
      accessLog: meshConfig.accessLog.enabled ? (meshConfig.accessLog.encoding === 'JSON' ? 'json' : 'apache') : undefined,
      tracingCollector: tracing.enabled ? tracing.collector?.address : undefined,
      await: meshConfig.proxy?.holdApplicationUntilProxyStarts ?? true,
    },
    controlPlane: {
      replicas: controlPlane.replicas ?? preset.replicas,
      highAvailability: preset.highAvailability,
      resources: controllerResources,
      // Linkerd's images are Linux-only, so the OS constraint stays unless the user overrides that key.
      nodeSelector: { 'kubernetes.io/os': 'linux', ...controlPlane.nodeSelector },
      tolerations: controlPlane.tolerations,
      affinity: controlPlane.affinity as Record<string, unknown> | undefined,
      priorityClassName: controlPlane.priorityClassName,
      logLevel: preset.controllerLogLevel,
    },
    webhookFailurePolicy: preset.highAvailability ? 'Fail' : 'Ignore',
    heartbeatSchedule: heartbeatScheduleFor(installation.metadata.name ?? '', spec.namespace),
    ca,
  };
}

/** Labels every Linkerd control-plane object carries. */
export function controlPlaneLabels(scope: LinkerdScope, component?: string): Record<string, string> {
  return { ...(component ? { 'linkerd.io/control-plane-component': component } : {}), 'linkerd.io/control-plane-ns': scope.namespace };
}

/** Linkerd's identity name of a service account: `<sa>.<ns>.serviceaccount.identity.<controlPlaneNs>.<trustDomain>`. */
export function identityName(scope: LinkerdScope, serviceAccount: string, namespace: string): string {
  return `${serviceAccount}.${namespace}.serviceaccount.identity.${scope.namespace}.${scope.trustDomain}`;
}

/** In-cluster DNS name of a control-plane Service, with Linkerd's trailing dot (`name.ns.svc.cluster.local.`). */
export function serviceFqdn(scope: LinkerdScope, service: string): string {
  return `${service}.${scope.namespace}.svc.${CLUSTER_DOMAIN}.`;
}
