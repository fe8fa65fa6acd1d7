/**
 * The Istio renderer: golden files per profile and for a spec that uses every option (rewrite them
 * with UPDATE_GOLDEN=1, see ../golden.ts), and focused checks of what matters most.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../api/spec.ts';
import { createSelfSignedAuthority, materialOf } from '../../pki/authority.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { UnsupportedSpecError, type CertificateAuthorityMaterial } from '../distribution.ts';
import { assertGolden } from '../golden.ts';
import { CA_SECRET_NAME, ISTIO_PUBLISHED_CA } from './ca-secret.ts';
import { ISTIO_CATALOG, ISTIO_RELEASES } from './catalog.ts';
import { istioDistribution } from './index.ts';
import { ISTIO_ALL_OPTIONS, ISTIO_GOLDEN_SPECS } from './testdata/golden-specs.ts';
import { computeScope, KEEP_ON_DELETE } from './scope.ts';

function installation(spec: Partial<MeshInstallationSpec> = {}): DefaultedMeshInstallation {
  return {
    apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' },
    spec: withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', ...spec }),
  } as DefaultedMeshInstallation;
}

function render(spec: Partial<MeshInstallationSpec> = {}, ca?: CertificateAuthorityMaterial): KubeObject[] {
  const mi = installation(spec);
  return istioDistribution.render({ installation: mi, resolved: istioDistribution.resolve(mi), ca });
}

// Tests reach deep into rendered objects; typing every path would add nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Deep = any;

const find = (objects: KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const get = (objects: KubeObject[], kind: string, name: string) => {
  const found = find(objects, kind, name);
  assert.ok(found, `${kind} ${name} is rendered`);
  return found as KubeObject & { spec: Deep; data: Record<string, string> };
};
const meshOf = (objects: KubeObject[], name = 'istio'): Deep => parse(get(objects, 'ConfigMap', name).data.mesh!);
const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

const everything = ISTIO_ALL_OPTIONS;
const GOLDENS = ISTIO_GOLDEN_SPECS;

for (const [name, spec] of Object.entries(GOLDENS)) {
  test(`golden: ${name}`, () => {
    const text = render(spec).map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
    assertGolden(new URL(`testdata/golden/${name}.yaml`, import.meta.url), text);
  });
}

test('mTLS STRICT renders the mesh-wide PeerAuthentication in the control-plane namespace', () => {
  const pa = get(render({ meshConfig: { mtls: { mode: 'STRICT' } } }), 'PeerAuthentication', 'default');
  assert.equal(pa.apiVersion, 'security.istio.io/v1');
  assert.equal(pa.metadata.namespace, 'istio-system');
  assert.deepEqual(pa.spec, { mtls: { mode: 'STRICT' } });
  assert.deepEqual(get(render(), 'PeerAuthentication', 'default').spec, { mtls: { mode: 'PERMISSIVE' } });
});

test('mesh config: REGISTRY_ONLY, access log, tracing provider and proxy defaults', () => {
  const objects = render(everything);
  const mesh = meshOf(objects);
  assert.deepEqual(mesh.outboundTrafficPolicy, { mode: 'REGISTRY_ONLY' });
  assert.equal(mesh.accessLogFile, '/dev/stdout');
  assert.equal(mesh.accessLogEncoding, 'JSON');
  assert.equal(mesh.trustDomain, 'example.org');
  assert.deepEqual(mesh.extensionProviders, [{ name: 'otel-tracing', opentelemetry: { service: 'otel-collector.observability.svc', port: 4317 } }]);
  assert.deepEqual(mesh.defaultProviders, { metrics: ['prometheus'], tracing: ['otel-tracing'] });
  assert.equal(mesh.defaultConfig.holdApplicationUntilProxyStarts, true);
  const env = get(objects, 'Deployment', 'istiod').spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  assert.equal(env.find((e) => e.name === 'PILOT_TRACE_SAMPLING')?.value, '5');
  // Istio's defaults are left out, so a default spec renders Istio's default mesh config.
  const plain = meshOf(render());
  assert.equal(plain.outboundTrafficPolicy, undefined);
  assert.equal(plain.accessLogFile, undefined);
  const zipkin = meshOf(render({ meshConfig: { tracing: { enabled: true, collector: { protocol: 'Zipkin', address: 'zipkin.tracing:9411' } } } }));
  assert.deepEqual(zipkin.extensionProviders, [{ name: 'zipkin', zipkin: { service: 'zipkin.tracing', port: 9411 } }]);
});

test('two revisions render disjoint names, except the shared objects, which render identically', () => {
  const canary = { upgrade: { strategy: 'Canary' as const }, gateways: [{ name: 'istio-ingressgateway', kind: 'Ingress' as const, podDisruptionBudget: { minAvailable: 1 } }] };
  const older = render({ ...canary, version: '1.30.4' });
  const newer = render({ ...canary, version: '1.31.1' });
  const shared = new Set(['Namespace', 'CustomResourceDefinition', 'PeerAuthentication']);
  const sharedNames = new Set(['ServiceAccount/istio-system/istio-reader-service-account', 'Service/istio-system/istio-ingressgateway',
    'ServiceAccount/istio-system/istio-ingressgateway-service-account', 'Role/istio-system/istio-ingressgateway-sds', 'RoleBinding/istio-system/istio-ingressgateway-sds']);
  const isShared = (o: KubeObject) => shared.has(o.kind) || sharedNames.has(key(o));
  const olderByKey = new Map(older.map((o) => [key(o), o]));
  const clashes = newer.filter((o) => !isShared(o) && olderByKey.has(key(o))).map(key);
  assert.deepEqual(clashes, [], 'revision-owned objects must not share names across revisions');
  for (const o of newer.filter(isShared)) assert.deepEqual(o, olderByKey.get(key(o)), `${key(o)} is shared, so both revisions must render it alike`);
  // Istio's revision naming.
  for (const name of ['istiod-1-31-1']) {
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'Role', 'RoleBinding', 'HorizontalPodAutoscaler']) get(newer, kind, name);
  }
  get(newer, 'ConfigMap', 'istio-1-31-1');
  get(newer, 'ValidatingWebhookConfiguration', 'istio-validator-1-31-1-istio-system');
  get(newer, 'ClusterRole', 'istiod-clusterrole-1-31-1-istio-system');
  get(newer, 'Deployment', 'istio-ingressgateway-1-31-1');
  const istiod = get(newer, 'Deployment', 'istiod-1-31-1');
  assert.deepEqual(istiod.spec.selector.matchLabels, { app: 'istiod', 'istio.io/rev': '1-31-1' });
  assert.equal(istiod.spec.template.metadata.labels.istio, 'istiod', 'a canary\'s pods must not match the default Service\'s istio=pilot');
  assert.equal(meshOf(newer, 'istio-1-31-1').defaultConfig.discoveryAddress, 'istiod-1-31-1.istio-system.svc:15012');
  const gateway = get(newer, 'Deployment', 'istio-ingressgateway-1-31-1');
  const env = gateway.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  assert.equal(env.find((e) => e.name === 'CA_ADDR')?.value, 'istiod-1-31-1.istio-system.svc:15012');
  assert.deepEqual(get(newer, 'Service', 'istio-ingressgateway').spec.selector, { app: 'istio-ingressgateway', istio: 'ingressgateway' }, 'the shared gateway Service selects the pods of every revision');
  // InPlace uses Istio's default names and the `default` revision label.
  const inPlace = render();
  assert.equal(get(inPlace, 'Deployment', 'istiod').metadata.labels?.['istio.io/rev'], 'default');
  assert.ok(find(inPlace, 'ValidatingWebhookConfiguration', 'istiod-default-validator'));
});

test('gateway autoscaling renders an HPA and leaves spec.replicas to it', () => {
  const objects = render({ gateways: [{ name: 'ingress', kind: 'Ingress', autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 7, targetCPUUtilizationPercent: 60 } }] });
  const hpa = get(objects, 'HorizontalPodAutoscaler', 'ingress');
  assert.equal(hpa.spec.minReplicas, 2);
  assert.equal(hpa.spec.maxReplicas, 7);
  assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 60);
  assert.equal('replicas' in get(objects, 'Deployment', 'ingress').spec, false);
  const fixed = render({ gateways: [{ name: 'egress', kind: 'Egress', replicas: 3 }] });
  assert.equal(get(fixed, 'Deployment', 'egress').spec.replicas, 3);
  assert.equal(find(fixed, 'HorizontalPodAutoscaler', 'egress'), undefined);
  const off = render({ gateways: [{ name: 'egress', kind: 'Egress', autoscaling: { enabled: false } }] });
  assert.equal(find(off, 'HorizontalPodAutoscaler', 'egress'), undefined);
  assert.equal(get(off, 'Deployment', 'egress').spec.replicas, 1);
});

test('gateway Service externalTrafficPolicy and pod securityContext reach the objects; unset, neither is declared', () => {
  const objects = render({ gateways: [
    { name: 'ingress', kind: 'Ingress', service: { externalTrafficPolicy: 'Local' }, securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } },
    { name: 'egress', kind: 'Egress', service: { type: 'NodePort', externalTrafficPolicy: 'Cluster' }, securityContext: { runAsUser: 0, runAsNonRoot: false, fsGroup: 2000 } },
    { name: 'plain', kind: 'Ingress' },
  ] });
  assert.equal(get(objects, 'Service', 'ingress').spec.externalTrafficPolicy, 'Local');
  assert.equal(get(objects, 'Service', 'egress').spec.externalTrafficPolicy, 'Cluster');
  assert.equal('externalTrafficPolicy' in get(objects, 'Service', 'plain').spec, false, 'left to Kubernetes\' default');
  const podSecurity = (name: string) => get(objects, 'Deployment', name).spec.template.spec.securityContext;
  assert.deepEqual(podSecurity('ingress'), { runAsGroup: 1337, runAsNonRoot: true, runAsUser: 1337, sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] }, 'merged over the proxy user');
  assert.deepEqual(podSecurity('egress'), { runAsGroup: 1337, runAsNonRoot: false, runAsUser: 0, fsGroup: 2000 }, 'the spec overrides field by field');
  assert.deepEqual(podSecurity('plain'), { runAsGroup: 1337, runAsNonRoot: true, runAsUser: 1337 });
  const container = get(objects, 'Deployment', 'egress').spec.template.spec.containers[0];
  assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, readOnlyRootFilesystem: true }, 'the proxy container keeps its own');
});

test('controlPlane.replicas sets the Deployment replicas and renders no HPA (one owner of the field)', () => {
  const objects = render({ controlPlane: { replicas: 3 } });
  assert.equal(get(objects, 'Deployment', 'istiod').spec.replicas, 3);
  assert.equal(find(objects, 'HorizontalPodAutoscaler', 'istiod'), undefined);
  assert.deepEqual(get(objects, 'PodDisruptionBudget', 'istiod').spec.minAvailable, 1);
  // Unset: the default profile autoscales 1..5, and a single pod gets no budget (it would block drains).
  const byProfile = render();
  assert.equal('replicas' in get(byProfile, 'Deployment', 'istiod').spec, false);
  assert.deepEqual({ min: get(byProfile, 'HorizontalPodAutoscaler', 'istiod').spec.minReplicas, max: get(byProfile, 'HorizontalPodAutoscaler', 'istiod').spec.maxReplicas }, { min: 1, max: 5 });
  assert.equal(find(byProfile, 'PodDisruptionBudget', 'istiod'), undefined);
  const one = render({ controlPlane: { replicas: 1 } });
  assert.equal(find(one, 'PodDisruptionBudget', 'istiod'), undefined);
});

test('profiles: demo is small and unscaled, ha is replicated, spread and budgeted', () => {
  const demo = render({ profile: 'demo' });
  const demoIstiod = get(demo, 'Deployment', 'istiod');
  assert.equal(demoIstiod.spec.replicas, 1);
  assert.equal(find(demo, 'HorizontalPodAutoscaler', 'istiod'), undefined);
  assert.deepEqual(demoIstiod.spec.template.spec.containers[0].resources, { requests: { cpu: '10m', memory: '100Mi' } });
  assert.equal(meshOf(demo).accessLogFile, '/dev/stdout');
  const ha = render({ profile: 'ha', gateways: [{ name: 'ingress', kind: 'Ingress' }] });
  assert.equal(get(ha, 'HorizontalPodAutoscaler', 'istiod').spec.minReplicas, 2);
  assert.ok(get(ha, 'Deployment', 'istiod').spec.template.spec.affinity.podAntiAffinity);
  get(ha, 'PodDisruptionBudget', 'istiod');
  get(ha, 'PodDisruptionBudget', 'ingress');
  assert.deepEqual(render({ profile: 'minimal' }), render({ profile: 'default' }));
});

test('meshConfig.proxy.resources merges over the profile\'s proxy resources quantity by quantity', () => {
  const scopeOf = (spec: Partial<MeshInstallationSpec>) => {
    const mi = installation(spec);
    return computeScope({ installation: mi, resolved: istioDistribution.resolve(mi) });
  };
  assert.deepEqual(scopeOf({}).proxyResources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } }, 'Istio\'s global.proxy.resources');
  assert.deepEqual(scopeOf({ meshConfig: { proxy: { resources: { requests: { memory: '256Mi' } } } } }).proxyResources,
    { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } }, 'a request alone keeps the limits');
  assert.deepEqual(scopeOf({ profile: 'demo', meshConfig: { proxy: { resources: { limits: { cpu: 1 } } } } }).proxyResources,
    { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '1', memory: '1024Mi' } }, 'demo\'s small requests, the spec\'s CPU limit');
});

test('a spec limit below the profile\'s proxy request stalls the render, naming both values', () => {
  assert.throws(() => render({ meshConfig: { proxy: { resources: { limits: { memory: '64Mi' } } } } }), (e: unknown) =>
    e instanceof UnsupportedSpecError && e.reason === 'ResourceRequestAboveLimit'
    && e.message.startsWith('the request of profile default (memory: 128Mi) exceeds meshConfig.proxy.resources.limits.memory (64Mi)'));
  assert.throws(() => render({ profile: 'demo', meshConfig: { proxy: { resources: { requests: { cpu: '3' } } } } }), /requests\.cpu \(3\) exceeds the limit of profile demo \(cpu: 2000m\)/);
  assert.doesNotThrow(() => render({ profile: 'demo', meshConfig: { proxy: { resources: { limits: { memory: '64Mi' } } } } }), 'demo requests only 40Mi');
});

test('no render contains a MutatingWebhookConfiguration or the injector ConfigMap', () => {
  for (const spec of [...Object.values(GOLDENS), { upgrade: { strategy: 'Canary' as const } }]) {
    const objects = render(spec);
    assert.deepEqual(objects.filter((o) => o.kind === 'MutatingWebhookConfiguration').map(key), []);
    assert.equal(find(objects, 'ConfigMap', 'istio-sidecar-injector'), undefined);
    const env = get(objects, 'Deployment', objects.find((o) => o.kind === 'Deployment' && o.metadata.name.startsWith('istiod'))!.metadata.name).spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
    assert.equal(env.find((e) => e.name === 'INJECTION_WEBHOOK_CONFIG_NAME')?.value, '');
  }
});

test('catalog: three minors up to 1.31, newest first, with the examples\' versions', () => {
  assert.deepEqual(istioDistribution.catalog, ISTIO_CATALOG);
  assert.deepEqual(ISTIO_RELEASES.map((r) => r.minor), ['1.31', '1.30', '1.29']);
  assert.equal(ISTIO_CATALOG[0], '1.31.1');
  assert.ok(ISTIO_CATALOG.includes('1.30.4'));
  const resolved = istioDistribution.resolve(installation({ version: '1.30.4' }));
  assert.deepEqual(resolved, { version: '1.30.4', revision: '1-30-4', images: { pilot: 'docker.io/istio/pilot:1.30.4', proxyv2: 'docker.io/istio/proxyv2:1.30.4' } });
  const mirrored = istioDistribution.resolve(installation({ registry: 'mirror.example.com/istio' }));
  assert.equal(mirrored.images.proxyv2, 'mirror.example.com/istio/proxyv2:1.31.1');
  const objects = render({ registry: 'mirror.example.com/istio', gateways: [{ name: 'ingress', kind: 'Ingress' }] });
  const images = objects.filter((o) => o.kind === 'Deployment').map((o) => get(objects, 'Deployment', o.metadata.name).spec.template.spec.containers[0].image);
  assert.deepEqual(images.sort(), ['mirror.example.com/istio/pilot:1.31.1', 'mirror.example.com/istio/proxyv2:1.31.1']);
});

test('resolve: a version outside the catalog is refused with what is allowed', () => {
  const refuse = (version: string) => {
    try {
      istioDistribution.resolve(installation({ version }));
    } catch (error) {
      assert.ok(error instanceof UnsupportedSpecError);
      assert.equal(error.reason, 'VersionNotInCatalog');
      return error.message;
    }
    assert.fail(`${version} was accepted`);
  };
  const unknownPatch = refuse('1.30.9');
  assert.match(unknownPatch, /1\.30\.9 is not in this operator's catalog/);
  assert.match(unknownPatch, new RegExp(ISTIO_CATALOG.join(', ').replaceAll('.', '\\.')));
  assert.match(unknownPatch, /for 1\.30 use 1\.30\.4/);
  assert.match(refuse('1.32.0'), /newest this operator knows is 1\.31\.1/);
  assert.doesNotMatch(refuse('1.20.0'), /for 1\.20/);
});

test('the plug-in CA Secret cacerts is rendered from CA material, and left out without it', async () => {
  const profile = istioDistribution.certificateAuthority!(installation());
  const state = await createSelfSignedAuthority({ profile, keyAlgorithm: 'ECDSAP256', rootTtlMs: 3_600_000 * 24, issuerTtlMs: 3_600_000, renewBeforeMs: 60_000 }, Date.now());
  const other = await createSelfSignedAuthority({ profile, keyAlgorithm: 'ECDSAP256', rootTtlMs: 3_600_000 * 24, issuerTtlMs: 3_600_000, renewBeforeMs: 60_000 }, Date.now());
  // Mid root rotation: two anchors, the issuer still signed by the first.
  const ca = { ...materialOf(state), trustAnchorsPem: `${other.root!.certificatePem}${state.root!.certificatePem}` };
  const objects = render({}, ca);
  const secret = get(objects, 'Secret', CA_SECRET_NAME);
  assert.equal(secret.metadata.namespace, 'istio-system');
  assert.equal('stringData' in secret, false);
  const files = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  assert.deepEqual(Object.keys(files).sort(), ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']);
  assert.equal(files['ca-cert.pem'], state.issuer.chainPem.trim() + '\n');
  assert.equal(files['ca-key.pem'], state.issuer.privateKeyPem.trim() + '\n');
  assert.equal(files['cert-chain.pem'], `${state.issuer.chainPem.trim()}\n${state.root!.certificatePem.trim()}\n`, 'chain ends in the root that issued it');
  assert.equal(files['root-cert.pem'], `${other.root!.certificatePem.trim()}\n${state.root!.certificatePem.trim()}\n`, 'both anchors during a rotation');
  // The validating webhooks trust istiod's serving certificate through the mesh's anchors.
  for (const webhook of objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration').flatMap((o) => o.webhooks as Array<{ clientConfig: { caBundle?: string } }>)) {
    assert.equal(Buffer.from(webhook.clientConfig.caBundle!, 'base64').toString(), ca.trustAnchorsPem);
  }
  const offline = render();
  assert.equal(find(offline, 'Secret', CA_SECRET_NAME), undefined);
  assert.ok(offline.filter((o) => o.kind === 'ValidatingWebhookConfiguration').every((o) => (o.webhooks as Array<{ clientConfig: object }>).every((w) => !('caBundle' in w.clientConfig))));
});

test('CA profile: Istio\'s subjects with the trust domain, RSA 2048 by default, no serving certificates', () => {
  assert.deepEqual(istioDistribution.certificateAuthority!(installation({ meshConfig: { trustDomain: 'example.org' } })), {
    root: { commonName: 'Root CA', organization: 'example.org' },
    issuer: { commonName: 'Intermediate CA', organization: 'example.org' },
    issuerDnsNames: ['istiod.istio-system.svc'],
    defaultKeyAlgorithm: 'RSA2048',
    keyAlgorithms: ['RSA2048', 'ECDSAP256'],
    published: ISTIO_PUBLISHED_CA,
  });
});

test('render is pure: same input, same output; the input is not modified; spec order does not matter', () => {
  const mi = installation(everything);
  const before = structuredClone(mi);
  const resolved = istioDistribution.resolve(mi);
  const first = istioDistribution.render({ installation: mi, resolved });
  const second = istioDistribution.render({ installation: mi, resolved });
  assert.deepEqual(first, second);
  assert.deepEqual(mi, before);
  const reversed = render({ ...everything, gateways: [...everything.gateways!].reverse() });
  assert.deepEqual(reversed, first);
  // Output shares nothing: patching one object (as overlays do) changes nothing else.
  const patched = structuredClone(first);
  const istiod = get(first, 'Deployment', 'istiod');
  istiod.spec.selector.matchLabels.extra = 'x';
  istiod.spec.template.spec.containers[0].resources.requests.cpu = '9';
  istiod.spec.strategy.rollingUpdate.maxSurge = '1';
  assert.equal(istiod.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels.extra, undefined);
  assert.equal(get(first, 'Deployment', 'egress').spec.strategy.rollingUpdate.maxSurge, '100%');
  assert.deepEqual(mi, before);
  assert.deepEqual(istioDistribution.render({ installation: mi, resolved }), second);
  assert.notDeepEqual(patched, first);
});

test('every object: a kind in ownedTypes; CRDs and namespaces kept on delete; no installation label', () => {
  const owned = new Set(istioDistribution.ownedTypes.map((t) => `${t.apiVersion}/${t.kind}`));
  for (const spec of Object.values(GOLDENS)) {
    for (const o of render(spec)) {
      assert.ok(owned.has(`${o.apiVersion}/${o.kind}`), `${o.apiVersion} ${o.kind} is in ownedTypes`);
      assert.equal(o.metadata.labels?.['meshwright.dev/installation'], undefined);
      if (o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace') assert.equal(o.metadata.annotations?.[KEEP_ON_DELETE], 'true', key(o));
    }
  }
  const objects = render(everything);
  assert.deepEqual(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name), ['istio-egress', 'istio-system']);
  assert.equal(objects.filter((o) => o.kind === 'CustomResourceDefinition').length, 14);
  // Outside the control-plane namespace the mesh config is not mountable: the agent is told where istiod is.
  const egressEnv = get(objects, 'Deployment', 'egress').spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  assert.deepEqual(JSON.parse(egressEnv.find((e) => e.name === 'PROXY_CONFIG')!.value!), { discoveryAddress: 'istiod.istio-system.svc:15012', holdApplicationUntilProxyStarts: true });
});

test('component health covers istiod and every gateway, judged from live objects (HPA-owned replicas included)', () => {
  const desired = render({ gateways: [{ name: 'ingress', kind: 'Ingress' }, { name: 'egress', kind: 'Egress', replicas: 2 }] });
  const live = (o: KubeObject): KubeObject | undefined => {
    if (o.kind !== 'Deployment') return undefined;
    // What the API server returns: spec.replicas is always there (here set by the HPA to 3).
    const replicas = o.metadata.name === 'egress' ? 2 : 3;
    const available = o.metadata.name === 'ingress' ? 2 : replicas;
    return { ...o, metadata: { ...o.metadata, generation: 4 }, spec: { ...(o.spec as object), replicas }, status: { observedGeneration: 4, replicas, updatedReplicas: replicas, availableReplicas: available } };
  };
  const health = istioDistribution.componentHealth(desired, live);
  assert.deepEqual(health.map((h) => [h.name, h.ready, h.replicas, h.available]), [
    ['egress', true, 2, 2],
    ['ingress', false, 3, 2],
    ['istiod', true, 3, 3],
  ]);
  assert.ok(istioDistribution.componentHealth(desired, () => undefined).every((h) => !h.ready));
});
