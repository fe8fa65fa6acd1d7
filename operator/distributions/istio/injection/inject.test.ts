/**
 * The Istio injector's own rules, on small tables: the pod's record, refusals with upstream-like
 * messages, the native-sidecar choice, the settings taken from the MeshInstallation (proxy image,
 * log level, resources, trust domain, hold-application, revision), canonical quantities and the
 * PROXY_CONFIG form. Upstream's output as a whole is judged by upstream-vectors.test.ts and the
 * referee's differential test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../../api/spec.ts';
import { InjectionError, injectionRecordOf, trustBundleSha256, type InjectionDone, type InjectionRequest, type PodObject } from '../../injection.ts';
import { resolveIstioVersion } from '../catalog.ts';
import { istioInjector } from './index.ts';
import { canonicalDuration, meshProxyConfig, mergeProxyConfig, parseProxyConfigOverride, proxyConfigJson } from './proxy-config.ts';
import { canonicalQuantity } from './quantity.ts';

const installation = (spec: Partial<MeshInstallationSpec> = {}): DefaultedMeshInstallation =>
  ({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', ...spec } as MeshInstallationSpec) }) as DefaultedMeshInstallation;

function request(annotations: Record<string, string> = {}, mi = installation(), extra: Partial<InjectionRequest> = {}): InjectionRequest {
  const pod: PodObject = { metadata: { name: 'web-1', namespace: 'apps', labels: { app: 'web' }, annotations }, spec: { containers: [{ name: 'web', image: 'web:1', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/ready', port: 'http' } } }] } };
  return { pod, namespace: { name: 'apps', labels: { 'istio-injection': 'enabled' }, annotations: {} }, installation: mi, resolved: resolveIstioVersion(mi), trustAnchorsPem: 'ROOT-PEM\n', ...extra };
}

const injected = (r: InjectionRequest): InjectionDone => {
  const outcome = istioInjector.inject(r);
  assert.ok(outcome.injected, `injected (${'reason' in outcome ? outcome.reason : ''})`);
  return outcome;
};
type C = { name: string; image?: string; args?: string[]; env?: Array<{ name: string; value?: string }>; resources?: unknown; restartPolicy?: string; readinessProbe?: { httpGet?: { path: string; port: unknown } } };
const containersOf = (pod: PodObject) => ({ containers: pod.spec.containers as C[], init: (pod.spec.initContainers ?? []) as C[] });
const proxyOf = (pod: PodObject) => [...containersOf(pod).containers, ...containersOf(pod).init].find((c) => c.name === 'istio-proxy')!;
const env = (c: C, name: string) => c.env?.find((e) => e.name === name)?.value;

describe('the Istio injector', () => {
  test('records mesh, installation, revision, proxy version and the trust bundle hash on the pod', () => {
    const done = injected(request());
    assert.deepEqual(done.record, { mesh: 'istio', installation: 'mesh', revision: 'default', proxyVersion: '1.31.1', trustBundleSha256: trustBundleSha256('ROOT-PEM\n') });
    assert.deepEqual(injectionRecordOf(done.pod), done.record);
    const status = JSON.parse(done.pod.metadata.annotations!['sidecar.istio.io/status']!) as { revision: string; containers: string[] };
    assert.equal(status.revision, 'default');
    assert.equal(done.pod.metadata.annotations!['kubectl.kubernetes.io/default-container'], 'web');
  });

  test('takes the proxy image, log level, resources, trust domain and hold-application from the installation', () => {
    const mi = installation({ registry: 'mirror.example.com/istio', meshConfig: { trustDomain: 'example.org', proxy: { logLevel: 'debug', holdApplicationUntilProxyStarts: true, resources: { requests: { cpu: '250m' } } } } as MeshInstallationSpec['meshConfig'] });
    const proxy = proxyOf(injected(request({}, mi, { nativeSidecars: false })).pod);
    assert.equal(proxy.image, 'mirror.example.com/istio/proxyv2:1.31.1');
    assert.ok(proxy.args!.includes('--proxyLogLevel=debug'));
    assert.deepEqual(proxy.resources, { limits: { cpu: '2', memory: '1Gi' }, requests: { cpu: '250m', memory: '128Mi' } });
    assert.equal(env(proxy, 'TRUST_DOMAIN'), 'example.org');
    assert.equal(env(proxy, 'PROXY_CONFIG'), '{"holdApplicationUntilProxyStarts":true}\n');
    assert.equal(containersOf(injected(request({}, mi, { nativeSidecars: false })).pod).containers[0]!.name, 'istio-proxy', 'holding the application puts the proxy first');
  });

  test('a Canary installation injects its revision and its istiod', () => {
    const mi = installation({ version: '1.30.4', upgrade: { strategy: 'Canary' } as MeshInstallationSpec['upgrade'] });
    const done = injected(request({}, mi));
    assert.equal(done.record.revision, '1-30-4');
    assert.equal(done.pod.metadata.annotations!['istio.io/rev'], '1-30-4');
    assert.equal(env(proxyOf(done.pod), 'CA_ADDR'), 'istiod-1-30-4.istio-system.svc:15012');
    assert.equal(env(proxyOf(done.pod), 'PROXY_CONFIG'), '{"discoveryAddress":"istiod-1-30-4.istio-system.svc:15012"}\n');
  });

  const nativeCases: Array<[string | undefined, boolean | undefined, boolean]> = [
    [undefined, undefined, false], [undefined, true, true], [undefined, false, false],
    ['true', false, true], ['false', true, false], ['yes', false, true],
  ];
  for (const [annotation, requested, native] of nativeCases) {
    test(`native sidecar: annotation ${annotation ?? 'unset'}, request ${requested ?? 'unset'} -> ${native ? 'native' : 'classic'}`, () => {
      const done = injected(request(annotation === undefined ? {} : { 'sidecar.istio.io/nativeSidecar': annotation }, installation(), requested === undefined ? {} : { nativeSidecars: requested }));
      const { containers, init } = containersOf(done.pod);
      assert.equal(init.some((c) => c.name === 'istio-proxy' && c.restartPolicy === 'Always'), native);
      assert.equal(containers.some((c) => c.name === 'istio-proxy'), !native);
      assert.deepEqual(init.map((c) => c.name).slice(0, native ? 2 : 1), native ? ['istio-init', 'istio-proxy'] : ['istio-init']);
    });
  }

  test('rewrites the probes to the agent and hands the originals to it', () => {
    const done = injected(request());
    const web = containersOf(done.pod).containers.find((c) => c.name === 'web')!;
    assert.deepEqual(web.readinessProbe, { httpGet: { path: '/app-health/web/readyz', port: 15020 } });
    assert.equal(env(proxyOf(done.pod), 'ISTIO_KUBE_APP_PROBERS'), '{"/app-health/web/readyz":{"httpGet":{"path":"/ready","port":8080}}}');
    assert.equal(containersOf(injected(request({ 'sidecar.istio.io/rewriteAppHTTPProbers': 'false' })).pod).containers[0]!.readinessProbe!.httpGet!.port, 'http');
  });

  test('honours traffic annotations in istio-init\'s arguments', () => {
    const done = injected(request({ 'traffic.sidecar.istio.io/excludeOutboundPorts': '9000', 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8', 'status.sidecar.istio.io/port': '0' }));
    const init = containersOf(done.pod).init.find((c) => c.name === 'istio-init')!;
    assert.deepEqual(init.args!.slice(9, 18), ['-i', '10.0.0.0/8', '-x', '', '-b', '*', '-d', '15090,15021', '-o']);
  });

  const refusals: Array<[Record<string, string>, RegExp]> = [
    [{ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/33' }, /invalid value '10\.0\.0\.0\/33' for annotation 'traffic\.sidecar\.istio\.io\/includeOutboundIPRanges': includeIPRanges invalid/],
    [{ 'sidecar.istio.io/interceptionMode': 'BOGUS' }, /interceptionMode invalid, use REDIRECT,TPROXY,NONE: BOGUS/],
    [{ 'status.sidecar.istio.io/port': '70000' }, /for annotation 'status\.sidecar\.istio\.io\/port'/],
    [{ 'readiness.status.sidecar.istio.io/periodSeconds': 'often', 'traffic.sidecar.istio.io/excludeInboundPorts': '-3' }, /2 errors occurred:[\s\S]*periodSeconds[\s\S]*excludeInboundPorts/],
    [{ 'sidecar.istio.io/proxyCPU': 'lots' }, /for annotation 'sidecar\.istio\.io\/proxyCPU'/],
    [{ 'proxy.istio.io/config': 'terminationDrainDuration: 1m' }, /proxy\.istio\.io\/config.*bad Duration/],
    [{ 'prometheus.io/port': '15090' }, /port 15090 is reserved for Istio \(Envoy Prometheus/],
  ];
  for (const [annotations, message] of refusals) {
    test(`refuses ${JSON.stringify(annotations)} naming the annotation`, () => {
      assert.throws(() => istioInjector.inject(request(annotations)), (error: unknown) => error instanceof InjectionError && message.test(error.message));
    });
  }
});

describe('quantities and proxy config as Istio writes them', () => {
  const quantities: Array<[string, string]> = [['2000m', '2'], ['1024Mi', '1Gi'], ['100m', '100m'], ['0.5', '500m'], ['1000', '1k'], ['1.5Gi', '1536Mi'], ['128Mi', '128Mi'], ['0', '0'], ['1', '1']];
  for (const [input, canonical] of quantities) test(`quantity ${input} -> ${canonical}`, () => assert.equal(canonicalQuantity(input), canonical));

  test('PROXY_CONFIG leaves out Istio\'s defaults and keeps the proto\'s field order', () => {
    const mesh = meshProxyConfig({ discoveryAddress: 'istiod.istio-system.svc:15012' });
    assert.equal(proxyConfigJson(mesh), '{}');
    const merged = mergeProxyConfig(mesh, parseProxyConfigOverride('holdApplicationUntilProxyStarts: true\nconcurrency: 0\ndiscoveryAddress: foo:123\nproxyMetadata: {B: "2", A: "1"}\nterminationDrainDuration: 20.5s'));
    assert.equal(proxyConfigJson(merged), '{"discoveryAddress":"foo:123","concurrency":0,"proxyMetadata":{"A":"1","B":"2"},"terminationDrainDuration":"20.500s","holdApplicationUntilProxyStarts":true}');
  });

  test('durations as protobuf JSON writes them; other forms refused', () => {
    assert.deepEqual(['5s', '1.5s', '0.000001s', '23s'].map(canonicalDuration), ['5s', '1.500s', '0.000001s', '23s']);
    assert.throws(() => canonicalDuration('1m'), /bad Duration/);
  });
});
