/**
 * The Linkerd renderer: golden snapshots of representative specs (rewrite with UPDATE_GOLDEN=1, see ../golden.ts)
 * and focused assertions on what must hold in every render.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { MeshInstallationSpec } from '../../api/spec.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { OFFLINE_TRUST_ANCHORS_PLACEHOLDER, UnsupportedSpecError, type CertificateAuthorityMaterial } from '../distribution.ts';
import { assertGolden } from '../golden.ts';
import { LINKERD_PUBLISHED_CA } from './ca.ts';
import { LINKERD_CATALOG } from './catalog.ts';
import { linkerdDistribution } from './index.ts';
import { LINKERD_GOLDEN_SPECS } from './testdata/golden-specs.ts';
import { sha256Hex } from './scope.ts';
import { installation, renderInput, testCertificateAuthority, testdataPath } from './test-support.ts';

type Json = Record<string, unknown>;
type Container = { name: string; env?: Array<{ name: string; value?: string; valueFrom?: Json }>; args?: string[]; resources?: Json; image?: string };

const ca = testCertificateAuthority();
/** Renders `spec` with the test CA, or offline when `material` is null. */
const render = (spec: Partial<MeshInstallationSpec> = {}, material: CertificateAuthorityMaterial | null = ca) =>
  linkerdDistribution.render(renderInput(spec, material ?? undefined));

/** Specs rendered to golden files, by file name; `default-offline` is `default` without CA material. */
const GOLDEN_CASES: ReadonlyArray<[string, Partial<MeshInstallationSpec>, CertificateAuthorityMaterial | null]> = [
  ...Object.entries(LINKERD_GOLDEN_SPECS).map(([name, spec]): [string, Partial<MeshInstallationSpec>, CertificateAuthorityMaterial] => [name, spec, ca]),
  ['default-offline', {}, null],
];

function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

for (const [name, spec, material] of GOLDEN_CASES) {
  test(`golden: ${name}`, () => {
    assertGolden(testdataPath(`golden/${name}.yaml`), toYaml(render(spec, material)));
  });
}

const find = (objects: readonly KubeObject[], kind: string, name: string) => {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(object, `${kind} ${name} is rendered`);
  return object as KubeObject & Json;
};
const deployments = (objects: readonly KubeObject[]) => objects.filter((o) => o.kind === 'Deployment') as Array<KubeObject & Json>;
const podSpec = (deployment: Json) => (deployment.spec as { template: { metadata: { annotations: Record<string, string> }; spec: Json } }).template;
const allContainers = (deployment: Json): Container[] => {
  const spec = podSpec(deployment).spec as { containers: Container[]; initContainers?: Container[] };
  return [...spec.containers, ...(spec.initContainers ?? [])];
};
const proxies = (objects: readonly KubeObject[]) => deployments(objects).map((d) => allContainers(d).find((c) => c.name === 'linkerd-proxy')!);
const envOf = (container: Container, name: string) => container.env?.find((e) => e.name === name);
/** The linkerd-config values the tests read. */
interface ConfigValues {
  identityTrustAnchorsPEM: string;
  identityTrustDomain: string;
  controllerImage: string;
  debugContainer: { image: { name: string } };
  proxy: { defaultInboundPolicy: string; logLevel: string; accessLog: string; await: boolean };
}
const configValues = (objects: readonly KubeObject[]) => parse((find(objects, 'ConfigMap', 'linkerd-config').data as { values: string }).values) as ConfigValues;
const decode = (value: string) => Buffer.from(value, 'base64').toString('utf8');

test('no proxy injector anywhere: no Deployment, Service, mutating webhook, Secret or RBAC of it', () => {
  for (const [name, spec, material] of GOLDEN_CASES) {
    const objects = render(spec, material);
    assert.ok(!objects.some((o) => o.kind === 'MutatingWebhookConfiguration'), `${name}: no mutating webhook`);
    const mentions = objects.filter((o) => JSON.stringify(o).includes('proxy-injector')).map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(mentions, [], `${name}: nothing refers to the proxy injector`);
  }
});

test('trust anchors: in linkerd-config, the trust-roots ConfigMap and the issuer Secret; every proxy reads them from the ConfigMap; pods carry their hash', () => {
  const objects = render();
  assert.equal(configValues(objects).identityTrustAnchorsPEM, ca.trustAnchorsPem);
  assert.equal((find(objects, 'ConfigMap', 'linkerd-identity-trust-roots').data as Json)['ca-bundle.crt'], ca.trustAnchorsPem.trim());
  assert.equal(decode((find(objects, 'Secret', 'linkerd-identity-issuer').data as Record<string, string>)['ca.crt']!), ca.trustAnchorsPem);
  assert.equal(proxies(objects).length, 2);
  for (const proxy of proxies(objects)) {
    assert.deepEqual(envOf(proxy, 'LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS')?.valueFrom, { configMapKeyRef: { name: 'linkerd-identity-trust-roots', key: 'ca-bundle.crt' } });
  }
  for (const d of deployments(objects)) {
    assert.equal(podSpec(d).metadata.annotations['linkerd.io/trust-root-sha256'], sha256Hex(ca.trustAnchorsPem), `${d.metadata.name} rolls when the bundle changes`);
  }
  // During a root rotation the bundle holds two roots; both reach every place.
  const rotating = { ...ca, trustAnchorsPem: ca.trustAnchorsPem + readFileSync(testdataPath('pki/webhook-ca.crt'), 'utf8') };
  const during = render({}, rotating);
  assert.equal(configValues(during).identityTrustAnchorsPEM, rotating.trustAnchorsPem);
  assert.equal((find(during, 'ConfigMap', 'linkerd-identity-trust-roots').data as Json)['ca-bundle.crt'], rotating.trustAnchorsPem.trim());
  assert.notEqual(podSpec(deployments(during)[0]!).metadata.annotations['linkerd.io/trust-root-sha256'], sha256Hex(ca.trustAnchorsPem));
});

test('offline render (no CA material): no Secrets with keys, no caBundles, the placeholder where trust anchors go', () => {
  const objects = render({}, null);
  assert.deepEqual(objects.filter((o) => o.kind === 'Secret'), []);
  for (const webhook of objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration')) {
    assert.ok(!JSON.stringify(webhook).includes('caBundle'), `${webhook.metadata.name} declares no caBundle`);
  }
  assert.equal(configValues(objects).identityTrustAnchorsPEM, OFFLINE_TRUST_ANCHORS_PLACEHOLDER);
  assert.equal((find(objects, 'ConfigMap', 'linkerd-identity-trust-roots').data as Json)['ca-bundle.crt'], OFFLINE_TRUST_ANCHORS_PLACEHOLDER.trim());
  // The same objects otherwise: volumes still name the Secrets the operator will create.
  const online = render();
  const names = (list: readonly KubeObject[]) => list.filter((o) => o.kind !== 'Secret').map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(names(objects), names(online));
});

test('private keys appear only in the issuer Secret and the two webhook TLS Secrets', () => {
  const allowed = new Set(['Secret/linkerd-identity-issuer', 'Secret/linkerd-sp-validator-k8s-tls', 'Secret/linkerd-policy-validator-k8s-tls']);
  for (const [name, spec, material] of GOLDEN_CASES) {
    const carrying = render(spec, material).filter((o) => {
      const data = o.kind === 'Secret' ? Object.values(o.data as Record<string, string>).map(decode).join('\n') : '';
      return /PRIVATE KEY/.test(JSON.stringify(o) + data);
    }).map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(carrying.filter((id) => !allowed.has(id)), [], `${name}: no key outside the allowed Secrets`);
    if (material) assert.deepEqual(new Set(carrying), allowed, `${name}: each allowed Secret holds its key`);
  }
  const webhookSecret = find(render(), 'Secret', 'linkerd-sp-validator-k8s-tls');
  assert.equal(webhookSecret.type, 'kubernetes.io/tls');
  assert.equal(decode((webhookSecret.data as Record<string, string>)['tls.key']!), ca.serving!['linkerd-sp-validator']!.privateKeyPem);
});

test('issuer Secret: kubernetes.io/tls layout with the issuer chain, key and trust anchors; identity runs the matching scheme', () => {
  const objects = render();
  const issuer = find(objects, 'Secret', 'linkerd-identity-issuer');
  assert.equal(issuer.type, 'kubernetes.io/tls');
  const data = issuer.data as Record<string, string>;
  assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.equal(decode(data['tls.crt']!), ca.issuerChainPem);
  assert.equal(decode(data['tls.key']!), ca.issuerKeyPem);
  const identity = allContainers(find(objects, 'Deployment', 'linkerd-identity')).find((c) => c.name === 'identity')!;
  assert.ok(identity.args!.includes('-identity-scheme=kubernetes.io/tls'));
});

test('webhooks: caBundle from the serving certificates, Services by DNS name the certificates carry', () => {
  const objects = render();
  for (const [configuration, certificate] of [['linkerd-sp-validator-webhook-config', 'linkerd-sp-validator'], ['linkerd-policy-validator-webhook-config', 'linkerd-policy-validator']] as const) {
    const webhook = (find(objects, 'ValidatingWebhookConfiguration', configuration).webhooks as Array<{ clientConfig: { caBundle: string; service: { name: string; namespace: string } }; failurePolicy: string }>)[0]!;
    assert.equal(decode(webhook.clientConfig.caBundle), ca.serving![certificate]!.caBundlePem);
    assert.deepEqual(webhook.clientConfig.service, { name: certificate, namespace: 'linkerd', path: '/' });
    assert.equal(webhook.failurePolicy, 'Ignore');
    find(objects, 'Service', certificate);
  }
  const profile = linkerdDistribution.certificateAuthority!(installation());
  assert.deepEqual(profile.servingCertificates, [
    { name: 'linkerd-sp-validator', dnsNames: ['linkerd-sp-validator.linkerd.svc'] },
    { name: 'linkerd-policy-validator', dnsNames: ['linkerd-policy-validator.linkerd.svc'] },
  ]);
});

test('ha: three replicas, a disruption budget per Deployment, anti-affinity across nodes and zones, fail-closed webhooks', () => {
  const objects = render({ profile: 'ha' });
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget') as Array<KubeObject & Json>;
  assert.deepEqual(pdbs.map((p) => p.metadata.name).sort(), ['linkerd-dst', 'linkerd-identity']);
  for (const pdb of pdbs) assert.equal((pdb.spec as Json).maxUnavailable, 1);
  for (const d of deployments(objects)) {
    assert.equal((d.spec as Json).replicas, 3);
    const component = d.metadata.labels!['linkerd.io/control-plane-component'];
    const anti = (podSpec(d).spec.affinity as { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: Array<{ topologyKey: string; labelSelector: Json }> } }).podAntiAffinity;
    assert.equal(anti.requiredDuringSchedulingIgnoredDuringExecution[0]!.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(anti.requiredDuringSchedulingIgnoredDuringExecution[0]!.labelSelector, { matchExpressions: [{ key: 'linkerd.io/control-plane-component', operator: 'In', values: [component] }] });
    assert.ok(pdbs.some((p) => ((p.spec as { selector: { matchLabels: Json } }).selector.matchLabels['linkerd.io/control-plane-component']) === component), `${d.metadata.name} has a budget`);
  }
  for (const webhook of objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration')) {
    assert.equal((webhook.webhooks as Array<{ failurePolicy: string }>)[0]!.failurePolicy, 'Fail');
  }
  assert.deepEqual(render().filter((o) => o.kind === 'PodDisruptionBudget'), [], 'default: no budgets');
  assert.equal(render({ profile: 'ha', controlPlane: { replicas: 5 } }).filter((o) => o.kind === 'Deployment').map((d) => (d.spec as Json).replicas).join(), '5,5');
});

test('mTLS STRICT: the mesh-wide default inbound policy is all-authenticated; the control plane keeps accepting bootstrap clients', () => {
  for (const [mode, policy] of [['STRICT', 'all-authenticated'], ['PERMISSIVE', 'all-unauthenticated']] as const) {
    const objects = render({ meshConfig: { mtls: { mode } } });
    const policyController = allContainers(find(objects, 'Deployment', 'linkerd-destination')).find((c) => c.name === 'policy')!;
    assert.ok(policyController.args!.includes(`--default-policy=${policy}`), `${mode}: policy controller default`);
    assert.equal(configValues(objects).proxy.defaultInboundPolicy, policy, `${mode}: linkerd-config proxy.defaultInboundPolicy`);
    for (const proxy of proxies(objects)) assert.equal(envOf(proxy, 'LINKERD2_PROXY_INBOUND_DEFAULT_POLICY')?.value, 'all-unauthenticated');
  }
});

test('meshConfig and controlPlane: trust domain, proxy log level, resources, access log, tracing and scheduling reach the objects', () => {
  const spec = GOLDEN_CASES.find(([name]) => name === 'mesh-config')![1];
  const objects = render(spec);
  const values = configValues(objects);
  assert.equal(values.identityTrustDomain, 'mesh.example.org');
  assert.equal(values.proxy.logLevel, 'warn,linkerd=debug,hickory=error');
  assert.equal(values.proxy.accessLog, 'json');
  assert.equal(values.proxy.await, false);
  for (const proxy of proxies(objects)) {
    assert.equal(envOf(proxy, 'LINKERD2_PROXY_LOG')?.value, 'warn,linkerd=debug,hickory=error,[{headers}]=off,[{request}]=off');
    assert.equal(envOf(proxy, '_l5d_trustdomain')?.value, 'mesh.example.org');
    assert.equal(envOf(proxy, 'LINKERD2_PROXY_IDENTITY_SVC_NAME')?.value, 'linkerd-identity.linkerd.serviceaccount.identity.linkerd.mesh.example.org');
    assert.equal(envOf(proxy, 'LINKERD2_PROXY_CORES_MAX')?.value, '2', 'cores follow the 1500m CPU limit');
    assert.equal(envOf(proxy, 'LINKERD2_PROXY_ACCESS_LOG')?.value, 'json');
    assert.equal(envOf(proxy, 'LINKERD2_PROXY_TRACE_COLLECTOR_SVC_ADDR')?.value, 'otel-collector.observability.svc:4317');
    assert.deepEqual(proxy.resources, { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '1500m', memory: '128Mi' } });
  }
  for (const d of deployments(objects)) {
    const pod = podSpec(d).spec;
    assert.equal((d.spec as Json).replicas, 2);
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux', 'node-role.example.org/mesh': 'true' });
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal((pod.tolerations as unknown[]).length, 1);
    for (const c of allContainers(d).filter((c) => !c.name.startsWith('linkerd-'))) assert.deepEqual(c.resources, { requests: { cpu: '200m', memory: '128Mi' } }, c.name);
  }
  const heartbeat = find(objects, 'CronJob', 'linkerd-heartbeat');
  const heartbeatPod = (heartbeat.spec as { jobTemplate: { spec: { template: { spec: Json } } } }).jobTemplate.spec.template.spec;
  assert.equal(heartbeatPod.priorityClassName, 'system-cluster-critical');
  const identity = allContainers(find(objects, 'Deployment', 'linkerd-identity')).find((c) => c.name === 'identity')!;
  assert.ok(identity.args!.includes('-identity-trust-domain=mesh.example.org'));
  const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } };
  for (const d of deployments(render({ profile: 'ha', controlPlane: { affinity } }))) assert.deepEqual(podSpec(d).spec.affinity, affinity, 'the user\'s affinity replaces HA anti-affinity');
});

test('meshConfig.proxy.resources merges over the profile\'s quantity by quantity: requests alone keep the ha limits', () => {
  const objects = render({ profile: 'ha', meshConfig: { proxy: { resources: { requests: { memory: '64Mi' } } } } });
  const expected = { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '250Mi' } };
  for (const proxy of proxies(objects)) assert.deepEqual(proxy.resources, expected);
  for (const d of deployments(objects)) assert.deepEqual(allContainers(d).find((c) => c.name === 'linkerd-init')?.resources, expected, `${d.metadata.name} proxy-init`);
  const values = parse((find(objects, 'ConfigMap', 'linkerd-config').data as { values: string }).values) as { proxy: { resources: Json } };
  assert.deepEqual(values.proxy.resources, { cpu: { limit: '', request: '100m' }, 'ephemeral-storage': { limit: '', request: '' }, memory: { limit: '250Mi', request: '64Mi' } });
  // A limit alone keeps the profile's requests.
  for (const proxy of proxies(render({ profile: 'ha', meshConfig: { proxy: { resources: { limits: { cpu: '2' } } } } }))) {
    assert.deepEqual(proxy.resources, { requests: { cpu: '100m', memory: '20Mi' }, limits: { cpu: '2', memory: '250Mi' } });
  }
});

test('a spec request above the profile\'s limit stalls the render instead of rendering pods the API server refuses', () => {
  assert.throws(() => render({ profile: 'ha', meshConfig: { proxy: { resources: { requests: { memory: '512Mi' } } } } }), (e: unknown) =>
    e instanceof UnsupportedSpecError && e.reason === 'ResourceRequestAboveLimit'
    && e.message.startsWith('meshConfig.proxy.resources.requests.memory (512Mi) exceeds the limit of profile ha (memory: 250Mi)'));
  assert.doesNotThrow(() => render({ meshConfig: { proxy: { resources: { requests: { memory: '512Mi' } } } } }), 'the default profile sets no limit');
});

test('registry mirror: every image from the mirror, names and tags from the catalog', () => {
  const objects = render({ version: '2.20', registry: 'mirror.example.com/linkerd' });
  const images = deployments(objects).flatMap((d) => allContainers(d).map((c) => c.image!));
  images.push(...JSON.stringify(find(objects, 'CronJob', 'linkerd-heartbeat')).match(/"image":"[^"]+"/g)!.map((m) => m.slice(9, -1)));
  assert.deepEqual([...new Set(images)].sort(), ['mirror.example.com/linkerd/controller:edge-26.6.3', 'mirror.example.com/linkerd/proxy:edge-26.6.3']);
  assert.ok(!JSON.stringify(objects).includes('cr.l5d.io'), 'nothing pulls from cr.l5d.io');
  const values = configValues(objects);
  assert.equal(values.controllerImage, 'mirror.example.com/linkerd/controller');
  assert.equal(values.debugContainer.image.name, 'mirror.example.com/linkerd/debug');
});

test('catalog: newest first, resolves images and a revision; an unknown version names the supported ones', () => {
  assert.deepEqual(LINKERD_CATALOG, ['edge-26.8.3', 'edge-26.8.2', 'edge-26.8.1', '2.20', '2.19']);
  assert.deepEqual(linkerdDistribution.resolve(installation({ version: 'edge-26.8.3' })), {
    version: 'edge-26.8.3',
    revision: 'edge-26-8-3',
    images: { controller: 'cr.l5d.io/linkerd/controller:edge-26.8.3', proxy: 'cr.l5d.io/linkerd/proxy:edge-26.8.3', debug: 'cr.l5d.io/linkerd/debug:edge-26.8.3' },
  });
  assert.equal(linkerdDistribution.resolve(installation({ version: '2.20' })).revision, '2-20');
  // 2.19 is version-2.19 (edge-25.10.7) and ships proxy-init as its own image.
  assert.deepEqual(linkerdDistribution.resolve(installation({ version: '2.19', registry: 'mirror.example.com/l5d' })).images, {
    controller: 'mirror.example.com/l5d/controller:edge-25.10.7', proxy: 'mirror.example.com/l5d/proxy:edge-25.10.7',
    debug: 'mirror.example.com/l5d/debug:edge-25.10.7', proxyInit: 'mirror.example.com/l5d/proxy-init:v2.4.3',
  });
  assert.throws(() => linkerdDistribution.resolve(installation({ version: '2.17' })), (e: unknown) =>
    e instanceof UnsupportedSpecError && e.reason === 'VersionNotInCatalog'
    && /2\.17 is not in/.test(e.message) && e.message.includes('edge-26.8.3, edge-26.8.2, edge-26.8.1, 2.20, 2.19'));
});

test('render is pure: the same input twice gives deep-equal output, and the input is not modified', () => {
  for (const [name, spec, material] of GOLDEN_CASES) {
    const input = renderInput(spec, material ?? undefined);
    const before = structuredClone(input);
    const first = linkerdDistribution.render(input);
    (first.find((o) => o.kind === 'Deployment')!.metadata.labels as Record<string, string>).mutated = 'yes';
    const second = linkerdDistribution.render(input);
    assert.deepEqual(input, before, `${name}: input unchanged`);
    assert.deepEqual(linkerdDistribution.render(input), second, `${name}: deterministic`);
    assert.ok(!('mutated' in second.find((o) => o.kind === 'Deployment')!.metadata.labels!), `${name}: renders share no objects`);
  }
});

test('CRDs and the namespace are kept on delete; nothing carries the installation label (the reconciler adds it)', () => {
  const objects = render();
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  assert.equal(crds.length, 10);
  for (const o of [...crds, find(objects, 'Namespace', 'linkerd')]) assert.equal(o.metadata.annotations?.['meshwright.dev/keep-on-delete'], 'true', `${o.kind} ${o.metadata.name}`);
  assert.ok(!JSON.stringify(objects).includes('meshwright.dev/installation'));
});

test('ownedTypes covers every rendered kind; componentHealth judges each Deployment', () => {
  const owned = new Set(linkerdDistribution.ownedTypes.map((t) => `${t.apiVersion} ${t.kind}`));
  for (const [name, spec, material] of GOLDEN_CASES) {
    for (const o of render(spec, material)) assert.ok(owned.has(`${o.apiVersion} ${o.kind}`), `${name}: ${o.apiVersion} ${o.kind} is owned`);
  }
  const desired = render({ profile: 'ha' });
  const live = (o: KubeObject): KubeObject | undefined => o.metadata.name === 'linkerd-identity'
    ? { ...o, metadata: { ...o.metadata, generation: 2 }, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 } }
    : undefined;
  assert.deepEqual(linkerdDistribution.componentHealth(desired, live), [
    { name: 'linkerd-identity', kind: 'Deployment', namespace: 'linkerd', ready: true, replicas: 3, available: 3 },
    { name: 'linkerd-destination', kind: 'Deployment', namespace: 'linkerd', ready: false, replicas: 0, available: 0 },
  ]);
});

test('certificate authority: ECDSA P-256, root and issuer named for the control-plane namespace and trust domain', () => {
  assert.deepEqual(linkerdDistribution.certificateAuthority!(installation()), {
    root: { commonName: 'root.linkerd.cluster.local' },
    issuer: { commonName: 'identity.linkerd.cluster.local' },
    issuerDnsNames: ['identity.linkerd.cluster.local'],
    defaultKeyAlgorithm: 'ECDSAP256',
    keyAlgorithms: ['ECDSAP256'],
    servingCertificates: [
      { name: 'linkerd-sp-validator', dnsNames: ['linkerd-sp-validator.linkerd.svc'] },
      { name: 'linkerd-policy-validator', dnsNames: ['linkerd-policy-validator.linkerd.svc'] },
    ],
    published: LINKERD_PUBLISHED_CA,
  });
  const other = linkerdDistribution.certificateAuthority!(installation({ namespace: 'mesh', meshConfig: { trustDomain: 'example.org' } }));
  assert.equal(other.issuer.commonName, 'identity.mesh.example.org');
  assert.equal(other.root.commonName, 'root.mesh.example.org');
});
