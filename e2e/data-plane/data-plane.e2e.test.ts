/**
 * Namespace enrolment and the data plane in status, on the real control plane.
 *
 * The installation is the test mesh with an External CA (so the test can change the trust anchors)
 * and an injector whose only part used here is its enrolment label: pods are created directly with
 * the record the injection webhook writes (label and annotations), as the webhook is tested on its
 * own. Everything is waited for on the installation's status, never on time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { ENROLLED_BY_ANNOTATION } from '../../operator/controllers/meshinstallation/enrolment.ts';
import type { MeshDistribution } from '../../operator/distributions/distribution.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256, type SidecarInjector } from '../../operator/distributions/injection.ts';
import { createSelfSigned, issueCertificate, type CertificateWithKey } from '../../operator/pki/x509.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually, getIfExists } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';
import { operatorScenario } from '../support/test-operator.ts';

const enrolment = { key: 'inject.e2e.meshwright.dev/enabled', value: 'yes' };
const injector: SidecarInjector = {
  inject: () => {
    throw new Error('not used here: the test creates pods with their record');
  },
  webhookConfigurations: () => [],
  enrolmentLabel: () => enrolment,
};
const distribution: MeshDistribution = { ...testDistributionWithCa, injector };

const { run, label, admin, operator, start, close } = operatorScenario([distribution]);
const miType = { apiVersion: API_VERSION, kind: KIND };
const nsType = { apiVersion: 'v1', kind: 'Namespace' };
const podType = { apiVersion: 'v1', kind: 'Pod' };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const name = `dp-${run}`;
const meshNamespace = `dp-mesh-${run}`;
const shop = `dp-shop-${run}`;
const legacy = `dp-legacy-${run}`;
const other = `dp-other-${run}`;
const selectorLabel = 'dp.e2e.meshwright.dev/run';
const secretName = `dp-ca-${run}`;
const b64 = (text: string) => Buffer.from(text).toString('base64');

type Condition = { type: string; status: string; reason: string; message: string };
type DataPlane = { enrolledNamespaces: number; injectedPods: number; outdatedPods: number; proxyVersions?: Record<string, number>; namespacesNotEnrolled?: Array<{ namespace: string; reason: string }> };
type Installation = KubeObject & { status?: { conditions?: Condition[]; dataPlane?: DataPlane } };

/** The installation once `check` holds for its status, failing with the last status seen. */
async function statusWhen(description: string, check: (dataPlane: DataPlane | undefined, condition: Condition | undefined) => boolean, timeoutMs = 30_000): Promise<{ dataPlane: DataPlane; condition: Condition }> {
  return eventually(description, async () => {
    const mi = await admin.get<Installation>(miType, name);
    const condition = mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady');
    return check(mi.status?.dataPlane, condition) ? { dataPlane: mi.status!.dataPlane!, condition: condition! } : false;
  }, timeoutMs, 100).catch(async (error: Error) => {
    const mi = await admin.get<Installation>(miType, name);
    throw new Error(`${error.message}; status.dataPlane: ${JSON.stringify(mi.status?.dataPlane)}; DataPlaneReady: ${JSON.stringify(mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady'))}`);
  });
}

/** SHA-256 of the trust anchors as the mesh publishes them now (the test mesh's cacerts Secret). */
async function publishedHash(): Promise<string> {
  const secret = await admin.get<KubeObject & { data: Record<string, string> }>(secretType, 'cacerts', meshNamespace);
  return trustBundleSha256(Buffer.from(secret.data['root-cert.pem']!, 'base64').toString('utf8'));
}

/** A pod as the injection webhook leaves it: the record label and annotations. */
async function injectedPod(podName: string, proxyVersion: string, hash: string): Promise<void> {
  await admin.create({
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: podName, namespace: shop, labels: { app: podName, [INJECTED_BY_LABEL]: name },
      annotations: { [RECORD_ANNOTATIONS.mesh]: 'istio', [RECORD_ANNOTATIONS.revision]: 'default', [RECORD_ANNOTATIONS.proxyVersion]: proxyVersion, [RECORD_ANNOTATIONS.trustBundleSha256]: hash },
    },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }, { name: 'proxy', image: `registry.example/proxy:${proxyVersion}` }] },
  });
}

const namespaceOf = (ns: string) => admin.get(nsType, ns);

/** The Events about the installation with reason LabelSetByUser. */
async function labelSetByUserEvents() {
  const events = await admin.list<KubeObject & { reason?: string; type?: string; note?: string; series?: { count: number }; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  return events.items.filter((e) => e.regarding?.name === name && e.reason === 'LabelSetByUser');
}
let root: CertificateWithKey;
let issuer: CertificateWithKey;

before(async () => {
  await start();
  const now = Date.now();
  root = await createSelfSigned({ subject: 'CN=dp root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 5000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  issuer = await issueCertificate({ subject: 'CN=dp issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 4000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
  await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject);
  // shop: selected, labelled by its team; legacy: selected, but a person opted it out; other: not selected.
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: shop, labels: { [selectorLabel]: run, team: 'shop' }, annotations: { owner: 'shop-team' } } });
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: legacy, labels: { [selectorLabel]: run, [enrolment.key]: 'no' } } });
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: other, labels: { team: 'other' } } });
});

after(async () => {
  await operator.stop();
  await removeTestMesh(admin, name, meshNamespace);
  await admin.delete(secretType, secretName, 'default').catch(() => undefined);
  for (const ns of [shop, legacy, other]) await admin.delete(nsType, ns).catch(() => undefined);
  await close();
});

describe('namespace enrolment and status.dataPlane', () => {
  test('the selected namespace gets the mesh label and our annotation, its own labels untouched; a person\'s label is left and reported; an unselected one is untouched', async () => {
    await admin.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: label },
      spec: {
        mesh: 'istio', version: '1.1.0', namespace: meshNamespace,
        certificateAuthority: { type: 'External', secretRef: { name: secretName, namespace: 'default' } },
        injection: { namespaceSelector: { matchLabels: { [selectorLabel]: run } } },
      },
    });
    const { dataPlane, condition } = await statusWhen('one namespace enrolled, legacy reported', (d) => d?.enrolledNamespaces === 1 && (d.namespacesNotEnrolled ?? []).length === 1, 60_000);
    assert.deepEqual(dataPlane.namespacesNotEnrolled?.map((n) => [n.namespace, n.reason]), [[legacy, 'LabelSetByUser']]);
    assert.equal(condition.status, 'True');
    assert.equal(condition.reason, 'ProxiesCurrent');
    assert.match(condition.message, new RegExp(`not enrolled: ${legacy} \\(LabelSetByUser\\)`));

    const shopNs = await namespaceOf(shop);
    assert.equal(shopNs.metadata.labels?.[enrolment.key], enrolment.value);
    assert.equal(shopNs.metadata.annotations?.[ENROLLED_BY_ANNOTATION], name);
    assert.equal(shopNs.metadata.labels?.team, 'shop', 'the team label is untouched');
    assert.equal(shopNs.metadata.annotations?.owner, 'shop-team', 'the owner annotation is untouched');
    const legacyNs = await namespaceOf(legacy);
    assert.equal(legacyNs.metadata.labels?.[enrolment.key], 'no', 'a person\'s label is never overwritten');
    assert.equal(legacyNs.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
    const otherNs = await namespaceOf(other);
    assert.equal(otherNs.metadata.labels?.[enrolment.key], undefined);
    assert.equal(otherNs.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
    // The person who owns the installation hears of it once, as a Warning Event naming the namespace.
    const events = await eventually('a LabelSetByUser Event', async () => {
      const found = await labelSetByUserEvents();
      return found.length > 0 ? found : undefined;
    });
    assert.equal(events[0]!.type, 'Warning');
    assert.match(events[0]!.note ?? '', new RegExp(`${legacy} has ${enrolment.key}=no`));
  });

  test('injected pods are counted per proxy version from a pod cache trimmed to their record; one at an old version is outdated until it goes', async () => {
    const hash = await publishedHash();
    await injectedPod('web-1', '1.1.0', hash);
    await injectedPod('web-2', '1.1.0', hash);
    await injectedPod('old-1', '1.0.0', hash);
    const { dataPlane, condition } = await statusWhen('3 pods, 1 outdated', (d) => d?.injectedPods === 3 && d.outdatedPods === 1);
    assert.deepEqual(dataPlane.proxyVersions, { '1.1.0': 2, '1.0.0': 1 });
    assert.equal(condition.status, 'False');
    assert.equal(condition.reason, 'ProxiesOutdated');
    assert.match(condition.message, /^1 of 3 pods run an outdated proxy: 1 pod not at proxy version 1\.1\.0 \(1\.0\.0: 1\)/);
    // The operator's pod cache holds these pods trimmed to their record: no spec, no other annotation.
    const cached = operator.current!.pods.list(shop);
    assert.deepEqual(cached.map((p) => p.metadata.name).sort(), ['old-1', 'web-1', 'web-2']);
    for (const p of cached) {
      assert.equal(p.spec, undefined, `${p.metadata.name}: no spec cached`);
      assert.equal(p.metadata.managedFields, undefined);
      assert.deepEqual(Object.keys(p.metadata.annotations ?? {}).sort(), Object.values(RECORD_ANNOTATIONS).sort());
    }

    await admin.delete(podType, 'old-1', shop);
    const current = await statusWhen('2 pods, none outdated', (d, c) => d?.injectedPods === 2 && d.outdatedPods === 0 && c?.reason === 'ProxiesCurrent');
    assert.deepEqual(current.dataPlane.proxyVersions, { '1.1.0': 2 });
    assert.equal(current.condition.status, 'True');
  });

  test('the installation wanting another version makes the pods outdated; back again, current', async () => {
    await admin.patch(miType, name, undefined, { spec: { version: '1.0.0' } }, 'merge');
    const outdated = await statusWhen('both pods outdated by version', (d, c) => d?.outdatedPods === 2 && c?.reason === 'ProxiesOutdated');
    assert.equal(outdated.dataPlane.injectedPods, 2);
    assert.match(outdated.condition.message, /^2 of 2 pods run an outdated proxy: 2 pods not at proxy version 1\.0\.0 \(1\.1\.0: 2\)/);
    await admin.patch(miType, name, undefined, { spec: { version: '1.1.0' } }, 'merge');
    await statusWhen('current again', (d, c) => d?.outdatedPods === 0 && c?.reason === 'ProxiesCurrent');
  });

  test('new trust anchors make every pod with the old bundle outdated; a pod given the new bundle is current', async () => {
    const before = await publishedHash();
    const now = Date.now();
    const next = await createSelfSigned({ subject: 'CN=dp root 2', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 5000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    // Both roots, as a rotation's overlap has it: the issuer still chains to the first.
    await admin.patch(secretType, secretName, 'default', { data: { 'ca.crt': b64(root.certificatePem + next.certificatePem) } }, 'merge');
    const outdated = await statusWhen('both pods outdated by trust bundle', (d, c) => d?.outdatedPods === 2 && c?.reason === 'ProxiesOutdated');
    assert.match(outdated.condition.message, /2 pods with a trust bundle other than the one the mesh publishes/);
    assert.doesNotMatch(outdated.condition.message, /not at proxy version/);
    const after = await publishedHash();
    assert.notEqual(after, before, 'the published anchors changed');
    await injectedPod('web-3', '1.1.0', after);
    const counted = await statusWhen('3 pods, 2 outdated', (d) => d?.injectedPods === 3 && d.outdatedPods === 2);
    assert.deepEqual(counted.dataPlane.proxyVersions, { '1.1.0': 3 });
  });

  test('a namespace leaving the selection is unenrolled (our label and annotation only); the newly selected one is enrolled', async () => {
    // Dozens of passes ran while legacy stayed reported: it was announced once, not on every pass.
    const announced = await labelSetByUserEvents();
    assert.equal(announced.length, 1);
    assert.equal(announced[0]!.series, undefined, 'no repeats folded into a series');
    assert.ok(operator.passes(name) >= 5, `passes ran meanwhile (${operator.passes(name)})`);
    await admin.patch(miType, name, undefined, { spec: { injection: { namespaceSelector: null, namespaces: [other] } } }, 'merge');
    await eventually(`${shop} unenrolled and ${other} enrolled`, async () => {
      const [s, o] = await Promise.all([namespaceOf(shop), namespaceOf(other)]);
      return s.metadata.labels?.[enrolment.key] === undefined && o.metadata.labels?.[enrolment.key] === enrolment.value;
    });
    const shopNs = await namespaceOf(shop);
    assert.equal(shopNs.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
    assert.deepEqual(shopNs.metadata.labels, { [selectorLabel]: run, team: 'shop', 'kubernetes.io/metadata.name': shop }, 'every other label as the user left it');
    assert.deepEqual(shopNs.metadata.annotations, { owner: 'shop-team' });
    assert.equal((await namespaceOf(other)).metadata.annotations?.[ENROLLED_BY_ANNOTATION], name);
    assert.equal((await namespaceOf(legacy)).metadata.labels?.[enrolment.key], 'no');
    // Pods injected earlier in shop still run the proxy: still counted, in 1 enrolled namespace now.
    const { dataPlane } = await statusWhen('other enrolled, legacy no longer reported', (d) => d?.enrolledNamespaces === 1 && d.namespacesNotEnrolled === undefined && d.injectedPods === 3);
    assert.equal(dataPlane.outdatedPods, 2);
  });

  test('every injected pod gone: status says so, and later passes still write status (no empty proxyVersions map, which server-side apply sends as null and the API server refuses)', async () => {
    for (const pod of ['web-1', 'web-2', 'web-3']) await admin.delete(podType, pod, shop);
    const { dataPlane } = await statusWhen('no injected pod left', (d) => d?.injectedPods === 0 && d.outdatedPods === 0);
    assert.equal(dataPlane.proxyVersions, undefined, 'no pod, no proxy version');
    // The next spec change is still taken and recorded: a refused status write would leave observedGeneration behind.
    await admin.patch(miType, name, undefined, { spec: { version: '1.0.0' } }, 'merge');
    const recorded = await eventually('the new generation recorded in status', async () => {
      const mi = await admin.get<KubeObject & { status?: { observedGeneration?: number } }>(miType, name);
      return mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
    }, 30_000, 100);
    assert.ok((recorded.metadata.generation ?? 0) > 1);
  });

  test('deleting the installation unenrols what it enrolled and deletes no namespace', async () => {
    await admin.delete(miType, name);
    await eventually(`${name} gone`, async () => !(await getIfExists(admin, miType, name)), 60_000);
    const otherNs = await namespaceOf(other);
    assert.equal(otherNs.metadata.labels?.[enrolment.key], undefined);
    assert.equal(otherNs.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
    assert.equal(otherNs.metadata.labels?.team, 'other');
    for (const ns of [shop, legacy, other]) assert.equal((await namespaceOf(ns)).metadata.deletionTimestamp, undefined, `${ns} is not deleted`);
    assert.equal((await namespaceOf(legacy)).metadata.labels?.[enrolment.key], 'no', 'a person\'s label outlives the installation');
  });
});
