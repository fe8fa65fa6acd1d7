/**
 * The Linkerd specs behind the golden renders: the renderer's golden tests render them, and the e2e
 * no-op test applies each to the real API server (where it must become Ready and then stay at rest).
 */
import type { MeshInstallationSpec } from '../../../api/spec.ts';

/** The specs behind the golden renders in golden/, by file name (mesh linkerd, version edge-26.8.3 and namespace linkerd unless set). */
export const LINKERD_GOLDEN_SPECS: Readonly<Record<string, Partial<MeshInstallationSpec>>> = {
  'default': {},
  'ha': { profile: 'ha' },
  'demo': { profile: 'demo' },
  'mesh-config': {
    meshConfig: {
      mtls: { mode: 'STRICT' },
      trustDomain: 'mesh.example.org',
      accessLog: { enabled: true, encoding: 'JSON' },
      tracing: { enabled: true, collector: { protocol: 'OpenTelemetry', address: 'otel-collector.observability.svc:4317' } },
      proxy: { logLevel: 'debug', resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '1500m', memory: '128Mi' } }, holdApplicationUntilProxyStarts: false },
    },
    controlPlane: {
      replicas: 2,
      resources: { requests: { cpu: '200m', memory: '128Mi' } },
      nodeSelector: { 'node-role.example.org/mesh': 'true' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'mesh', effect: 'NoSchedule' }],
      priorityClassName: 'system-cluster-critical',
    },
  },
  'registry-mirror': { version: '2.20', registry: 'mirror.example.com/linkerd' },
  // The 2.19 manifest shape: proxy-init from its own image, classic sidecars (see catalog.ts).
  'stable-2.19': { version: '2.19' },
  'stable-2.19-registry-mirror': { version: '2.19', registry: 'mirror.example.com/linkerd' },
};
