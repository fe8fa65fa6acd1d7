/**
 * MeshInstallations the API server must reject, each with the error it must give. Every case
 * starts from a valid spec and breaks exactly one thing, and every expected error names the field
 * (its path, as the API server prints it) and what is allowed there.
 */

/** A manifest that must be rejected, and how. */
export interface InvalidCase {
  /** Short unique name; also used as the object's metadata.name suffix. */
  name: string;
  /** What is wrong, in words. */
  problem: string;
  /** The whole object sent to the API server (apiVersion, kind and metadata included). */
  manifest: Record<string, unknown>;
  /** Must match the API server's error message. */
  expected: RegExp;
}

type Spec = Record<string, unknown>;

/** A valid Istio spec the cases modify. */
export const VALID_ISTIO_SPEC: Spec = { mesh: 'istio', version: '1.31.1', namespace: 'istio-system' };
/** A valid Linkerd spec the cases modify. */
export const VALID_LINKERD_SPEC: Spec = { mesh: 'linkerd', version: 'edge-26.8.3', namespace: 'linkerd' };

function manifest(name: string, spec: Spec | undefined): Record<string, unknown> {
  return {
    apiVersion: 'meshwright.dev/v1alpha1',
    kind: 'MeshInstallation',
    metadata: { name: `invalid-${name}` },
    ...(spec === undefined ? {} : { spec }),
  };
}

function without(spec: Spec, field: string): Spec {
  const { [field]: _removed, ...rest } = spec;
  return rest;
}

const istio = (extra: Spec): Spec => ({ ...VALID_ISTIO_SPEC, ...extra });
const linkerd = (extra: Spec): Spec => ({ ...VALID_LINKERD_SPEC, ...extra });
const gateway = (extra: Spec): Spec => ({ name: 'ingress', kind: 'Ingress', ...extra });
const patchedDeployment = (patch: Spec): Spec => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system', patches: [patch] });

/** Escapes text for use inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `field: <kind>: ... message`, as the API server formats one field error. */
function error(field: string, kind: 'Invalid value' | 'Required value' | 'Forbidden' | 'Unsupported value' | 'Duplicate value' | 'Too many', message: string): RegExp {
  return new RegExp(`${literal(field)}: ${kind}: .*${message}`);
}

const DNS_LABEL = 'must be a DNS-1123 label: lowercase letters, digits and "-"';
const DURATION = 'must be a duration such as 30s, 10m or 1h30m';
const COUNT_OR_PERCENT = 'must be a count of at least 1 or a percentage from 1% to 100%';
const QUANTITY = 'must be a non-negative Kubernetes quantity such as 500m, 2, 128Mi or 1Gi';

/** A spec the API server must accept, close to a rule's boundary. */
export interface AcceptedCase {
  /** Short unique name. */
  name: string;
  /** Why it is valid, in words. */
  why: string;
  spec: Spec;
}

/** Specs next to the rules' edges that must pass them: each guards a rule against being too strict. */
export const ACCEPTED_CASES: AcceptedCase[] = [
  { name: 'request-equals-limit-other-units', why: 'a request equal to its limit, in other units (Guaranteed QoS)', spec: istio({ meshConfig: { proxy: { resources: { requests: { cpu: 1, memory: '1Gi' }, limits: { cpu: '1000m', memory: '1024Mi' } } } } }) },
  { name: 'request-without-limit', why: 'a request with no limit for that resource, and a limit with no request', spec: linkerd({ controlPlane: { resources: { requests: { cpu: '4', memory: '64Mi' }, limits: { memory: '128Mi', 'ephemeral-storage': '1Gi' } } } }) },
  { name: 'gateway-request-below-limit', why: 'gateway requests below their limits', spec: istio({ gateways: [gateway({ resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: 2, memory: '1Gi' } } })] }) },
  { name: 'gateway-traffic-policy-on-ingress-default', why: 'an Ingress gateway\'s Service defaults to LoadBalancer', spec: istio({ gateways: [gateway({ service: { externalTrafficPolicy: 'Local' } })] }) },
  { name: 'gateway-traffic-policy-on-node-port-egress', why: 'an Egress gateway with a NodePort Service', spec: istio({ gateways: [gateway({ kind: 'Egress', service: { type: 'NodePort', externalTrafficPolicy: 'Cluster' } })] }) },
  { name: 'gateway-pod-security-context', why: 'sysctls, root with the explicit opt-out, a Localhost seccomp profile, fsGroup', spec: istio({ gateways: [gateway({ securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }, { name: 'kernel/shm_rmid_forced', value: '1' }], runAsUser: 0, runAsNonRoot: false, fsGroup: 2000, fsGroupChangePolicy: 'OnRootMismatch', supplementalGroups: [3000], seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/gateway.json' }, seLinuxOptions: { level: 's0:c123,c456' } } })] }) },
];

/** Every invalid case, in the order of the spec's fields. */
export const INVALID_CASES: InvalidCase[] = [
  { name: 'no-spec', problem: 'spec is missing', manifest: manifest('no-spec', undefined), expected: /spec: Required value/ },
  { name: 'unknown-field', problem: 'a field the schema does not declare (rejected under strict field validation)', manifest: manifest('unknown-field', istio({ sidecars: true })), expected: /unknown field "spec\.sidecars"/ },

  { name: 'mesh-unsupported', problem: 'mesh is neither istio nor linkerd', manifest: manifest('mesh-unsupported', istio({ mesh: 'consul' })), expected: error('spec.mesh', 'Unsupported value', 'supported values: "istio", "linkerd"') },
  { name: 'version-missing', problem: 'version is required', manifest: manifest('version-missing', without(VALID_ISTIO_SPEC, 'version')), expected: /spec\.version: Required value/ },
  { name: 'istio-version-without-patch', problem: 'Istio versions have three parts', manifest: manifest('istio-version-without-patch', istio({ version: '1.31' })), expected: error('spec.version', 'Invalid value', 'for mesh istio, version must be 1\\.MINOR\\.PATCH such as 1\\.31\\.1, got "1\\.31"') },
  { name: 'istio-version-v-prefix', problem: 'Istio versions have no v prefix', manifest: manifest('istio-version-v-prefix', istio({ version: 'v1.31.1' })), expected: error('spec.version', 'Invalid value', 'for mesh istio, version must be 1\\.MINOR\\.PATCH') },
  { name: 'linkerd-version-istio-style', problem: 'a version that is not a Linkerd release', manifest: manifest('linkerd-version-istio-style', linkerd({ version: '1.31.1' })), expected: error('spec.version', 'Invalid value', 'for mesh linkerd, version must be stable 2\\.MINOR\\[\\.PATCH\\] such as 2\\.20 or 2\\.20\\.1, or edge-YY\\.M\\.N') },
  { name: 'linkerd-version-legacy-stable', problem: 'the retired stable-2.x.y naming', manifest: manifest('linkerd-version-legacy-stable', linkerd({ version: 'stable-2.14.10' })), expected: error('spec.version', 'Invalid value', 'got "stable-2\\.14\\.10"') },
  { name: 'namespace-missing', problem: 'namespace is required', manifest: manifest('namespace-missing', without(VALID_ISTIO_SPEC, 'namespace')), expected: /spec\.namespace: Required value/ },
  { name: 'namespace-not-dns-label', problem: 'namespace with capitals and underscore', manifest: manifest('namespace-not-dns-label', istio({ namespace: 'Istio_System' })), expected: error('spec.namespace', 'Invalid value', DNS_LABEL) },
  { name: 'profile-unknown', problem: 'a profile that does not exist', manifest: manifest('profile-unknown', istio({ profile: 'tiny' })), expected: error('spec.profile', 'Unsupported value', 'supported values: "default", "minimal", "demo", "ha"') },

  { name: 'control-plane-zero-replicas', problem: 'control plane needs at least one replica', manifest: manifest('control-plane-zero-replicas', istio({ controlPlane: { replicas: 0 } })), expected: error('spec.controlPlane.replicas', 'Invalid value', 'should be greater than or equal to 1') },
  { name: 'control-plane-too-many-replicas', problem: 'replicas above the cap of 100', manifest: manifest('control-plane-too-many-replicas', istio({ controlPlane: { replicas: 500 } })), expected: error('spec.controlPlane.replicas', 'Invalid value', 'should be less than or equal to 100') },
  { name: 'control-plane-negative-cpu', problem: 'a negative quantity', manifest: manifest('control-plane-negative-cpu', istio({ controlPlane: { resources: { requests: { cpu: '-1' } } } })), expected: error('spec.controlPlane.resources.requests[cpu]', 'Invalid value', QUANTITY) },
  { name: 'proxy-memory-not-quantity', problem: 'memory that is not a quantity', manifest: manifest('proxy-memory-not-quantity', istio({ meshConfig: { proxy: { resources: { limits: { memory: 'lots' } } } } })), expected: error('spec.meshConfig.proxy.resources.limits[memory]', 'Invalid value', QUANTITY) },
  { name: 'control-plane-request-above-limit', problem: 'a CPU request above its limit: no pod would be admitted', manifest: manifest('control-plane-request-above-limit', istio({ controlPlane: { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } } })), expected: error('spec.controlPlane.resources.requests', 'Invalid value', 'requests\\.cpu \\(2\\) must not exceed limits\\.cpu \\(1\\)') },
  { name: 'proxy-request-above-limit-other-units', problem: 'a memory request above its limit, written in other units', manifest: manifest('proxy-request-above-limit-other-units', linkerd({ meshConfig: { proxy: { resources: { requests: { memory: '2Gi' }, limits: { memory: '1025Mi' } } } } })), expected: error('spec.meshConfig.proxy.resources.requests', 'Invalid value', 'requests\\.memory \\(2Gi\\) must not exceed limits\\.memory \\(1025Mi\\)') },
  { name: 'proxy-request-above-limit-integer', problem: 'a whole-CPU request written as a number, above a millicore limit', manifest: manifest('proxy-request-above-limit-integer', istio({ meshConfig: { proxy: { resources: { requests: { cpu: 2 }, limits: { cpu: '1500m' } } } } })), expected: error('spec.meshConfig.proxy.resources.requests', 'Invalid value', 'requests\\.cpu \\(2\\) must not exceed limits\\.cpu \\(1500m\\)') },
  { name: 'toleration-operator-unknown', problem: 'toleration operator outside Exists/Equal', manifest: manifest('toleration-operator-unknown', istio({ controlPlane: { tolerations: [{ key: 'k', operator: 'Matches' }] } })), expected: error('spec.controlPlane.tolerations[0].operator', 'Unsupported value', 'supported values: "Exists", "Equal"') },

  { name: 'mtls-mode-unknown', problem: 'mTLS mode DISABLE is not offered', manifest: manifest('mtls-mode-unknown', istio({ meshConfig: { mtls: { mode: 'DISABLE' } } })), expected: error('spec.meshConfig.mtls.mode', 'Unsupported value', 'supported values: "STRICT", "PERMISSIVE"') },
  { name: 'trust-domain-invalid', problem: 'trust domain with a space and capitals', manifest: manifest('trust-domain-invalid', istio({ meshConfig: { trustDomain: 'Cluster Local' } })), expected: error('spec.meshConfig.trustDomain', 'Invalid value', 'must be a DNS-1123 subdomain') },
  { name: 'sampling-over-100', problem: 'sampling percentage above 100', manifest: manifest('sampling-over-100', istio({ meshConfig: { tracing: { samplingPercent: 150 } } })), expected: error('spec.meshConfig.tracing.samplingPercent', 'Invalid value', 'should be less than or equal to 100') },
  { name: 'sampling-negative', problem: 'sampling percentage below 0', manifest: manifest('sampling-negative', istio({ meshConfig: { tracing: { samplingPercent: -1 } } })), expected: error('spec.meshConfig.tracing.samplingPercent', 'Invalid value', 'should be greater than or equal to 0') },
  { name: 'tracing-without-collector', problem: 'tracing enabled with nowhere to send spans', manifest: manifest('tracing-without-collector', istio({ meshConfig: { tracing: { enabled: true } } })), expected: error('spec.meshConfig.tracing.collector', 'Required value', 'collector is required when tracing is enabled') },
  { name: 'collector-without-port', problem: 'collector address without a port', manifest: manifest('collector-without-port', istio({ meshConfig: { tracing: { enabled: true, collector: { protocol: 'Zipkin', address: 'zipkin.observability' } } } })), expected: error('spec.meshConfig.tracing.collector.address', 'Invalid value', 'must be host:port') },
  { name: 'collector-port-out-of-range', problem: 'collector port above 65535', manifest: manifest('collector-port-out-of-range', istio({ meshConfig: { tracing: { enabled: true, collector: { protocol: 'Zipkin', address: 'zipkin:99999' } } } })), expected: error('spec.meshConfig.tracing.collector.address', 'Invalid value', 'a port from 1 to 65535') },
  { name: 'linkerd-registry-only', problem: 'REGISTRY_ONLY has no Linkerd equivalent', manifest: manifest('linkerd-registry-only', linkerd({ meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } })), expected: error('spec.meshConfig.outboundTrafficPolicy', 'Invalid value', 'mesh linkerd supports only ALLOW_ANY') },
  { name: 'linkerd-sampling-percent', problem: 'Linkerd proxies do not sample', manifest: manifest('linkerd-sampling-percent', linkerd({ meshConfig: { tracing: { samplingPercent: 10 } } })), expected: error('spec.meshConfig.tracing.samplingPercent', 'Forbidden', 'samplingPercent is Istio only') },
  { name: 'linkerd-zipkin', problem: 'Linkerd proxies export OpenTelemetry only', manifest: manifest('linkerd-zipkin', linkerd({ meshConfig: { tracing: { enabled: true, collector: { protocol: 'Zipkin', address: 'zipkin:9411' } } } })), expected: error('spec.meshConfig.tracing.collector.protocol', 'Invalid value', 'mesh linkerd supports only collector protocol OpenTelemetry') },

  { name: 'ca-type-unknown', problem: 'a CA type that does not exist', manifest: manifest('ca-type-unknown', istio({ certificateAuthority: { type: 'Vault' } })), expected: error('spec.certificateAuthority.type', 'Unsupported value', 'supported values: "SelfSigned", "External"') },
  { name: 'linkerd-rsa', problem: 'Linkerd identity needs ECDSA P-256', manifest: manifest('linkerd-rsa', linkerd({ certificateAuthority: { keyAlgorithm: 'RSA2048' } })), expected: error('spec.certificateAuthority.keyAlgorithm', 'Invalid value', 'mesh linkerd requires keyAlgorithm ECDSAP256') },
  { name: 'external-ca-without-secret', problem: 'External CA without its Secret', manifest: manifest('external-ca-without-secret', istio({ certificateAuthority: { type: 'External' } })), expected: error('spec.certificateAuthority.secretRef', 'Required value', 'secretRef is required when type is External') },
  { name: 'self-signed-with-secret', problem: 'secretRef on a SelfSigned CA would be silently ignored', manifest: manifest('self-signed-with-secret', istio({ certificateAuthority: { secretRef: { name: 'cacerts', namespace: 'istio-system' } } })), expected: error('spec.certificateAuthority.secretRef', 'Forbidden', 'secretRef is allowed only when type is External') },
  { name: 'secret-ref-without-namespace', problem: 'a cluster-scoped resource must say where the Secret is', manifest: manifest('secret-ref-without-namespace', istio({ certificateAuthority: { type: 'External', secretRef: { name: 'cacerts' } } })), expected: /spec\.certificateAuthority\.secretRef\.namespace: Required value/ },
  { name: 'root-ttl-in-words', problem: 'a duration in words', manifest: manifest('root-ttl-in-words', istio({ certificateAuthority: { rootTTL: '10 years' } })), expected: error('spec.certificateAuthority.rootTTL', 'Invalid value', DURATION) },
  { name: 'root-ttl-in-days', problem: 'Go durations have no day unit', manifest: manifest('root-ttl-in-days', istio({ certificateAuthority: { rootTTL: '3650d' } })), expected: error('spec.certificateAuthority.rootTTL', 'Invalid value', DURATION) },
  { name: 'intermediate-outlives-root', problem: 'intermediate TTL longer than the root TTL', manifest: manifest('intermediate-outlives-root', istio({ certificateAuthority: { rootTTL: '100h', intermediateTTL: '200h', renewBefore: '10h', rootRotation: { renewBefore: '50h' } } })), expected: error('spec.certificateAuthority.intermediateTTL', 'Invalid value', 'must be shorter than rootTTL \\(100h\\), got 200h') },
  { name: 'renew-before-exceeds-intermediate', problem: 'renewal would start before issuance', manifest: manifest('renew-before-exceeds-intermediate', istio({ certificateAuthority: { intermediateTTL: '24h', renewBefore: '48h' } })), expected: error('spec.certificateAuthority.renewBefore', 'Invalid value', 'must be shorter than intermediateTTL \\(24h\\), got 48h') },
  { name: 'root-rotation-exceeds-root', problem: 'root rotation window longer than the root lifetime', manifest: manifest('root-rotation-exceeds-root', istio({ certificateAuthority: { rootTTL: '2000h', intermediateTTL: '1000h', rootRotation: { renewBefore: '3000h' } } })), expected: error('spec.certificateAuthority.rootRotation.renewBefore', 'Invalid value', 'must be shorter than rootTTL \\(2000h\\), got 3000h') },
  { name: 'root-ttl-too-short', problem: 'a root living less than an hour', manifest: manifest('root-ttl-too-short', istio({ certificateAuthority: { rootTTL: '30m', intermediateTTL: '20m', renewBefore: '5m', rootRotation: { renewBefore: '10m' } } })), expected: error('spec.certificateAuthority.rootTTL', 'Invalid value', 'must be at least 1h') },

  { name: 'injection-names-and-selector', problem: 'two ways of choosing namespaces at once', manifest: manifest('injection-names-and-selector', istio({ injection: { namespaces: ['shop'], namespaceSelector: { matchLabels: { mesh: 'on' } } } })), expected: error('spec.injection.namespaceSelector', 'Forbidden', 'set either namespaces or namespaceSelector, not both') },
  { name: 'injection-duplicate-namespace', problem: 'a namespace listed twice', manifest: manifest('injection-duplicate-namespace', istio({ injection: { namespaces: ['shop', 'shop'] } })), expected: /spec\.injection\.namespaces\[1\]: Duplicate value: "shop"/ },
  { name: 'injection-control-plane-namespace', problem: 'the control plane enrolled into its own mesh', manifest: manifest('injection-control-plane-namespace', istio({ injection: { namespaces: ['shop', 'istio-system'] } })), expected: error('spec.injection.namespaces', 'Invalid value', 'must not include the control-plane namespace') },
  { name: 'injection-namespace-invalid', problem: 'a namespace name that cannot exist', manifest: manifest('injection-namespace-invalid', istio({ injection: { namespaces: ['Shop'] } })), expected: error('spec.injection.namespaces[0]', 'Invalid value', DNS_LABEL) },
  { name: 'selector-in-without-values', problem: 'operator In needs values', manifest: manifest('selector-in-without-values', istio({ injection: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In' }] } } })), expected: error('spec.injection.namespaceSelector.matchExpressions[0].values', 'Invalid value', 'values must be non-empty for operator In') },
  { name: 'selector-exists-with-values', problem: 'operator Exists takes no values', manifest: manifest('selector-exists-with-values', istio({ injection: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] } } })), expected: error('spec.injection.namespaceSelector.matchExpressions[0].values', 'Invalid value', 'values must be empty for operator Exists') },
  { name: 'restart-percent-over-100', problem: 'more than all workloads at once', manifest: manifest('restart-percent-over-100', istio({ injection: { restartWorkloads: { maxUnavailable: '150%' } } })), expected: error('spec.injection.restartWorkloads.maxUnavailable', 'Invalid value', COUNT_OR_PERCENT) },
  { name: 'restart-zero-workloads', problem: 'a batch of zero never finishes', manifest: manifest('restart-zero-workloads', istio({ injection: { restartWorkloads: { maxUnavailable: 0 } } })), expected: error('spec.injection.restartWorkloads.maxUnavailable', 'Invalid value', COUNT_OR_PERCENT) },
  { name: 'restart-interval-without-unit', problem: 'a duration without a unit', manifest: manifest('restart-interval-without-unit', istio({ injection: { restartWorkloads: { batchInterval: '30' } } })), expected: error('spec.injection.restartWorkloads.batchInterval', 'Invalid value', DURATION) },
  { name: 'restart-interval-too-long', problem: 'a day-long pause between batches', manifest: manifest('restart-interval-too-long', istio({ injection: { restartWorkloads: { batchInterval: '48h' } } })), expected: error('spec.injection.restartWorkloads.batchInterval', 'Invalid value', 'must be at most 24h') },

  { name: 'linkerd-gateways', problem: 'Linkerd has no gateway component', manifest: manifest('linkerd-gateways', linkerd({ gateways: [gateway({})] })), expected: error('spec.gateways', 'Forbidden', 'gateways are supported only for mesh istio') },
  { name: 'gateway-duplicate-name', problem: 'two gateways with one name', manifest: manifest('gateway-duplicate-name', istio({ gateways: [gateway({}), gateway({ kind: 'Egress' })] })), expected: /spec\.gateways\[1\]: Duplicate value: \{"name":"ingress"\}/ },
  { name: 'gateway-kind-unknown', problem: 'gateway kind outside Ingress/Egress', manifest: manifest('gateway-kind-unknown', istio({ gateways: [gateway({ kind: 'Sidecar' })] })), expected: error('spec.gateways[0].kind', 'Unsupported value', 'supported values: "Ingress", "Egress"') },
  { name: 'gateway-name-invalid', problem: 'gateway name unusable for a Deployment', manifest: manifest('gateway-name-invalid', istio({ gateways: [gateway({ name: 'Ingress_GW' })] })), expected: error('spec.gateways[0].name', 'Invalid value', DNS_LABEL) },
  { name: 'gateway-port-too-high', problem: 'port above 65535', manifest: manifest('gateway-port-too-high', istio({ gateways: [gateway({ service: { ports: [{ name: 'http', port: 70000 }] } })] })), expected: error('spec.gateways[0].service.ports[0].port', 'Invalid value', 'should be less than or equal to 65535') },
  { name: 'gateway-port-zero', problem: 'port 0', manifest: manifest('gateway-port-zero', istio({ gateways: [gateway({ service: { ports: [{ name: 'http', port: 0 }] } })] })), expected: error('spec.gateways[0].service.ports[0].port', 'Invalid value', 'should be greater than or equal to 1') },
  { name: 'gateway-port-number-twice', problem: 'two port names for one port number', manifest: manifest('gateway-port-number-twice', istio({ gateways: [gateway({ service: { ports: [{ name: 'http', port: 80 }, { name: 'http-alt', port: 80 }] } })] })), expected: error('spec.gateways[0].service.ports', 'Invalid value', 'each port number may appear once per protocol') },
  { name: 'gateway-node-port-on-cluster-ip', problem: 'nodePort on a ClusterIP Service', manifest: manifest('gateway-node-port-on-cluster-ip', istio({ gateways: [gateway({ service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: 30080 }] } })] })), expected: error('spec.gateways[0].service.ports', 'Invalid value', 'nodePort requires type NodePort or LoadBalancer') },
  { name: 'gateway-traffic-policy-on-cluster-ip', problem: 'externalTrafficPolicy on a ClusterIP Service', manifest: manifest('gateway-traffic-policy-on-cluster-ip', istio({ gateways: [gateway({ service: { type: 'ClusterIP', externalTrafficPolicy: 'Local' } })] })), expected: error('spec.gateways[0].service.externalTrafficPolicy', 'Forbidden', 'externalTrafficPolicy requires service type NodePort or LoadBalancer; the Service of this gateway is ClusterIP$') },
  { name: 'gateway-traffic-policy-on-egress-default', problem: 'externalTrafficPolicy on an Egress gateway, whose Service defaults to ClusterIP', manifest: manifest('gateway-traffic-policy-on-egress-default', istio({ gateways: [gateway({ kind: 'Egress', service: { externalTrafficPolicy: 'Local' } })] })), expected: error('spec.gateways[0].service.externalTrafficPolicy', 'Forbidden', 'is ClusterIP \\(the default for Egress gateways\\)') },
  { name: 'gateway-traffic-policy-unknown', problem: 'a traffic policy Kubernetes does not have', manifest: manifest('gateway-traffic-policy-unknown', istio({ gateways: [gateway({ service: { externalTrafficPolicy: 'Nearest' } })] })), expected: error('spec.gateways[0].service.externalTrafficPolicy', 'Unsupported value', 'supported values: "Cluster", "Local"') },
  { name: 'gateway-sysctl-name-invalid', problem: 'a sysctl name with capitals and spaces', manifest: manifest('gateway-sysctl-name-invalid', istio({ gateways: [gateway({ securityContext: { sysctls: [{ name: 'Net IPv4', value: '0' }] } })] })), expected: error('spec.gateways[0].securityContext.sysctls[0].name', 'Invalid value', 'must be a sysctl name such as net\\.ipv4\\.ip_unprivileged_port_start') },
  { name: 'gateway-sysctl-twice', problem: 'one sysctl set twice', manifest: manifest('gateway-sysctl-twice', istio({ gateways: [gateway({ securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }, { name: 'net.ipv4.ip_unprivileged_port_start', value: '80' }] } })] })), expected: /spec\.gateways\[0\]\.securityContext\.sysctls\[1\]: Duplicate value: \{"name":"net\.ipv4\.ip_unprivileged_port_start"\}/ },
  { name: 'gateway-root-without-opt-out', problem: 'running as root while the gateway refuses root by default', manifest: manifest('gateway-root-without-opt-out', istio({ gateways: [gateway({ securityContext: { runAsUser: 0 } })] })), expected: error('spec.gateways[0].securityContext.runAsNonRoot', 'Invalid value', 'runAsUser 0 \\(root\\) requires runAsNonRoot: false') },
  { name: 'gateway-seccomp-localhost-without-profile', problem: 'a Localhost seccomp profile that names no profile', manifest: manifest('gateway-seccomp-localhost-without-profile', istio({ gateways: [gateway({ securityContext: { seccompProfile: { type: 'Localhost' } } })] })), expected: error('spec.gateways[0].securityContext.seccompProfile.localhostProfile', 'Invalid value', 'localhostProfile is required with type Localhost') },
  { name: 'gateway-replicas-with-autoscaling', problem: 'fixed replicas would fight the autoscaler', manifest: manifest('gateway-replicas-with-autoscaling', istio({ gateways: [gateway({ replicas: 3, autoscaling: { enabled: true } })] })), expected: error('spec.gateways[0].replicas', 'Forbidden', 'replicas cannot be set when autoscaling is enabled') },
  { name: 'gateway-autoscaling-min-above-max', problem: 'minReplicas above maxReplicas', manifest: manifest('gateway-autoscaling-min-above-max', istio({ gateways: [gateway({ autoscaling: { enabled: true, minReplicas: 6, maxReplicas: 3 } })] })), expected: error('spec.gateways[0].autoscaling.maxReplicas', 'Invalid value', 'maxReplicas must be at least minReplicas') },
  { name: 'gateway-autoscaling-target-over-100', problem: 'CPU target above 100 percent', manifest: manifest('gateway-autoscaling-target-over-100', istio({ gateways: [gateway({ autoscaling: { enabled: true, targetCPUUtilizationPercent: 150 } })] })), expected: error('spec.gateways[0].autoscaling.targetCPUUtilizationPercent', 'Invalid value', 'should be less than or equal to 100') },
  { name: 'gateway-replicas-too-many', problem: 'gateway replicas above the cap', manifest: manifest('gateway-replicas-too-many', istio({ gateways: [gateway({ replicas: 101 })] })), expected: error('spec.gateways[0].replicas', 'Invalid value', 'should be less than or equal to 100') },
  { name: 'gateway-pdb-both-bounds', problem: 'a disruption budget with both bounds', manifest: manifest('gateway-pdb-both-bounds', istio({ gateways: [gateway({ podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } })] })), expected: error('spec.gateways[0].podDisruptionBudget', 'Invalid value', 'set exactly one of minAvailable or maxUnavailable') },
  { name: 'gateway-pdb-zero-percent', problem: 'a disruption budget of 0%', manifest: manifest('gateway-pdb-zero-percent', istio({ gateways: [gateway({ podDisruptionBudget: { maxUnavailable: '0%' } })] })), expected: error('spec.gateways[0].podDisruptionBudget.maxUnavailable', 'Invalid value', COUNT_OR_PERCENT) },
  { name: 'gateway-request-above-limit', problem: 'a gateway CPU request above its limit (the equal memory request is fine)', manifest: manifest('gateway-request-above-limit', istio({ gateways: [gateway({ resources: { requests: { cpu: '1500m', memory: '1Gi' }, limits: { cpu: 1, memory: '1Gi' } } })] })), expected: error('spec.gateways[0].resources.requests', 'Invalid value', 'requests\\.cpu \\(1500m\\) must not exceed limits\\.cpu \\(1\\)') },
  { name: 'gateway-storage-request-above-limit', problem: 'an ephemeral-storage request above its limit', manifest: manifest('gateway-storage-request-above-limit', istio({ gateways: [gateway({ resources: { requests: { 'ephemeral-storage': '2Gi' }, limits: { 'ephemeral-storage': '1Gi' } } })] })), expected: error('spec.gateways[0].resources.requests', 'Invalid value', 'requests\\.ephemeral-storage \\(2Gi\\) must not exceed limits\\.ephemeral-storage \\(1Gi\\)') },
  { name: 'gateway-other-request-above-limit', problem: 'a request of another resource above its limit', manifest: manifest('gateway-other-request-above-limit', istio({ gateways: [gateway({ resources: { requests: { 'hugepages-2Mi': '4Mi' }, limits: { 'hugepages-2Mi': '2Mi' } } })] })), expected: error('spec.gateways[0].resources.requests', 'Invalid value', 'each request must be at most the limit of the same resource') },
  { name: 'too-many-gateways', problem: 'more than 16 gateways', manifest: manifest('too-many-gateways', istio({ gateways: Array.from({ length: 17 }, (_, i) => gateway({ name: `gw-${i}` })) })), expected: /spec\.gateways: Too many: 17: must have at most 16 items/ },

  { name: 'upgrade-strategy-unknown', problem: 'an upgrade strategy that does not exist', manifest: manifest('upgrade-strategy-unknown', istio({ upgrade: { strategy: 'BlueGreen' } })), expected: error('spec.upgrade.strategy', 'Unsupported value', 'supported values: "InPlace", "Canary"') },
  { name: 'linkerd-canary', problem: 'Linkerd has no side-by-side revisions', manifest: manifest('linkerd-canary', linkerd({ upgrade: { strategy: 'Canary' } })), expected: error('spec.upgrade.strategy', 'Invalid value', 'mesh linkerd supports only upgrade strategy InPlace') },
  { name: 'canary-plan-for-in-place', problem: 'a canary plan that would never be used', manifest: manifest('canary-plan-for-in-place', istio({ upgrade: { strategy: 'InPlace', canary: { steps: [{ namespaces: ['shop'] }] } } })), expected: error('spec.upgrade.canary', 'Forbidden', 'canary is allowed only with strategy Canary') },
  { name: 'canary-step-without-target', problem: 'a canary step that moves nothing', manifest: manifest('canary-step-without-target', istio({ upgrade: { strategy: 'Canary', canary: { steps: [{ pause: '5m' }] } } })), expected: error('spec.upgrade.canary.steps[0]', 'Invalid value', 'set exactly one of namespaces or namespaceSelector') },
  { name: 'canary-pause-too-long', problem: 'a pause longer than a week', manifest: manifest('canary-pause-too-long', istio({ upgrade: { strategy: 'Canary', canary: { steps: [{ namespaces: ['shop'], pause: '200h' }] } } })), expected: error('spec.upgrade.canary.steps[0].pause', 'Invalid value', 'must be at most 168h') },
  { name: 'progress-deadline-too-short', problem: 'a deadline no rollout can meet', manifest: manifest('progress-deadline-too-short', istio({ upgrade: { progressDeadline: '5s' } })), expected: error('spec.upgrade.progressDeadline', 'Invalid value', 'must be between 10s and 24h') },
  { name: 'progress-deadline-in-words', problem: 'a duration in words', manifest: manifest('progress-deadline-in-words', istio({ upgrade: { progressDeadline: '10 minutes' } })), expected: error('spec.upgrade.progressDeadline', 'Invalid value', DURATION) },

  { name: 'overlay-op-unknown', problem: 'merge is not a JSON Patch operation', manifest: manifest('overlay-op-unknown', istio({ overlays: [patchedDeployment({ op: 'merge', path: '/spec', value: {} })] })), expected: error('spec.overlays[0].patches[0].op', 'Unsupported value', 'supported values: "add", "remove", "replace", "move", "copy", "test"') },
  { name: 'overlay-path-not-pointer', problem: 'a dotted path instead of a JSON Pointer', manifest: manifest('overlay-path-not-pointer', istio({ overlays: [patchedDeployment({ op: 'remove', path: 'spec.replicas' })] })), expected: error('spec.overlays[0].patches[0].path', 'Invalid value', 'must be a JSON Pointer starting with "/"') },
  { name: 'overlay-renames-object', problem: 'a patch that would retarget the object', manifest: manifest('overlay-renames-object', istio({ overlays: [patchedDeployment({ op: 'replace', path: '/metadata/name', value: 'other' })] })), expected: error('spec.overlays[0].patches[0].path', 'Invalid value', 'must not change apiVersion, kind, metadata') },
  { name: 'overlay-move-without-from', problem: 'move needs a source', manifest: manifest('overlay-move-without-from', istio({ overlays: [patchedDeployment({ op: 'move', path: '/spec/paused' })] })), expected: error('spec.overlays[0].patches[0].from', 'Invalid value', 'from is required for op move') },
  { name: 'overlay-without-patches', problem: 'an overlay that patches nothing', manifest: manifest('overlay-without-patches', istio({ overlays: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', patches: [] }] })), expected: /spec\.overlays\[0\]\.patches: Invalid value: .*should have at least 1 items/ },

  { name: 'paused-not-boolean', problem: 'paused must be true or false', manifest: manifest('paused-not-boolean', istio({ paused: 'yes' })), expected: /spec\.paused: Invalid value: "string": spec\.paused in body must be of type boolean/ },
];
