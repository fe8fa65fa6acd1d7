/**
 * Istio's injection vectors (`../shared/reference/istio/inject`, from Istio's main branch of
 * 2026-08-22, `pkg/kube/inject/testdata/inject`) with the settings upstream's `TestInjection` table
 * injects each with, mapped to a MeshInstallation spec and request options. Every input and
 * expected file of the directory is accounted for: compared, or out of scope with the reason.
 *
 * How upstream's settings map:
 * - Upstream's default settings are Istio's chart defaults with hub `registry.istio.io/testing`
 *   and tag `latest`: a default spec, with the proxy image given as a request image override.
 * - Upstream decides native sidecars from fake nodes with kubelets >= 1.33 (on); its `-old-version`
 *   vectors turn them off: `request.nativeSidecars`.
 * - `values.global.proxy.holdApplicationUntilProxyStarts` is `meshConfig.proxy.holdApplicationUntilProxyStarts`
 *   in meshwright, which sets the mesh's `defaultConfig` (Istio's recommended way): the same pod,
 *   but PROXY_CONFIG then carries it (a named difference).
 * - Settings our API does not have (CNI, TPROXY or another mesh-wide interception mode, custom
 *   image names, pull policies, custom templates, a status port, IP ranges, proxy metadata, ...)
 *   make a vector out of scope, naming the setting.
 *
 * Two differences are expected of every compared vector and named where they occur (computed from
 * the files, so each is listed only where it shows):
 * - `GOMAXPROCS` on the proxy: Istio's template added it on 2026-08-27, after these vectors were
 *   taken; meshwright follows the newer template, which the differential test's referee has.
 * - What Go's typed serialiser writes for zero values in kube-inject's output (`resources: {}` on
 *   containers without resources, `strategy: {}`, `updateStrategy: {}`, `status`) and which an
 *   admitted pod does not carry.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { MeshInstallationSpec } from '../../../api/spec.ts';
import { sharedReferenceDir, type InjectVector, type InjectVectorTable, type NamedDifference } from '../../inject-conformance.ts';

/**
 * Where the vectors are: the shared reference, or another snapshot of Istio's
 * `pkg/kube/inject/testdata/inject` named by MESHWRIGHT_ISTIO_VECTORS_DIR (e.g. the referee module's
 * copy, `<referee dir>/module/testdata/inject`), judged by the same table.
 */
export const ISTIO_VECTORS_DIR = process.env.MESHWRIGHT_ISTIO_VECTORS_DIR || join(sharedReferenceDir(), 'istio', 'inject');

/** The proxy image of upstream's test settings (hub registry.istio.io/testing, tag latest). */
const TEST_IMAGES = { proxyv2: 'registry.istio.io/testing/proxyv2:latest' };
const NATIVE = { request: { images: TEST_IMAGES, nativeSidecars: true } };
const CLASSIC = { request: { images: TEST_IMAGES, nativeSidecars: false } };
const HOLD: Partial<MeshInstallationSpec> = { meshConfig: { proxy: { holdApplicationUntilProxyStarts: true } } as MeshInstallationSpec['meshConfig'] };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A path step as the harness's structural diff writes it. */
const child = (path: string, key: string) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`);

function documents(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(ISTIO_VECTORS_DIR, file), 'utf8')).map((d) => d.toJS() as unknown).filter(isRecord);
}

const GOMAXPROCS_WHY = 'Istio\'s template sets GOMAXPROCS from limits.cpu since 2026-08-27, after these vectors were taken; meshwright follows the newer template (the one the differential referee runs)';
const ZERO_WHY = 'Go\'s typed serialiser writes this zero value into kube-inject\'s output; an admitted pod does not carry it';

/** The expected differences of one compared vector, found in its input and expected files. */
function expectedDifferences(input: string, expected: string, extra: NamedDifference[] = []): NamedDifference[] {
  const out: NamedDifference[] = [...extra];
  const inputs = documents(input);
  documents(expected).forEach((doc, i) => {
    const visit = (node: unknown, original: unknown, path: string) => {
      if (Array.isArray(node)) {
        const byName = node.every((e) => isRecord(e) && typeof e.name === 'string');
        node.forEach((e, j) => {
          const name = byName ? String((e as { name: string }).name) : String(j);
          const o = Array.isArray(original) ? (byName ? original.find((x) => isRecord(x) && x.name === name) : original[j]) : undefined;
          visit(e, o, `${path}[${name}]`);
        });
        return;
      }
      if (!isRecord(node)) return;
      for (const [k, v] of Object.entries(node)) {
        const here = child(path, k);
        const o = isRecord(original) ? original[k] : undefined;
        if ((k === 'status' || (k === 'metadata' && isRecord(v) && Object.keys(v).length === 0)) && o === undefined && (path === '' || /^items\[\d+\]$/.test(path))) out.push({ path: here, why: ZERO_WHY });
        else if (['resources', 'strategy', 'updateStrategy'].includes(k) && isRecord(v) && Object.keys(v).length === 0 && o === undefined) out.push({ path: here, why: ZERO_WHY });
        else if (k === 'env' && Array.isArray(v) && isRecord(node) && node.name === 'istio-proxy' && !v.some((e) => isRecord(e) && e.name === 'GOMAXPROCS')) out.push({ path: `${here}[GOMAXPROCS]`, why: GOMAXPROCS_WHY });
        else visit(v, o, here);
      }
    };
    visit(doc, inputs[i], '');
  });
  return out;
}

/** A compared vector: `input` injected with `settings` must give `expected`. */
function compared(name: string, input: string, expected: string, settings: Partial<InjectVector> = NATIVE, extra: NamedDifference[] = []): InjectVector {
  // Upstream's table also names files this snapshot of the directory lacks: no vector for those.
  if (!existsSync(join(ISTIO_VECTORS_DIR, expected))) return { name, outOfScope: ABSENT };
  if (!existsSync(join(ISTIO_VECTORS_DIR, input))) return { name, outOfScope: `its input ${input} is not in the reference directory (only the expected file was taken), so there is nothing to inject` };
  return { name, input, expected, ...settings, namedDifferences: expectedDifferences(input, expected, extra) };
}

/** Marks a row of upstream's table whose files are not in this directory (dropped from the table). */
const ABSENT = 'not in this snapshot of the vectors';

/** PROXY_CONFIG when the mesh config holds the application (see the module comment). */
function holdInProxyConfig(input: string): NamedDifference {
  const kind = (existsSync(join(ISTIO_VECTORS_DIR, input)) ? documents(input)[0] : {}) as { kind?: string };
  const at = kind.kind === 'Pod' ? 'spec' : 'spec.template.spec';
  return {
    path: `${at}.initContainers[istio-proxy].env[PROXY_CONFIG].value`,
    why: 'upstream sets the chart value global.proxy.holdApplicationUntilProxyStarts; meshwright sets the mesh config\'s defaultConfig, which PROXY_CONFIG carries',
  };
}

/** Expected files of out-of-scope vectors named otherwise than `<name>.yaml.injected` or `<name>.injected`. */
const EXPECTED_FILE: Record<string, string> = { 'proxy-override-runas.tproxy': 'proxy-override-runas.yaml.tproxy.injected', 'proxy-override-runas.cni': 'proxy-override-runas.yaml.cni.injected' };
const expectedFilesOf = (name: string) => [EXPECTED_FILE[name], `${name}.yaml.injected`, `${name}.injected`].filter((f): f is string => f !== undefined);
const outOfScope = (name: string, reason: string): InjectVector =>
  expectedFilesOf(name).some((f) => existsSync(join(ISTIO_VECTORS_DIR, f))) ? { name, outOfScope: reason } : { name, outOfScope: ABSENT };
const OUT = {
  cni: 'needs Istio CNI (components.cni.enabled), which meshwright does not install',
  multus: 'needs Istio CNI with the Multus provider, which meshwright does not install',
  tproxy: 'needs the mesh-wide TPROXY interception mode (meshConfig.defaultConfig.interceptionMode), which the MeshInstallation API does not expose',
  imageName: 'needs a custom proxy image name (values.global.proxy.image / proxy_init.image); meshwright uses the catalog\'s proxyv2 image for both containers',
  pullPolicy: 'needs values.global.imagePullPolicy, which the MeshInstallation API does not expose',
  drain: 'needs meshConfig.defaultConfig.drainDuration, which the MeshInstallation API does not expose',
  trafficValues: 'needs the chart\'s traffic values (global.proxy.includeIPRanges, excludeIPRanges, excludeInboundPorts, statusPort), which the MeshInstallation API does not expose (pods set them by annotation)',
  statusPort: 'needs the chart\'s status port and readiness values (global.proxy.statusPort=123, readiness*), which the MeshInstallation API does not expose',
  pullSecrets: 'needs values.global.imagePullSecrets, which the MeshInstallation API does not expose',
  customTemplate: 'needs a custom injection template (sidecarInjectorWebhook.templates / inject.istio.io/templates), which meshwright does not support',
  mtlsCerts: 'needs values.global.mountMtlsCerts, which the MeshInstallation API does not expose',
  proxyMetadata: 'needs meshConfig.defaultConfig.proxyMetadata, which the MeshInstallation API does not expose',
  tracingOff: 'needs meshConfig.defaultConfig.tracing, which the MeshInstallation API does not expose',
  openShift: 'OpenShift only: upstream checks it through the webhook with namespace UID-range annotations on an OpenShift platform, which meshwright does not target',
  localhost: 'needs meshConfig.inboundTrafficPolicy LOCALHOST, which the MeshInstallation API does not expose',
  nullResources: 'needs proxy resources with a quantity removed (null in the chart values); meshConfig.proxy.resources merges over the profile quantity by quantity and cannot remove one',
  otel: 'needs an OpenTelemetry provider with serviceAttributeEnrichment, which the MeshInstallation API does not expose',
  fips: 'needs istiod\'s COMPLIANCE_POLICY=fips-140-3, which the MeshInstallation API does not expose',
  deploymentConfig: 'an OpenShift DeploymentConfig (apps.openshift.io), not a kind meshwright injects',
  cronJob: 'kube-inject writes a CronJob\'s injected labels and annotations on the job template\'s metadata (spec.jobTemplate.metadata), not on the pods\'; meshwright injects the pod template, as the pods are created (and the webhook sees them)',
};

const special: InjectVector[] = [
  outOfScope('hello.yaml.cni', OUT.cni),
  outOfScope('hello.yaml.proxyImageName', OUT.imageName),
  outOfScope('hello.yaml.proxyInitImageName', OUT.imageName),
  outOfScope('hello-tproxy', OUT.tproxy),
  outOfScope('hello-always', OUT.pullPolicy),
  outOfScope('hello-never', OUT.pullPolicy),
  compared('hello-old-version', 'hello.yaml', 'hello-old-version.yaml.injected', CLASSIC),
  outOfScope('format-duration', OUT.drain),
  outOfScope('traffic-params', OUT.trafficValues),
  outOfScope('status_params', OUT.statusPort),
  outOfScope('kubevirtInterfaces', OUT.statusPort),
  outOfScope('reroute-virtual-interfaces', OUT.statusPort),
  outOfScope('hello-image-secrets-in-values', OUT.pullSecrets),
  outOfScope('hello-multiple-image-secrets', OUT.pullSecrets),
  outOfScope('hello-template-in-values', OUT.customTemplate),
  outOfScope('hello-mount-mtls-certs', OUT.mtlsCerts),
  outOfScope('hello-cncf-networks', OUT.multus),
  outOfScope('hello-existing-cncf-networks', OUT.multus),
  outOfScope('hello-existing-cncf-networks-json', OUT.multus),
  compared('hello.proxyHoldsApplication', 'hello.yaml', 'hello.proxyHoldsApplication.yaml.injected', { ...NATIVE, spec: HOLD }, [holdInProxyConfig('hello.yaml')]),
  compared('hello-probes.proxyHoldsApplication', 'hello-probes.yaml', 'hello-probes.proxyHoldsApplication.yaml.injected', { ...NATIVE, spec: HOLD }, [holdInProxyConfig('hello-probes.yaml')]),
  compared('hello-probes-proxyHoldApplication-ProxyConfig', 'hello-probes-proxyHoldApplication-ProxyConfig.yaml', 'hello-probes-proxyHoldApplication-ProxyConfig.yaml.injected'),
  // The pod's own proxy config (hold: false) is what PROXY_CONFIG carries on both sides here.
  compared('hello-probes-noProxyHoldApplication-ProxyConfig', 'hello-probes-noProxyHoldApplication-ProxyConfig.yaml', 'hello-probes-noProxyHoldApplication-ProxyConfig.yaml.injected', { ...NATIVE, spec: HOLD }),
  outOfScope('cronjob-old-version', OUT.cronJob),
  compared('daemonset-old-version', 'daemonset.yaml', 'daemonset-old-version.yaml.injected', CLASSIC),
  compared('job-old-version', 'job.yaml', 'job-old-version.yaml.injected', CLASSIC),
  compared('pod-old-version', 'pod.yaml', 'pod-old-version.yaml.injected', CLASSIC),
  compared('replicaset-old-version', 'replicaset.yaml', 'replicaset-old-version.yaml.injected', CLASSIC),
  compared('statefulset-old-version', 'statefulset.yaml', 'statefulset-old-version.yaml.injected', CLASSIC),
  ...[['includeipranges', 'includeIPRanges'], ['excludeipranges', 'excludeIPRanges'], ['includeinboundports', 'includeInboundPorts'], ['excludeinboundports', 'excludeInboundPorts'], ['excludeoutboundports', 'excludeOutboundPorts']]
    .filter(([file]) => existsSync(join(ISTIO_VECTORS_DIR, `traffic-annotations-bad-${file}.yaml`)))
    .map(([file, field]): InjectVector => ({ name: `traffic-annotations-bad-${file}`, input: `traffic-annotations-bad-${file}.yaml`, expectedError: `${field} invalid`, ...NATIVE })),
  outOfScope('traffic-annotations', OUT.proxyMetadata),
  outOfScope('proxy-override-runas.cni', OUT.cni),
  outOfScope('proxy-override-runas.tproxy', OUT.tproxy),
  compared('proxy-override-args-native', 'proxy-override-args.yaml', 'proxy-override-args-native.yaml.injected'),
  compared('native-sidecar-old-version', 'native-sidecar.yaml', 'native-sidecar-old-version.yaml.injected', CLASSIC),
  compared('native-sidecar-opt-in', 'native-sidecar-opt-in.yaml', 'native-sidecar-opt-in.yaml.injected'),
  compared('native-sidecar-opt-in (classic cluster)', 'native-sidecar-opt-in.yaml', 'native-sidecar-opt-in.yaml.injected', CLASSIC),
  compared('native-sidecar-opt-out', 'native-sidecar-opt-out.yaml', 'native-sidecar-opt-out.yaml.injected'),
  compared('native-sidecar-opt-out (classic cluster)', 'native-sidecar-opt-out.yaml', 'native-sidecar-opt-out.yaml.injected', CLASSIC),
  outOfScope('custom-template', OUT.customTemplate),
  compared('hello-host-network-with-ns', 'hello-host-network-with-ns.yaml', 'hello-host-network-with-ns.yaml.injected'),
  outOfScope('merge-probers', 'its input is already injected (it carries sidecar.istio.io/status): Istio re-injects it, meshwright never injects a pod twice (issue 14) and leaves it as it is'),
  outOfScope('hello-tracing-disabled', OUT.tracingOff),
  outOfScope('hello-openshift', OUT.openShift),
  outOfScope('hello-openshift-custom-injection', OUT.openShift),
  outOfScope('hello-openshift-tproxy', OUT.openShift),
  outOfScope('hello-probes-localhost', OUT.localhost),
  outOfScope('proxy-resources-null', OUT.nullResources),
  outOfScope('proxy-resources-null-no-init', OUT.nullResources),
  compared('proxy-resources-zero', 'proxy-resources-zero.yaml', 'proxy-resources-zero.yaml.injected', {
    ...NATIVE,
    spec: { meshConfig: { proxy: { resources: { requests: { cpu: '0', memory: '150Mi' }, limits: { cpu: '0', memory: '500Mi' } } } } as MeshInstallationSpec['meshConfig'] },
  }),
  outOfScope('proxy-resources-memory-null', OUT.nullResources),
  outOfScope('proxy-resources-mixed-null', OUT.nullResources),
  outOfScope('sidecar-spire', OUT.customTemplate),
  outOfScope('gateway-spire', OUT.customTemplate),
  outOfScope('hello-otel-semconv', OUT.otel),
  outOfScope('hello-fips-140-3', OUT.fips),
];

/** Inputs with default settings that still need a setting or a kind we do not have. */
const DEFAULT_OUT_OF_SCOPE: Record<string, string> = {
  'grpc-agent.yaml': OUT.customTemplate,
  'grpc-simple.yaml': OUT.customTemplate,
  'gateway.yaml': OUT.customTemplate,
  'multiple-templates.yaml': OUT.customTemplate,
  'deploymentconfig.yaml': OUT.deploymentConfig,
  'deploymentconfig-multi.yaml': OUT.deploymentConfig,
  'deploymentconfig-with-canonical-service-label.yaml': OUT.deploymentConfig,
  'gateway-with-default-container.yaml': OUT.customTemplate,
  'cronjob.yaml': OUT.cronJob,
};

/** Every vector: the special ones, then every other input with default settings against `<input>.injected`. */
function allVectors(): InjectVector[] {
  const files = readdirSync(ISTIO_VECTORS_DIR).sort();
  const covered = new Set(special.flatMap((v) => [v.expected ?? '', ...expectedFilesOf(v.name)]));
  const vectors = special.filter((v) => v.outOfScope !== ABSENT);
  for (const file of files) {
    if (!file.endsWith('.yaml') || file.endsWith('.iop.yaml') || covered.has(`${file}.injected`) || special.some((v) => v.input === file && v.expectedError)) continue;
    if (!existsSync(join(ISTIO_VECTORS_DIR, `${file}.injected`))) continue;
    const name = file.replace(/\.yaml$/, '');
    vectors.push(DEFAULT_OUT_OF_SCOPE[file] ? outOfScope(name, DEFAULT_OUT_OF_SCOPE[file]!) : compared(name, file, `${file}.injected`));
  }
  return vectors;
}

/** Istio's vector table for the conformance harness. */
export const injectVectors: InjectVectorTable = { mesh: 'istio', baseDir: ISTIO_VECTORS_DIR, vectors: allVectors() };

/** Expected files of the directory that no vector compares or names out of scope (must be none, or the table is stale). */
export function unaccountedExpectedFiles(): string[] {
  const named = new Set(injectVectors.vectors.flatMap((v) => [v.expected, ...expectedFilesOf(v.name)]));
  return readdirSync(ISTIO_VECTORS_DIR).filter((f) => f.endsWith('.injected') && !named.has(f));
}
