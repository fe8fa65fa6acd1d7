/**
 * Status always describes the user's External CA Secret as it is now, on the real control plane:
 * a Ready installation whose Secret is then broken (a garbage tls.crt, a garbage tls.key, the key of
 * another certificate) and
 * mended again shows each state in CertificateAuthorityReady as soon as the Secret changes — with
 * no spec change and no other event to wake the operator (it watches the Secret by name) — and
 * each message replaces the previous one. (The mesh's own key-algorithm requirement is checked
 * with Linkerd in e2e/meshes/external-issuer.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { assertNoKeyMaterial } from '../support/key-material.ts';
import { eventually } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';
import { operatorScenario } from '../support/test-operator.ts';

const { run, label, admin, operator, start, close } = operatorScenario([testDistributionWithCa]);
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const name = `extchk-${run}`;
const namespace = `test-extchk-${run}`;
const secretName = `corp-ca-${run}`;
const knownKeys: string[] = [];
const b64 = (text: string) => Buffer.from(text).toString('base64');

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[] } };

/** CertificateAuthorityReady once it has `reason`, waiting on nothing but the operator noticing the Secret. */
async function caCondition(reason: string): Promise<Condition> {
  return eventually(`CertificateAuthorityReady ${reason}`, async () => {
    const mi = await admin.get<Installation>(miType, name);
    const condition = mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady');
    return condition?.reason === reason ? condition : undefined;
  }, 15_000, 50);
}

before(start);

after(async () => {
  await operator.stop();
  await removeTestMesh(admin, name, namespace);
  await admin.delete(secretType, secretName, 'default').catch(() => undefined);
  await close();
});

describe('status describes the External Secret as it is now', () => {
  test('garbage tls.crt, a garbage tls.key, the key of another certificate, then valid again: each noticed at once without a spec change, each message replacing the last', async () => {
    const now = Date.now();
    const root = await createSelfSigned({ subject: 'CN=corp root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 5000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    // Outside the default renewBefore (720h), so nothing but the Secret's change brings a pass.
    const issuer = await issueCertificate({ subject: 'CN=corp issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 4000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
    knownKeys.push(root.privateKeyPem, issuer.privateKeyPem);
    await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject);
    await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: label }, spec: { mesh: 'istio', version: '1.0.0', namespace, certificateAuthority: { type: 'External', secretRef: { name: secretName, namespace: 'default' } } } });
    await eventually(`${name} Ready`, async () => {
      const mi = await admin.get<Installation>(miType, name);
      return mi.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? mi : undefined;
    }, 60_000);
    assert.equal((await caCondition('ExternalMaterialValid')).status, 'True');

    await admin.patch(secretType, secretName, 'default', { data: { 'tls.crt': b64('this is not a certificate') } }, 'merge');
    const badCertificate = await caCondition('IssuerInvalid');
    assert.equal(badCertificate.status, 'False');
    assert.match(badCertificate.message, new RegExp(`Secret default/${secretName}`), 'names the Secret');
    assert.match(badCertificate.message, /tls\.crt/, 'and the key that is wrong');

    await admin.patch(secretType, secretName, 'default', { data: { 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n') } }, 'merge');
    const badKey = await caCondition('KeyInvalid');
    assert.equal(badKey.status, 'False');
    assert.equal(badKey.message, `the private key (tls.key of Secret default/${secretName}) cannot be read as a PEM private key`, 'the earlier message is gone');

    const stranger = await issueCertificate({ subject: 'CN=someone else', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 4000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
    knownKeys.push(stranger.privateKeyPem);
    await admin.patch(secretType, secretName, 'default', { data: { 'tls.key': b64(stranger.privateKeyPem) } }, 'merge');
    assert.match((await caCondition('KeyMismatch')).message, new RegExp(`^the private key \\(tls.key of Secret default/${secretName}\\) does not belong to the issuer certificate CN=corp issuer$`));

    await admin.patch(secretType, secretName, 'default', { data: { 'tls.key': b64(issuer.privateKeyPem) } }, 'merge');
    assert.equal((await caCondition('ExternalMaterialValid')).status, 'True');
  });

  test('no private key reached status, Events or the operator log', async () => {
    await assertNoKeyMaterial({ client: admin, installations: [name], log: operator.log(), knownKeys });
  });
});
