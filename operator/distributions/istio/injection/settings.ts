/**
 * What Istio's injector is configured with (its chart values and mesh config), derived from a
 * MeshInstallation the way the renderer derives the `istio` mesh ConfigMap: the render scope
 * (scope.ts, profiles.ts) and `computeMeshConfig` (mesh-config.ts) are reused, so a proxy is
 * injected with exactly the mesh config istiod serves. Values our API does not expose keep Istio's
 * chart defaults (recorded here as facts).
 */
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { ResolvedVersion } from '../../distribution.ts';
import type { Resources } from '../../resources.ts';
import { computeMeshConfig } from '../mesh-config.ts';
import { computeScope, istiodServiceName, type IstioScope } from '../scope.ts';
import { meshProxyConfig, type ProxyConfig } from './proxy-config.ts';

/** Istio's chart defaults for `values.global.proxy` and related values that our API does not expose. */
export const ISTIO_PROXY_DEFAULTS = {
  logLevel: 'warning',
  componentLogLevel: 'misc:error',
  /** `values.global.logging.level`: the agent's and istio-iptables' log level. */
  agentLogLevel: 'default:info',
  statusPort: 15020,
  readinessInitialDelaySeconds: 0,
  readinessPeriodSeconds: 15,
  readinessFailureThreshold: 4,
  startupProbeFailureThreshold: 600,
  includeIPRanges: '*',
  excludeIPRanges: '',
  includeInboundPorts: '*',
  excludeInboundPorts: '',
  includeOutboundPorts: '',
  excludeOutboundPorts: '',
  clusterDomain: 'cluster.local',
  clusterName: 'Kubernetes',
  /** `values.global.sds.token.aud`. */
  tokenAudience: 'istio-ca',
  trustBundleConfigMap: 'istio-ca-root-cert',
  crlConfigMap: 'istio-ca-crl',
  proxyUid: 1337,
  proxyGid: 1337,
  rewriteAppHTTPProbe: true,
} as const;

/** Everything one installation's injection depends on besides the pod. */
export interface IstioInjectionSettings {
  /** The proxy image (`<registry>/proxyv2:<version>`), also the init container's. */
  proxyImage: string;
  /** Value of `istio.io/rev` and of the status annotation's revision (`default` when unrevisioned). */
  revision: string;
  /** The MeshInstallation's name (its webhook path, the pod's record). */
  installationName: string;
  /** Control-plane namespace (skipped, as istiod's own namespace). */
  controlPlaneNamespace: string;
  /** istiod's CA address (`istiod[-<rev>].<ns>.svc:15012`). */
  caAddress: string;
  proxyLogLevel: string;
  proxyResources: Resources;
  trustDomain: string;
  /** The mesh's default ProxyConfig (Istio's defaults under the rendered `defaultConfig`). */
  proxyConfig: ProxyConfig;
  /** The mesh config's `enablePrometheusMerge`. */
  enablePrometheusMerge: boolean;
  /** Whether proxies run as native sidecars when the request does not say (see {@link nativeSidecarDefault}). */
  nativeSidecarDefault: boolean;
}

/**
 * Native sidecars when the request does not say: Istio 1.29 to 1.31 decide `auto` from the
 * kubelets' versions (>= 1.33), which the pure injector cannot see; upstream's injector without
 * node information injects the classic form, and so do we.
 */
export function nativeSidecarDefault(_resolved: ResolvedVersion): boolean {
  return false;
}

/** The settings for `installation` at `resolved` (throws UnsupportedSpecError as the render does, e.g. for proxy resources above their limit). */
export function injectionSettings(installation: DefaultedMeshInstallation, resolved: ResolvedVersion): IstioInjectionSettings {
  const scope: IstioScope = computeScope({ installation, resolved });
  const mesh = computeMeshConfig(scope);
  const proxyImage = resolved.images.proxyv2;
  if (!proxyImage) throw new Error(`internal: Istio ${resolved.version} resolves to no proxyv2 image`);
  return {
    proxyImage,
    revision: scope.revLabel,
    installationName: installation.metadata.name ?? '',
    controlPlaneNamespace: scope.namespace,
    caAddress: `${istiodServiceName(scope)}.${scope.namespace}.svc:15012`,
    proxyLogLevel: scope.spec.meshConfig.proxy?.logLevel ?? ISTIO_PROXY_DEFAULTS.logLevel,
    proxyResources: scope.proxyResources,
    trustDomain: String(mesh.trustDomain ?? 'cluster.local'),
    proxyConfig: meshProxyConfig(mesh.defaultConfig as ProxyConfig | undefined),
    enablePrometheusMerge: mesh.enablePrometheusMerge !== false,
    nativeSidecarDefault: nativeSidecarDefault(resolved),
  };
}
