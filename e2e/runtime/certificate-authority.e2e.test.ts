/**
 * The PKI step on the real control plane: the CA is created once, before the control plane, and
 * published in the mesh's layout; it survives operator restarts without being regenerated; foreign
 * edits and deletions of CA Secrets are repaired from the operator's state; External material is
 * checked, with a clear condition while it is missing or broken and nothing applied meanwhile.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { createSelfSigned, describeCertificate, issueCertificate } from '../../operator/pki/x509.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { assertNoKeyMaterial, privateKeysIn } from '../support/key-material.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { testDistributionWithCa } from '../support/test-distribution.ts';
import { testOperator } from '../support/test-operator.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const operatorClient = new KubeClient(kc);
const foreign = new KubeClient(kc, 'meshwright-e2e-foreign-writer');
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const names = { selfSigned: `ca-${run}`, external: `ext-${run}` };
const namespaces = { selfSigned: `test-ca-${run}`, external: `test-ext-${run}` };
const operator = testOperator({ client: operatorClient, distributions: [testDistributionWithCa], installationSelector: `meshwright.dev/test-run=${run}` });
const passesOf = (name: string) => operator.passes(name);
/** Private keys the scenarios used, to look for where they must never be. */
const knownKeys: string[] = [];

type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }>; certificateAuthority?: { rootFingerprint?: string; rootNotAfter?: string; intermediateNotAfter?: string; trustBundleHash?: string } } };
type Secret = KubeObject & { data: Record<string, string> };
const decode = (secret: Secret, key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');

async function createInstallation(name: string, namespace: string, certificateAuthority?: Record<string, unknown>): Promise<void> {
  await foreign.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace, ...(certificateAuthority ? { certificateAuthority } : {}) } });
}

async function condition(name: string, type: string) {
  const mi = await foreign.get<Installation>(miType, name);
  return mi.status?.conditions?.find((c) => c.type === type);
}

async function ready(name: string): Promise<Installation> {
  return eventually(`${name} Ready=True`, async () => {
    const mi = await foreign.get<Installation>(miType, name);
    const readyCondition = mi.status?.conditions?.find((c) => c.type === 'Ready');
    return readyCondition?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 60_000);
}

function maybe<T extends KubeObject>(name: string, namespace: string): Promise<T | undefined> {
  return getIfExists<T>(foreign, secretType, name, namespace);
}

function opensslVerify(rootPem: string, chainPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-ca-e2e-'));
  try {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'issuer.pem'), chainPem);
    return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'issuer.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

before(async () => {
  await installMeshInstallationCrd(operatorClient);
  await operator.start();
});

after(async () => {
  await operator.stop();
  for (const name of Object.values(names)) {
    await foreign.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    await foreign.delete(miType, name).catch(() => undefined);
    for (const suffix of ['', '-demo']) await foreign.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' }, `test-mesh-${name}${suffix}`).catch(() => undefined);
    await foreign.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, `test-mesh-${name}`).catch(() => undefined);
    await foreign.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, `test-mesh-${name}`).catch(() => undefined);
  }
  for (const namespace of Object.values(namespaces)) await foreign.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
  // The user's CA Secret the External test creates (also when that test failed half-way).
  await foreign.delete(secretType, `corp-ca-${run}`, 'default').catch(() => undefined);
  await operatorClient.close();
  await foreign.close();
});

describe('the mesh CA on the real cluster', () => {
  const name = names.selfSigned;
  const namespace = namespaces.selfSigned;

  test('SelfSigned: created before the control plane, published in the mesh layout, shown in status, chain verifies with openssl', async () => {
    const since = new Date();
    await createInstallation(name, namespace, { keyAlgorithm: 'RSA2048' });
    const mi = await ready(name);
    const state = await foreign.get<Secret>(secretType, CA_STATE_SECRET, namespace);
    const cacerts = await foreign.get<Secret>(secretType, 'cacerts', namespace);
    const root = decode(cacerts, 'root-cert.pem');
    assert.equal(root, decode(state, 'root.crt'));
    assert.match(opensslVerify(root, decode(cacerts, 'ca-cert.pem')), /OK/);
    const rootInfo = await describeCertificate(root);
    assert.equal(rootInfo.keyAlgorithm, 'RSA2048');
    assert.equal(rootInfo.subject, 'O=meshwright test, CN=root.cluster.local');
    assert.equal(mi.status?.certificateAuthority?.rootFingerprint, rootInfo.sha256Fingerprint);
    assert.equal(mi.status?.certificateAuthority?.rootNotAfter, rootInfo.notAfter.toISOString().replace('.000Z', 'Z'));
    assert.match(mi.status?.certificateAuthority?.intermediateNotAfter ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal((await condition(name, 'CertificateAuthorityReady'))?.reason, 'Issued');
    assert.doesNotMatch(JSON.stringify(mi.status), /PRIVATE KEY|BEGIN CERTIFICATE/, 'no key material in status');
    knownKeys.push(...await privateKeysIn(foreign, [{ namespace, name: CA_STATE_SECRET }, { namespace, name: 'cacerts' }]));

    // Order, as the API server saw it: the CA state exists before the Deployment that would use it.
    const writes = auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace);
    const at = (resource: string, objectName: string) => writes.findIndex((e) => e.objectRef?.resource === resource && e.objectRef?.name === objectName);
    const stateCreate = writes.find((e) => e.objectRef?.name === CA_STATE_SECRET);
    assert.equal(stateCreate?.verb, 'create', 'the CA state is created, never applied over something that exists');
    assert.ok(at('secrets', CA_STATE_SECRET) >= 0 && at('secrets', CA_STATE_SECRET) < at('deployments', 'controller'), 'CA before control plane');
    assert.ok(at('secrets', 'cacerts') < at('deployments', 'controller'), 'cacerts before control plane');
  });

  test('an operator restart never regenerates the CA, and sends no write to CA Secrets', async () => {
    const before = (await foreign.get<Installation>(miType, name)).status?.certificateAuthority;
    const stateBefore = await foreign.get<Secret>(secretType, CA_STATE_SECRET, namespace);
    await operator.stop();
    const since = new Date();
    const passesBefore = passesOf(name);
    await operator.start();
    // The restarted operator's first pass, from empty memory and fresh caches, plus one more on demand.
    await eventually('the restarted operator to reconcile', async () => passesOf(name) > passesBefore, 10_000, 20);
    operator.current!.controller.enqueue(name);
    await eventually('a second pass', async () => passesOf(name) > passesBefore + 1, 10_000, 20);
    const stateAfter = await foreign.get<Secret>(secretType, CA_STATE_SECRET, namespace);
    assert.equal(stateAfter.metadata.resourceVersion, stateBefore.metadata.resourceVersion);
    assert.deepEqual((await foreign.get<Installation>(miType, name)).status?.certificateAuthority, before);
    const secretWrites = auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace && e.objectRef?.resource === 'secrets');
    assert.deepEqual(secretWrites.map((e) => `${e.verb} ${e.objectRef?.name}`), []);
  });

  test('a foreign edit of cacerts and a deletion of the CA state are repaired from the operator\'s state', async () => {
    const state = await foreign.get<Secret>(secretType, CA_STATE_SECRET, namespace);
    const cacerts = await foreign.get<Secret>(secretType, 'cacerts', namespace);
    const impostor = await createSelfSigned({ subject: 'CN=impostor', notBefore: new Date(), notAfter: new Date(Date.now() + 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    await foreign.patch(secretType, 'cacerts', namespace, { data: { 'root-cert.pem': Buffer.from(impostor.certificatePem).toString('base64') } }, 'merge');
    await eventually('cacerts restored', async () => decode(await foreign.get<Secret>(secretType, 'cacerts', namespace), 'root-cert.pem') === decode(cacerts, 'root-cert.pem'), 10_000, 50);
    await foreign.delete(secretType, CA_STATE_SECRET, namespace);
    const recreated = await eventually('CA state recreated', async () => {
      const secret = await maybe<Secret>(CA_STATE_SECRET, namespace);
      return secret && secret.metadata.uid !== state.metadata.uid ? secret : undefined;
    }, 10_000, 50);
    assert.deepEqual(recreated.data, state.data, 'the same CA, not a new one');
  });

  test('External: missing, then broken, then valid material, each noticed without a spec change; nothing is applied until it is usable', async () => {
    const extName = names.external;
    const extNamespace = namespaces.external;
    await createInstallation(extName, extNamespace, { type: 'External', secretRef: { name: `corp-ca-${run}`, namespace: 'default' } });
    const missing = await eventually('SecretNotFound', async () => {
      const c = await condition(extName, 'CertificateAuthorityReady');
      return c?.reason === 'SecretNotFound' ? c : undefined;
    }, 20_000);
    assert.equal(missing.status, 'False');
    assert.match(missing.message, new RegExp(`Secret default/corp-ca-${run} named in spec.certificateAuthority.secretRef does not exist`));
    assert.equal((await condition(extName, 'Stalled'))?.status, 'False', 'a missing Secret may still come: not stalled');
    assert.equal(await maybe('cacerts', extNamespace), undefined, 'nothing that needs the CA was applied');

    const now = Date.now();
    const root = await createSelfSigned({ subject: 'CN=corp root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 100 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    const expired = await issueCertificate({ subject: 'CN=corp issuer', notBefore: new Date(now - 7_200_000), notAfter: new Date(now - 60_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    await foreign.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `corp-ca-${run}`, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(expired.certificatePem), 'tls.key': b64(expired.privateKeyPem) } } as KubeObject);
    knownKeys.push(root.privateKeyPem, expired.privateKeyPem);
    const broken = await eventually('CertificateExpired', async () => {
      const c = await condition(extName, 'Stalled');
      return c?.status === 'True' && c.reason === 'CertificateExpired' ? c : undefined;
    }, 60_000);
    assert.match(broken.message, /CN=corp issuer expired at/);
    assert.equal(await maybe('cacerts', extNamespace), undefined);

    const issuer = await issueCertificate({ subject: 'CN=corp issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 50 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
    await foreign.patch(secretType, `corp-ca-${run}`, 'default', { data: { 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } }, 'merge');
    knownKeys.push(issuer.privateKeyPem);
    const mi = await ready(extName);
    const caReady = await condition(extName, 'CertificateAuthorityReady');
    assert.equal(caReady?.status, 'True');
    assert.equal(caReady?.reason, 'IssuerExpiringSoon', 'a 50h issuer is inside the default renewBefore of 720h');
    assert.match(caReady?.message ?? '', /expires at .* within renewBefore; renew the Secret/);
    assert.equal(mi.status?.certificateAuthority?.rootFingerprint, (await describeCertificate(root.certificatePem)).sha256Fingerprint);
    const cacerts = await foreign.get<Secret>(secretType, 'cacerts', extNamespace);
    assert.equal(decode(cacerts, 'ca-cert.pem'), issuer.certificatePem);
    assert.equal(decode(cacerts, 'root-cert.pem'), root.certificatePem);
    knownKeys.push(...await privateKeysIn(foreign, [{ namespace: extNamespace, name: CA_STATE_SECRET }]));
    await foreign.delete(secretType, `corp-ca-${run}`, 'default');
  });

  test('no private key reached status, Events or the operator log', async () => {
    assert.ok(knownKeys.length >= 6, `the scenarios' keys were collected (${knownKeys.length})`);
    await assertNoKeyMaterial({ client: foreign, installations: Object.values(names), log: operator.log(), knownKeys });
  });
});
