/**
 * An External CA Secret used in place, on the real control plane: the installation's
 * `secretRef` names `cacerts` in the mesh namespace, already in the test mesh's plug-in layout
 * (what Istio's `cacerts` is), so the operator writes no `cacerts` of its own and the trust anchors
 * are published only in the user's Secret. The operator's caches select its own objects by label;
 * the user's Secret reaches them only through the referenced-secrets watch, which keeps its
 * public `root-cert.pem` and never a key. Shown here:
 * - a pod of an enrolled namespace is injected (not refused with TrustAnchorsNotPublished), its
 *   record's trust-bundle hash the SHA-256 of the user's root-cert.pem;
 * - status.dataPlane judges trust bundles against that root: a pod recording another is outdated;
 * - the cached Secret (an operator's caches, as a standby replica fills them) holds root-cert.pem
 *   and no key, though the Secret holds ca-key.pem and tls.key;
 * - no private key in status, Events or the operator's log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/ownership.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../operator/distributions/injection.ts';
import { Operator } from '../../operator/operator.ts';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { assertNoKeyMaterial } from '../support/key-material.ts';
import { eventually } from '../support/kube.ts';
import { TEST_PROXY_CONTAINER } from '../support/test-distribution.ts';
import { InjectionHarness, type RunningOperator } from './harness.ts';

const harness = new InjectionHarness({ withCa: true });
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const b64 = (text: string) => Buffer.from(text).toString('base64');
const knownKeys: string[] = [];
let rootPem = '';
let user: KubeObject;
let operator: RunningOperator;

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { conditions?: Condition[]; dataPlane?: { injectedPods: number; outdatedPods: number } } };

before(async () => {
  await harness.setUp();
  // The user's CA: cert-manager's keys (what the operator reads an External CA from) and the
  // plug-in layout the test mesh's cacerts has, with the same material (what makes it usable in place).
  const now = Date.now();
  const root = await createSelfSigned({ subject: 'CN=corp root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 1000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const issuer = await issueCertificate({ subject: 'CN=corp issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 900 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
  knownKeys.push(root.privateKeyPem, issuer.privateKeyPem);
  rootPem = root.certificatePem;
  await harness.admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: harness.meshNamespace } });
  user = await harness.admin.create({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: harness.meshNamespace }, type: 'Opaque',
    data: {
      'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem),
      'ca-cert.pem': b64(issuer.certificatePem), 'ca-key.pem': b64(issuer.privateKeyPem),
      'root-cert.pem': b64(root.certificatePem), 'cert-chain.pem': b64(issuer.certificatePem + root.certificatePem),
    },
  } as KubeObject);
  operator = await harness.startOperator();
  await harness.install({ certificateAuthority: { type: 'External', secretRef: { namespace: harness.meshNamespace, name: 'cacerts' } } });
});

after(async () => {
  await harness.tearDown();
});

test('the user\'s cacerts is used in place: CertificateAuthorityReady, and the Secret is neither written nor labelled', async () => {
  const mi = await eventually('CertificateAuthorityReady=True', async () => {
    const current = await harness.admin.get<Installation>(miType, harness.name);
    return current.status?.conditions?.some((c) => c.type === 'CertificateAuthorityReady' && c.status === 'True') ? current : undefined;
  }, 30_000, 100);
  assert.ok(!mi.status?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True'), JSON.stringify(mi.status?.conditions));
  const live = await harness.admin.get(secretType, 'cacerts', harness.meshNamespace);
  assert.equal(live.metadata.resourceVersion, user.metadata.resourceVersion, 'the user\'s Secret is unchanged');
  assert.equal(live.metadata.labels?.[INSTALLATION_LABEL], undefined, 'and not labelled as ours');
});

test('a pod of an enrolled namespace is injected, its record\'s trust-bundle hash the SHA-256 of the user\'s root-cert.pem', async () => {
  const refusals: string[] = [];
  const pod = await eventually('a pod injected through the API server', async () => {
    const result = await harness.createPod(harness.enrolled);
    if ('refused' in result) {
      refusals.push(result.refused);
      return undefined;
    }
    return InjectionHarness.injected(result.created) ? result.created : undefined;
  }, 30_000, 300).catch((error: Error) => {
    throw new Error(`${error.message}; refusals: ${JSON.stringify([...new Set(refusals)])}`);
  });
  const hash = pod.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256];
  assert.equal(hash, createHash('sha256').update(rootPem).digest('hex'));
  assert.equal(hash, trustBundleSha256(rootPem));
  assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], harness.name);
});

test('status.dataPlane judges trust bundles against the user\'s root: a pod recording another is outdated until it goes', async () => {
  const statusWhen = (description: string, check: (mi: Installation) => boolean) => eventually(description, async () => {
    const mi = await harness.admin.get<Installation>(miType, harness.name);
    return check(mi) ? mi : undefined;
  }, 30_000, 100);
  const dataPlaneReady = (mi: Installation) => mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady');
  await statusWhen('every injected pod current', (mi) => (mi.status?.dataPlane?.injectedPods ?? 0) >= 1 && mi.status?.dataPlane?.outdatedPods === 0 && dataPlaneReady(mi)?.reason === 'ProxiesCurrent');
  // A pod carrying the record of another trust bundle (the test injector leaves a pod with its proxy as it is).
  const stale = await harness.admin.create({
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName: 'stale-', namespace: harness.enrolled, labels: { [INJECTED_BY_LABEL]: harness.name },
      annotations: { [RECORD_ANNOTATIONS.mesh]: 'istio', [RECORD_ANNOTATIONS.revision]: 'default', [RECORD_ANNOTATIONS.proxyVersion]: '1.1.0', [RECORD_ANNOTATIONS.trustBundleSha256]: trustBundleSha256('-----BEGIN CERTIFICATE-----\nother\n-----END CERTIFICATE-----\n') },
    },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }, { name: TEST_PROXY_CONTAINER, image: 'registry.example/test-mesh/proxy:1.1.0' }] },
  } as unknown as KubeObject);
  const outdated = await statusWhen('the stale pod outdated', (mi) => mi.status?.dataPlane?.outdatedPods === 1 && dataPlaneReady(mi)?.reason === 'ProxiesOutdated');
  assert.equal(dataPlaneReady(outdated)?.status, 'False');
  await harness.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, stale.metadata.name, harness.enrolled);
  await statusWhen('current again once it is gone', (mi) => mi.status?.dataPlane?.outdatedPods === 0 && dataPlaneReady(mi)?.reason === 'ProxiesCurrent');
});

test('an operator\'s cache of the user\'s Secret holds root-cert.pem and no key, though the Secret holds ca-key.pem and tls.key', async () => {
  const live = await harness.admin.get<KubeObject & { data: Record<string, string> }>(secretType, 'cacerts', harness.meshNamespace);
  assert.ok(live.data['ca-key.pem'] && live.data['tls.key'], 'the Secret has keys: the check below could fail');
  // The caches a standby replica fills (the operator as operator.ts wires it), reconciling nothing.
  const lines: string[] = [];
  const standby = new Operator({
    client: harness.admin, distributions: [harness.distribution], installationSelector: `meshwright.dev/test-run=${harness.run}`,
    log: createLogger({ level: 'debug', name: 'meshwright', destination: { write: (line: string) => void lines.push(line) } }),
  });
  try {
    await standby.startCaches();
    const cached = await eventually('the user\'s Secret in the referenced-secrets cache', async () => standby.referencedSecrets.get(harness.meshNamespace, 'cacerts'), 30_000, 50);
    const data = (cached as { data?: Record<string, string> }).data ?? {};
    assert.deepEqual(Object.keys(data), ['root-cert.pem']);
    assert.equal(Buffer.from(data['root-cert.pem']!, 'base64').toString('utf8'), rootPem);
    const text = JSON.stringify(cached);
    assert.ok(!text.includes(live.data['ca-key.pem']!) && !text.includes(live.data['tls.key']!), 'no key, encoded');
    assert.doesNotMatch(text, /PRIVATE KEY|ca-key|tls\.key/);
    for (const key of knownKeys) assert.ok(!text.includes(key.trim().split('\n')[1]!), 'no key, decoded');
  } finally {
    await standby.stop();
  }
  await assertNoKeyMaterial({ client: harness.admin, installations: [harness.name], log: readFileSync(operator.logFile, 'utf8') + lines.join(''), knownKeys });
});
