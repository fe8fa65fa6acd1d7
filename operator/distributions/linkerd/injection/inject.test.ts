/**
 * The Linkerd injector beyond the upstream vectors: values from the MeshInstallation, the
 * native/classic sidecar decision and its overrides, namespace-vs-pod override precedence, invalid
 * override values refused with a clear message, the injection record, owner labels, and a pod never
 * injected twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MeshInstallationSpec } from '../../../api/spec.ts';
import { INJECTED_BY_LABEL, InjectionError, RECORD_ANNOTATIONS, type InjectionDone, type NamespaceView, type PodObject } from '../../injection.ts';
import { linkerdDistribution } from '../index.ts';
import { installation, testdataPath } from '../test-support.ts';
import { injectLinkerdProxy, podInboundPorts } from './inject.ts';

type Container = { name: string; image?: string; env?: Array<{ name: string; value?: string }>; [key: string]: unknown };

const ANCHORS = readFileSync(testdataPath('inject/cli-trust-anchors.pem'), 'utf8');
const ENROLLED: NamespaceView = { name: 'apps', labels: { 'linkerd.io/inject': 'enabled' }, annotations: {} };

function appPod(extra: { annotations?: Record<string, string>; labels?: Record<string, string>; spec?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'apps', labels: { app: 'web', ...extra.labels }, ...(extra.annotations ? { annotations: extra.annotations } : {}), ...extra.metadata },
    spec: { containers: [{ name: 'web', image: 'web:1', ports: [{ containerPort: 8080, name: 'http' }] }], ...extra.spec },
  };
}

function inject(options: { pod?: PodObject; namespace?: NamespaceView; spec?: Partial<MeshInstallationSpec>; nativeSidecars?: boolean; anchors?: string } = {}) {
  const mi = installation(options.spec);
  return injectLinkerdProxy({
    pod: options.pod ?? appPod(), namespace: options.namespace ?? ENROLLED, installation: mi, resolved: linkerdDistribution.resolve(mi),
    trustAnchorsPem: options.anchors ?? ANCHORS, ...(options.nativeSidecars !== undefined ? { nativeSidecars: options.nativeSidecars } : {}),
  });
}

function injected(options: Parameters<typeof inject>[0] = {}): InjectionDone {
  const outcome = inject(options);
  assert.ok(outcome.injected, `expected the pod to be injected, got ${!outcome.injected && outcome.reason}`);
  return outcome;
}

const names = (list: unknown) => ((list ?? []) as Container[]).map((c) => c.name);
const proxyOf = (pod: PodObject): Container =>
  [...((pod.spec.initContainers ?? []) as Container[]), ...(pod.spec.containers as Container[])].find((c) => c.name === 'linkerd-proxy')!;
const envOf = (pod: PodObject, name: string) => proxyOf(pod).env?.find((e) => e.name === name)?.value;

test('native sidecar by default: linkerd-init then linkerd-proxy first among the init containers, a startup probe holds the app back', () => {
  const pod = injected({ pod: appPod({ spec: { initContainers: [{ name: 'migrate', image: 'm:1' }] } }) }).pod;
  assert.deepEqual(names(pod.spec.initContainers), ['linkerd-init', 'linkerd-proxy', 'migrate']);
  assert.deepEqual(names(pod.spec.containers), ['web']);
  const proxy = proxyOf(pod);
  assert.equal(proxy.restartPolicy, 'Always');
  assert.deepEqual(proxy.startupProbe, { httpGet: { path: '/ready', port: 4191 }, initialDelaySeconds: 0, periodSeconds: 1, failureThreshold: 120 });
  assert.deepEqual((pod.spec.volumes as Array<{ name: string }>).map((v) => v.name), ['linkerd-proxy-init-xtables-lock', 'linkerd-identity-end-entity', 'linkerd-identity-token']);
});

test('classic sidecar when the request says the cluster has none: proxy first among the containers with linkerd-await, proxy-init after the pod\'s init containers', () => {
  const pod = injected({ nativeSidecars: false, pod: appPod({ spec: { initContainers: [{ name: 'migrate', image: 'm:1' }] } }) }).pod;
  assert.deepEqual(names(pod.spec.initContainers), ['migrate', 'linkerd-init']);
  assert.deepEqual(names(pod.spec.containers), ['linkerd-proxy', 'web']);
  const proxy = proxyOf(pod);
  assert.equal(proxy.restartPolicy, undefined);
  assert.equal(proxy.startupProbe, undefined);
  assert.deepEqual(proxy.lifecycle, { postStart: { exec: { command: ['/usr/lib/linkerd/linkerd-await', '--timeout=2m', '--port=4191'] } } });
});

test('2.19: a classic sidecar by default (its proxy.nativeSidecar is false), proxy-init from its own image; 2.20 and later: native, proxy-init inside the proxy image', () => {
  const pod = injected({ spec: { version: '2.19' } }).pod;
  assert.deepEqual(names(pod.spec.initContainers), ['linkerd-init']);
  assert.deepEqual(names(pod.spec.containers), ['linkerd-proxy', 'web']);
  assert.equal(proxyOf(pod).image, 'cr.l5d.io/linkerd/proxy:edge-25.10.7');
  assert.deepEqual(proxyOf(pod).lifecycle, { postStart: { exec: { command: ['/usr/lib/linkerd/linkerd-await', '--timeout=2m', '--port=4191'] } } });
  const init = (pod.spec.initContainers as Container[])[0]!;
  assert.equal(init.image, 'cr.l5d.io/linkerd/proxy-init:v2.4.3');
  assert.equal(init.command, undefined, 'proxy-init\'s own image runs its entrypoint');
  assert.equal(pod.metadata.annotations?.['linkerd.io/proxy-version'], 'edge-25.10.7');

  const upgraded = injected({ spec: { version: '2.20' } }).pod;
  assert.deepEqual(names(upgraded.spec.initContainers), ['linkerd-init', 'linkerd-proxy']);
  const upgradedInit = (upgraded.spec.initContainers as Container[])[0]!;
  assert.equal(upgradedInit.image, 'cr.l5d.io/linkerd/proxy:edge-26.6.3');
  assert.deepEqual(upgradedInit.command, ['/usr/lib/linkerd/linkerd2-proxy-init']);
  // The request's cluster capability still wins over the release default.
  assert.deepEqual(names(injected({ spec: { version: '2.19' }, nativeSidecars: true }).pod.spec.initContainers), ['linkerd-init', 'linkerd-proxy']);
});

test('the native-sidecar annotations override the request, stable over beta over alpha', () => {
  const native = (annotations: Record<string, string>, nativeSidecars: boolean) => proxyOf(injected({ nativeSidecars, pod: appPod({ annotations }) }).pod).restartPolicy === 'Always';
  assert.equal(native({ 'config.alpha.linkerd.io/proxy-enable-native-sidecar': 'true' }, false), true);
  assert.equal(native({ 'config.linkerd.io/proxy-enable-native-sidecar': 'false' }, true), false);
  assert.equal(native({ 'config.linkerd.io/proxy-enable-native-sidecar': 'false', 'config.beta.linkerd.io/proxy-enable-native-sidecar': 'true', 'config.alpha.linkerd.io/proxy-enable-native-sidecar': 'true' }, true), false);
  assert.equal(native({ 'config.beta.linkerd.io/proxy-enable-native-sidecar': 'true', 'config.alpha.linkerd.io/proxy-enable-native-sidecar': 'false' }, false), true);
});

test('MeshInstallation values reach the proxy: log level, access log, tracing, mTLS mode, profile and spec resources, registry', () => {
  const pod = injected({
    spec: {
      profile: 'ha',
      registry: 'mirror.example.com/l5d',
      meshConfig: {
        mtls: { mode: 'STRICT' },
        proxy: { logLevel: 'debug', resources: { requests: { cpu: '200m' } } },
        accessLog: { enabled: true, encoding: 'JSON' },
        tracing: { enabled: true, collector: { protocol: 'OpenTelemetry', address: 'otel.observability.svc:4317' } },
      },
    } as Partial<MeshInstallationSpec>,
  }).pod;
  const proxy = proxyOf(pod);
  assert.equal(envOf(pod, 'LINKERD2_PROXY_LOG'), 'warn,linkerd=debug,hickory=error,[{headers}]=off,[{request}]=off');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_ACCESS_LOG'), 'json');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_TRACE_COLLECTOR_SVC_ADDR'), 'otel.observability.svc:4317');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_INBOUND_DEFAULT_POLICY'), 'all-authenticated');
  // ha's proxy resources with the spec's CPU request laid over them.
  assert.deepEqual(proxy.resources, { requests: { cpu: '200m', memory: '20Mi' }, limits: { memory: '250Mi' } });
  assert.equal(proxy.image, 'mirror.example.com/l5d/proxy:edge-26.8.3');
  assert.equal(pod.metadata.annotations?.['linkerd.io/proxy-version'], 'edge-26.8.3');
});

test('holdApplicationUntilProxyStarts false: no startup probe on a native proxy, a classic proxy goes last without linkerd-await', () => {
  const spec = { meshConfig: { proxy: { holdApplicationUntilProxyStarts: false } } } as Partial<MeshInstallationSpec>;
  assert.equal(proxyOf(injected({ spec }).pod).startupProbe, undefined);
  const classic = injected({ spec, nativeSidecars: false }).pod;
  assert.deepEqual(names(classic.spec.containers), ['web', 'linkerd-proxy']);
  assert.equal(proxyOf(classic).lifecycle, undefined);
});

test('overrides: the namespace\'s config annotations apply and are copied to the pod; the pod\'s own win and the namespace\'s are then not copied', () => {
  const namespace: NamespaceView = { ...ENROLLED, annotations: { 'config.linkerd.io/admin-port': '1234', 'config.linkerd.io/skip-outbound-ports': '5432', 'unrelated.example.com/x': 'y' } };
  const fromNamespace = injected({ namespace }).pod;
  assert.equal(envOf(fromNamespace, 'LINKERD2_PROXY_ADMIN_LISTEN_ADDR'), '0.0.0.0:1234');
  assert.equal(fromNamespace.metadata.annotations?.['config.linkerd.io/admin-port'], '1234');
  assert.equal(fromNamespace.metadata.annotations?.['unrelated.example.com/x'], undefined);
  const init = (fromNamespace.spec.initContainers as Container[])[0]!;
  assert.deepEqual((init.args as string[]).slice(-2), ['--outbound-ports-to-ignore', '5432']);

  const podWins = injected({ namespace, pod: appPod({ annotations: { 'config.linkerd.io/admin-port': '2345' } }) }).pod;
  assert.equal(envOf(podWins, 'LINKERD2_PROXY_ADMIN_LISTEN_ADDR'), '0.0.0.0:2345');
  assert.equal(podWins.metadata.annotations?.['config.linkerd.io/admin-port'], '2345');
});

test('invalid override values are refused with a message naming the annotation, the value and what is accepted (from the pod or inherited from the namespace)', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['config.linkerd.io/admin-port', 'abc', /^annotation config\.linkerd\.io\/admin-port: "abc" is not valid; expected a port number from 1 to 65535$/],
    ['config.linkerd.io/inbound-port', '70000', /inbound-port: "70000" is not valid; expected a port number from 1 to 65535/],
    ['config.linkerd.io/proxy-await', 'yes', /proxy-await: "yes" is not valid; expected enabled or disabled/],
    ['config.linkerd.io/proxy-cpu-request', 'lots', /proxy-cpu-request: "lots" is not valid; expected a Kubernetes quantity/],
    ['config.linkerd.io/proxy-outbound-connect-timeout', '10 seconds', /proxy-outbound-connect-timeout: "10 seconds" is not valid; expected a duration such as 500ms, 10s or 1m30s/],
    ['config.linkerd.io/default-inbound-policy', 'open', /default-inbound-policy: "open" is not valid; expected one of all-unauthenticated, all-authenticated, cluster-unauthenticated, cluster-authenticated, deny, audit/],
    ['config.linkerd.io/access-log', 'xml', /access-log: "xml" is not valid; expected one of apache, json/],
    ['config.linkerd.io/proxy-additional-env', '{not json', /proxy-additional-env: "\{not json" is not valid; expected a JSON list of env vars/],
    ['config.linkerd.io/skip-subnets', '10.0.0.0', /skip-subnets: "10\.0\.0\.0" is not valid; expected comma-separated CIDRs/],
    ['config.linkerd.io/skip-inbound-ports', '22,abc', /skip-inbound-ports: "22,abc" is not valid; expected comma-separated ports or port ranges/],
    ['config.linkerd.io/proxy-cpu-ratio-limit', '1.5', /proxy-cpu-ratio-limit: "1\.5" is not valid; expected a ratio between 0\.0 and 1\.0/],
    ['config.linkerd.io/proxy-enable-native-sidecar', 'maybe', /proxy-enable-native-sidecar: "maybe" is not valid; expected true or false/],
    ['config.linkerd.io/close-wait-timeout', '1m', /close-wait-timeout: proxy-init would have to run as root/],
  ];
  // Linkerd does not copy these two from a namespace (they are not in its ProxyAnnotations list).
  const podOnly = new Set(['config.linkerd.io/proxy-cpu-ratio-limit', 'config.linkerd.io/close-wait-timeout']);
  for (const [annotation, value, message] of cases) {
    assert.throws(() => inject({ pod: appPod({ annotations: { [annotation]: value } }) }), (e: unknown) => e instanceof InjectionError && message.test(e.message), `pod ${annotation}=${value}`);
    if (podOnly.has(annotation)) {
      assert.equal(inject({ namespace: { ...ENROLLED, annotations: { [annotation]: value } } }).injected, true, `namespace ${annotation} is not inherited`);
    } else {
      assert.throws(() => inject({ namespace: { ...ENROLLED, annotations: { [annotation]: value } } }), (e: unknown) => e instanceof InjectionError && message.test(e.message), `namespace ${annotation}=${value}`);
    }
  }
});

test('valid override values take effect in Linkerd\'s units', () => {
  const pod = injected({
    pod: appPod({
      annotations: {
        'config.linkerd.io/proxy-outbound-connect-timeout': '1m30s',
        'config.linkerd.io/proxy-outbound-discovery-cache-unused-timeout': '1500ms',
        'config.linkerd.io/proxy-cpu-request': '1500m',
        'config.linkerd.io/proxy-cpu-limit': '3',
        'config.linkerd.io/opaque-ports': 'http,9000-9002',
        'config.linkerd.io/proxy-additional-env': '[{"name":"EXTRA","value":"1"}]',
        'config.linkerd.io/proxy-uid': '3000',
      },
    }),
  }).pod;
  assert.equal(envOf(pod, 'LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT'), '90000ms');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT'), '1s');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_CORES'), '2');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_CORES_MAX'), '3');
  assert.equal(envOf(pod, 'LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION'), '8080,9000-9002');
  assert.equal(envOf(pod, 'EXTRA'), '1');
  assert.equal((proxyOf(pod).securityContext as { runAsUser: number }).runAsUser, 3000);
  // A port name no container declares is skipped, as Linkerd does (a namespace-wide list may name ports some pods lack).
  const unknownName = injected({ namespace: { ...ENROLLED, annotations: { 'config.linkerd.io/opaque-ports': 'mysql,3306' } } }).pod;
  assert.equal(envOf(unknownName, 'LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION'), '3306');
});

test('the record: mesh linkerd, revision default, the resolved version, and the trust bundle hash that Linkerd\'s trust-root-sha256 also carries', () => {
  const done = injected();
  const sha = createHash('sha256').update(ANCHORS).digest('hex');
  // Linkerd's own golden for this bundle (cli/cmd/testdata/valid-trust-anchors.pem) says the same.
  assert.equal(sha, '8dc603abd4e755c25c94da05abbf29b9b283a784733651020d72f97ca8ab98e4');
  assert.deepEqual(done.record, { mesh: 'linkerd', installation: 'linkerd', revision: 'default', proxyVersion: 'edge-26.8.3', trustBundleSha256: sha });
  const { labels, annotations } = done.pod.metadata;
  assert.equal(labels?.[INJECTED_BY_LABEL], 'linkerd');
  assert.equal(annotations?.[RECORD_ANNOTATIONS.mesh], 'linkerd');
  assert.equal(annotations?.[RECORD_ANNOTATIONS.revision], 'default');
  assert.equal(annotations?.[RECORD_ANNOTATIONS.proxyVersion], 'edge-26.8.3');
  assert.equal(annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], sha);
  assert.equal(annotations?.['linkerd.io/trust-root-sha256'], sha);
  assert.equal(annotations?.['linkerd.io/created-by'], 'meshwright edge-26.8.3');
  // The proxy gets the bundle trimmed with one final newline, as Linkerd writes it.
  assert.equal(envOf(done.pod, 'LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS'), `${ANCHORS.trim()}\n`);
});

test('a pod is not injected twice: the injected pod comes back AlreadyInjected', () => {
  const once = injected().pod;
  const twice = inject({ pod: once });
  assert.equal(twice.injected, false);
  assert.equal(!twice.injected && twice.reason, 'AlreadyInjected');
});

test('owner labels: a Deployment\'s ReplicaSet (by pod-template-hash), a bare ReplicaSet, a Job, no owner', () => {
  const owned = (kind: string, name: string, labels: Record<string, string> = {}) =>
    injected({ pod: appPod({ labels, metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }] } }) }).pod.metadata.labels;
  assert.equal(owned('ReplicaSet', 'web-5d9f8b7c6', { 'pod-template-hash': '5d9f8b7c6' })?.['linkerd.io/proxy-deployment'], 'web');
  assert.equal(owned('ReplicaSet', 'standalone')?.['linkerd.io/proxy-replicaset'], 'standalone');
  assert.equal(owned('Job', 'migrate-1')?.['linkerd.io/proxy-job'], 'migrate-1');
  const none = injected().pod.metadata.labels ?? {};
  assert.deepEqual(Object.keys(none).filter((k) => k.startsWith('linkerd.io/proxy-')), []);
  assert.equal(none['linkerd.io/control-plane-ns'], 'linkerd');
  assert.equal(none['linkerd.io/workload-ns'], 'apps');
});

test('LINKERD2_PROXY_INBOUND_PORTS: container ports and numeric HTTP probe ports, sorted as strings as Linkerd does', () => {
  const spec = {
    initContainers: [{ name: 'i', ports: [{ containerPort: 10000 }] }],
    containers: [{ name: 'a', ports: [{ containerPort: 80 }, { containerPort: 9090 }], readinessProbe: { httpGet: { port: 8081 } }, livenessProbe: { httpGet: { port: 'http' } } }],
  };
  assert.equal(podInboundPorts(spec), '10000,80,8081,9090');
});
