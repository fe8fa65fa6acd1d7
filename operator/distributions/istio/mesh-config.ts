/**
 * Mesh-wide behaviour: Istio's MeshConfig (the `mesh` key of the `istio` ConfigMap, which istiod
 * watches and applies without a restart) and the mesh-wide PeerAuthentication for mTLS.
 *
 * Settings equal to Istio's defaults are left out, so that a default spec renders exactly Istio's
 * default mesh config.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { configYaml } from '../config-yaml.ts';
import { istiodAddress, meshConfigMapName, meta, partOfIstio, REV_LABEL, type IstioScope } from './scope.ts';

/** Names of the tracing extension providers we declare (Istio's demo profile uses the same). */
export const TRACING_PROVIDERS = { Zipkin: 'zipkin', OpenTelemetry: 'otel-tracing' } as const;

/** `host:port` split into an extension provider's service and port. */
function serviceAndPort(address: string): { service: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { service: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** Trace sampling percentage: the spec's, else the profile's. Istiod applies it (PILOT_TRACE_SAMPLING). */
export function traceSamplingPercent(scope: IstioScope): number {
  return scope.spec.meshConfig.tracing.samplingPercent ?? scope.profile.traceSamplingPercent;
}

/** The MeshConfig as an object (keys in the order YAML output sorts them anyway). */
export function computeMeshConfig(scope: IstioScope): Record<string, unknown> {
  const { meshConfig } = scope.spec;
  const { accessLog, tracing, proxy } = meshConfig;
  const accessLogOn = accessLog.enabled || scope.profile.accessLogAlwaysOn;
  const tracingProvider = tracing.enabled && tracing.collector ? TRACING_PROVIDERS[tracing.collector.protocol] : undefined;
  const mesh: Record<string, unknown> = {};
  if (accessLogOn) {
    mesh.accessLogFile = '/dev/stdout';
    // TEXT is Istio's default encoding.
    if (accessLog.encoding !== 'TEXT') mesh.accessLogEncoding = accessLog.encoding;
  }
  mesh.defaultConfig = {
    discoveryAddress: istiodAddress(scope),
    ...(proxy?.holdApplicationUntilProxyStarts === undefined ? {} : { holdApplicationUntilProxyStarts: proxy.holdApplicationUntilProxyStarts }),
  };
  mesh.defaultProviders = { metrics: ['prometheus'], ...(tracingProvider ? { tracing: [tracingProvider] } : {}) };
  mesh.enablePrometheusMerge = true;
  if (tracingProvider && tracing.collector) {
    const key = tracing.collector.protocol === 'Zipkin' ? 'zipkin' : 'opentelemetry';
    mesh.extensionProviders = [{ name: tracingProvider, [key]: serviceAndPort(tracing.collector.address) }];
  }
  if (meshConfig.outboundTrafficPolicy !== 'ALLOW_ANY') mesh.outboundTrafficPolicy = { mode: meshConfig.outboundTrafficPolicy };
  mesh.rootNamespace = scope.namespace;
  mesh.trustDomain = meshConfig.trustDomain;
  return mesh;
}

/** The mesh-config ConfigMap of this revision (`istio` / `istio-<rev>`), with `mesh` as YAML. */
export function computeMeshConfigMap(scope: IstioScope): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(meshConfigMapName(scope), scope.namespace, { ...partOfIstio('istiod'), [REV_LABEL]: scope.revLabel }),
    data: {
      // istiod reads the mesh config with a YAML 1.1 reader (a trust domain `on` would be a boolean).
      mesh: configYaml(computeMeshConfig(scope), { sortMapEntries: true, indentSeq: false }).trimEnd(),
      meshNetworks: 'networks: {}',
    },
  };
}

/**
 * The mesh-wide mTLS mode: a PeerAuthentication named `default` in the root namespace applies to
 * every workload that has no more specific policy. Shared by every revision.
 */
export function computePeerAuthentication(scope: IstioScope): KubeObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: meta('default', scope.namespace),
    spec: { mtls: { mode: scope.spec.meshConfig.mtls.mode } },
  };
}
