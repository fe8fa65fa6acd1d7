/**
 * Istio's own injection test vectors (the module's `pkg/kube/inject/testdata/inject`): which input,
 * with which injector settings, must give which expected file. The settings per vector are facts
 * from upstream's `TestInjection` table (the same module version); every input without an entry
 * runs with the default settings against `<input>.injected`, as upstream does.
 */
import { readdirSync } from 'node:fs';

/** A change to the resolved mesh config (a plain object parsed from its YAML). */
export type MeshEdit = (mesh: MeshObject) => void;
export type MeshObject = Record<string, unknown> & { defaultConfig?: Record<string, unknown> };

/** One vector. */
export interface Vector {
  input: string;
  /** The expected file; absent when an error is expected. */
  want?: string;
  /** istioctl-style `--set` flags for the chart render. */
  sets?: string[];
  /** An IstioOperator overlay file among the vectors. */
  overlay?: string;
  mesh?: MeshEdit;
  nativeSidecars?: 'false';
  env?: Record<string, string>;
  /** A substring of the error (lower case), when the injector must refuse the input. */
  error?: string;
  /** A substring of a warning the injector must print. */
  log?: string;
  /** Upstream checks it through the webhook only (it needs OpenShift and namespace annotations). */
  webhookOnly?: boolean;
  /** Fake Namespaces with annotations the webhook reads (upstream's test cluster). */
  namespaceAnnotations?: Record<string, Record<string, string>>;
}

const defaultConfig = (m: MeshObject) => (m.defaultConfig ??= {});
const noNative = { nativeSidecars: 'false' } as const;
const holdApplication = ['values.global.proxy.holdApplicationUntilProxyStarts=true'];
const statusParams = ['values.global.proxy.statusPort=123', 'values.global.proxy.readinessInitialDelaySeconds=100', 'values.global.proxy.readinessPeriodSeconds=200', 'values.global.proxy.readinessFailureThreshold=300'];
const multus = ['components.cni.enabled=true', 'values.cni.provider=multus'];
/**
 * Upstream's OpenShift cases: the platform set to OpenShift, and the namespace `test-ns` of its test
 * cluster with the UID range and supplemental groups OpenShift allocates (the proxy then runs as
 * the range's last UID).
 */
const openShift = {
  sets: ['components.cni.enabled=true'],
  webhookOnly: true,
  env: { PLATFORM: 'openshift' },
  namespaceAnnotations: { 'test-ns': { 'openshift.io/sa.scc.uid-range': '1000620000/10000', 'openshift.io/sa.scc.supplemental-groups': '1000620000/10000' } },
};

/** The vectors with settings of their own (upstream's table). */
const special: Vector[] = [
  { input: 'hello.yaml', want: 'hello.yaml.cni.injected', sets: ['components.cni.enabled=true', 'values.cni.provider=default', 'values.global.network=network1'] },
  { input: 'hello.yaml', want: 'hello.yaml.proxyImageName.injected', sets: ['values.global.proxy.image=proxyTest'] },
  { input: 'hello.yaml', want: 'hello.yaml.proxyInitImageName.injected', sets: ['values.global.proxy_init.image=proxyInitTest'] },
  { input: 'hello.yaml', want: 'hello-tproxy.yaml.injected', mesh: (m) => { defaultConfig(m).interceptionMode = 'TPROXY'; } },
  { input: 'hello.yaml', want: 'hello-always.yaml.injected', sets: ['values.global.imagePullPolicy=Always'] },
  { input: 'hello.yaml', want: 'hello-never.yaml.injected', sets: ['values.global.imagePullPolicy=Never'] },
  { input: 'hello.yaml', want: 'hello-old-version.yaml.injected', ...noNative },
  { input: 'format-duration.yaml', want: 'format-duration.yaml.injected', mesh: (m) => { defaultConfig(m).drainDuration = '23s'; } },
  { input: 'traffic-params.yaml', want: 'traffic-params.yaml.injected', sets: ['values.global.proxy.includeIPRanges=127.0.0.1/24,10.96.0.1/24', 'values.global.proxy.excludeIPRanges=10.96.0.2/24,10.96.0.3/24', 'values.global.proxy.excludeInboundPorts=4,5,6', 'values.global.proxy.statusPort=0'] },
  { input: 'status_params.yaml', want: 'status_params.yaml.injected', sets: statusParams },
  { input: 'kubevirtInterfaces.yaml', want: 'kubevirtInterfaces.yaml.injected', sets: statusParams },
  { input: 'reroute-virtual-interfaces.yaml', want: 'reroute-virtual-interfaces.yaml.injected', sets: statusParams },
  { input: 'hello.yaml', want: 'hello-image-secrets-in-values.yaml.injected', overlay: 'hello-image-secrets-in-values.iop.yaml' },
  { input: 'hello-image-pull-secret.yaml', want: 'hello-multiple-image-secrets.yaml.injected', overlay: 'hello-image-secrets-in-values.iop.yaml' },
  { input: 'hello.yaml', want: 'hello-template-in-values.yaml.injected', overlay: 'hello-template-in-values.iop.yaml' },
  { input: 'hello.yaml', want: 'hello-mount-mtls-certs.yaml.injected', sets: ['values.global.mountMtlsCerts=true'] },
  { input: 'hello.yaml', want: 'hello-cncf-networks.yaml.injected', sets: multus },
  { input: 'hello-existing-cncf-networks.yaml', want: 'hello-existing-cncf-networks.yaml.injected', sets: multus },
  { input: 'hello-existing-cncf-networks-json.yaml', want: 'hello-existing-cncf-networks-json.yaml.injected', sets: multus },
  { input: 'hello.yaml', want: 'hello.proxyHoldsApplication.yaml.injected', sets: holdApplication },
  { input: 'hello-probes.yaml', want: 'hello-probes.proxyHoldsApplication.yaml.injected', sets: holdApplication },
  { input: 'hello-probes-proxyHoldApplication-ProxyConfig.yaml', want: 'hello-probes-proxyHoldApplication-ProxyConfig.yaml.injected' },
  { input: 'hello-probes-noProxyHoldApplication-ProxyConfig.yaml', want: 'hello-probes-noProxyHoldApplication-ProxyConfig.yaml.injected', sets: holdApplication },
  { input: 'hello-service.yaml', want: 'hello-service.yaml.injected' },
  { input: 'cronjob.yaml', want: 'cronjob.yaml.injected' },
  { input: 'cronjob.yaml', want: 'cronjob-old-version.yaml.injected', ...noNative },
  { input: 'daemonset.yaml', want: 'daemonset-old-version.yaml.injected', ...noNative },
  { input: 'job.yaml', want: 'job-old-version.yaml.injected', ...noNative },
  { input: 'pod.yaml', want: 'pod-old-version.yaml.injected', ...noNative },
  { input: 'replicaset.yaml', want: 'replicaset-old-version.yaml.injected', ...noNative },
  { input: 'statefulset.yaml', want: 'statefulset-old-version.yaml.injected', ...noNative },
  ...['includeipranges', 'excludeipranges', 'includeinboundports', 'excludeinboundports', 'excludeoutboundports'].map((field) => ({ input: `traffic-annotations-bad-${field}.yaml`, error: field })),
  { input: 'traffic-annotations.yaml', want: 'traffic-annotations.yaml.injected', mesh: (m) => { const d = defaultConfig(m); d.proxyMetadata = { ...(d.proxyMetadata as object | undefined), ISTIO_META_TLS_CLIENT_KEY: '/etc/identity/client/keys/client-key.pem' }; } },
  { input: 'proxy-override-runas.yaml', want: 'proxy-override-runas.yaml.cni.injected', sets: ['components.cni.enabled=true'] },
  { input: 'proxy-override-runas.yaml', want: 'proxy-override-runas.yaml.tproxy.injected', mesh: (m) => { defaultConfig(m).interceptionMode = 'TPROXY'; } },
  { input: 'proxy-override-args.yaml', want: 'proxy-override-args-native.yaml.injected' },
  { input: 'native-sidecar.yaml', want: 'native-sidecar-old-version.yaml.injected', ...noNative },
  { input: 'native-sidecar-opt-in.yaml', want: 'native-sidecar-opt-in.yaml.injected' },
  { input: 'native-sidecar-opt-in.yaml', want: 'native-sidecar-opt-in.yaml.injected', ...noNative },
  { input: 'native-sidecar-opt-out.yaml', want: 'native-sidecar-opt-out.yaml.injected' },
  { input: 'native-sidecar-opt-out.yaml', want: 'native-sidecar-opt-out.yaml.injected', ...noNative },
  { input: 'custom-template.yaml', want: 'custom-template.yaml.injected', overlay: 'custom-template.iop.yaml' },
  { input: 'hello-host-network-with-ns.yaml', want: 'hello-host-network-with-ns.yaml.injected', log: 'Skipping injection because Deployment "sample/hello-host-network" has host networking enabled' },
  { input: 'merge-probers.yaml', want: 'merge-probers.yaml.injected', sets: holdApplication },
  { input: 'hello-tracing-disabled.yaml', want: 'hello-tracing-disabled.yaml.injected', mesh: (m) => { defaultConfig(m).tracing = {}; } },
  { input: 'hello-openshift.yaml', want: 'hello-openshift.yaml.injected', ...openShift },
  { input: 'hello-openshift-custom-injection.yaml', want: 'hello-openshift-custom-injection.yaml.injected', ...openShift },
  { input: 'hello-openshift-tproxy.yaml', want: 'hello-openshift-tproxy.yaml.injected', ...openShift },
  { input: 'hello-probes-localhost.yaml', want: 'hello-probes-localhost.yaml.injected', mesh: (m) => { m.inboundTrafficPolicy = { mode: 'LOCALHOST' }; } },
  { input: 'proxy-resources-null.yaml', want: 'proxy-resources-null.yaml.injected', overlay: 'proxy-resources-null.iop.yaml' },
  { input: 'proxy-resources-null-no-init.yaml', want: 'proxy-resources-null-no-init.yaml.injected', overlay: 'proxy-resources-null.iop.yaml' },
  { input: 'proxy-resources-zero.yaml', want: 'proxy-resources-zero.yaml.injected', overlay: 'proxy-resources-zero.iop.yaml' },
  { input: 'proxy-resources-memory-null.yaml', want: 'proxy-resources-memory-null.yaml.injected', overlay: 'proxy-resources-memory-null.iop.yaml' },
  { input: 'proxy-resources-mixed-null.yaml', want: 'proxy-resources-mixed-null.yaml.injected', overlay: 'proxy-resources-mixed-null.iop.yaml' },
  { input: 'sidecar-spire.yaml', want: 'sidecar-spire.yaml.injected', overlay: 'spire-template.iop.yaml' },
  { input: 'gateway-spire.yaml', want: 'gateway-spire.yaml.injected', overlay: 'spire-template.iop.yaml' },
  {
    input: 'hello-otel-semconv.yaml', want: 'hello-otel-semconv.yaml.injected',
    mesh: (m) => { m.extensionProviders = [...(m.extensionProviders as unknown[] | undefined ?? []), { name: 'otel', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317, serviceAttributeEnrichment: 'OTEL_SEMANTIC_CONVENTIONS' } }]; },
  },
  { input: 'hello.yaml', want: 'hello-fips-140-3.yaml.injected', env: { COMPLIANCE_POLICY: 'fips-140-3' } },
];

/**
 * Every vector in `dir`: the special ones, then every input (`*.yaml`, not an overlay) whose
 * `<input>.injected` no special vector expects, with default settings. Also returns the expected
 * files no vector uses (there must be none, or the table is stale).
 */
export function upstreamVectors(dir: string): { vectors: Vector[]; unused: string[] } {
  const files = readdirSync(dir).sort();
  const wanted = new Set(special.map((v) => v.want ?? `${v.input}.injected`));
  const vectors = [...special];
  for (const f of files) {
    if (!f.endsWith('.yaml') || f.endsWith('.iop.yaml') || wanted.has(`${f}.injected`)) continue;
    vectors.push({ input: f, want: `${f}.injected` });
  }
  const used = new Set(vectors.map((v) => v.want));
  return { vectors, unused: files.filter((f) => f.endsWith('.injected') && !used.has(f)) };
}
