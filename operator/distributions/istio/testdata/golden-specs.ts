/**
 * The Istio specs behind the golden renders: the renderer's golden tests render them, and the e2e
 * no-op test applies each to the real API server (where it must become Ready and then stay at rest).
 */
import type { MeshInstallationSpec } from '../../../api/spec.ts';

/** A spec that uses every option the renderer knows. */
export const ISTIO_ALL_OPTIONS: Partial<MeshInstallationSpec> = {
  registry: 'mirror.example.com/istio',
  profile: 'ha',
  controlPlane: {
    replicas: 3,
    resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
    nodeSelector: { 'node-role.example.com/infra': 'true' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }],
    priorityClassName: 'system-cluster-critical',
  },
  meshConfig: {
    mtls: { mode: 'STRICT' },
    trustDomain: 'example.org',
    outboundTrafficPolicy: 'REGISTRY_ONLY',
    accessLog: { enabled: true, encoding: 'JSON' },
    tracing: { enabled: true, samplingPercent: 5, collector: { protocol: 'OpenTelemetry', address: 'otel-collector.observability.svc:4317' } },
    proxy: { logLevel: 'debug', holdApplicationUntilProxyStarts: true },
  },
  gateways: [
    {
      name: 'ingress', kind: 'Ingress',
      autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 12, targetCPUUtilizationPercent: 70 },
      service: { type: 'LoadBalancer', ports: [{ name: 'http2', port: 80, targetPort: 8080 }, { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 }], annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' }, externalTrafficPolicy: 'Local' },
      resources: { requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '1Gi' } },
      securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }], fsGroup: 1337, seccompProfile: { type: 'RuntimeDefault' } },
      podDisruptionBudget: { minAvailable: 2 },
    },
    { name: 'egress', kind: 'Egress', namespace: 'istio-egress', replicas: 2, podDisruptionBudget: { maxUnavailable: 1 } },
  ],
};

/** The specs behind the golden renders in golden/, by file name (mesh istio, version 1.31.1 and namespace istio-system unless set). */
export const ISTIO_GOLDEN_SPECS: Readonly<Record<string, Partial<MeshInstallationSpec>>> = {
  'profile-default': {},
  'profile-minimal': { profile: 'minimal' },
  'profile-demo': { profile: 'demo', gateways: [{ name: 'istio-ingressgateway', kind: 'Ingress' }] },
  'profile-ha': { profile: 'ha', gateways: [{ name: 'istio-ingressgateway', kind: 'Ingress' }] },
  'all-options': ISTIO_ALL_OPTIONS,
  'canary-revision': { version: '1.30.4', upgrade: { strategy: 'Canary' }, gateways: [{ name: 'istio-ingressgateway', kind: 'Ingress' }] },
};

