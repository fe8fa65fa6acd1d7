/**
 * A user's Secret is never labelled, owned, changed or deleted, on the real control plane: an
 * External `secretRef` naming a Secret in the mesh namespace whose name is one the operator writes
 * itself (the mesh's own CA Secret, or the operator's CA state) stalls with `SecretNameTaken` and
 * writes nothing over it; deleting the installation leaves it where it was. (When the user's
 * Secret is already in the very layout the mesh reads, it is used in place: Linkerd's issuer, see
 * e2e/meshes/external-issuer.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/ownership.ts';
import { istioDistribution } from '../../operator/distributions/istio/index.ts';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { assertNoKeyMaterial } from '../support/key-material.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';
import { testOperator } from '../support/test-operator.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const client = new KubeClient(kc);
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
// The test mesh is `mesh: istio` to the API server; a second operator would race for it, so the
// real Istio distribution runs in its own operator, under its own selector.
const testMesh = testOperator({ client, distributions: [testDistributionWithCa], installationSelector: `meshwright.dev/test-run=${run}` });
const istio = testOperator({ client, distributions: [istioDistribution], installationSelector: `meshwright.dev/test-run-istio=${run}` });
const knownKeys: string[] = [];
const created: Array<{ name: string; namespace: string }> = [];

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { conditions?: Condition[] } };

/** A cert-manager-style issuer Secret (ca.crt, tls.crt, tls.key), created by the user in `namespace`. */
async function userIssuerSecret(namespace: string, name: string, type: string): Promise<KubeObject> {
  const now = Date.now();
  const root = await createSelfSigned({ subject: 'CN=corp root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 1000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const issuer = await issueCertificate({ subject: 'CN=corp issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 900 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
  knownKeys.push(root.privateKeyPem, issuer.privateKeyPem);
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, { force: true, manager: 'meshwright-e2e' });
  return admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'corp-ca' } }, type, data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject);
}

before(async () => {
  await installMeshInstallationCrd(admin);
  await Promise.all([testMesh.start(), istio.start()]);
});

after(async () => {
  await Promise.all([testMesh.stop(), istio.stop()]);
  for (const { name, namespace } of created) await removeTestMesh(admin, name, namespace);
  await client.close();
  await admin.close();
});

describe('a user\'s Secret is never labelled, owned, changed or deleted', () => {
  const cases = [
    { title: 'the name of the mesh\'s own CA Secret (test mesh: cacerts)', mesh: testMesh, secret: 'cacerts', type: 'Opaque', label: 'meshwright.dev/test-run' },
    { title: 'the name of the operator\'s CA state Secret', mesh: testMesh, secret: CA_STATE_SECRET, type: 'kubernetes.io/tls', label: 'meshwright.dev/test-run' },
    { title: 'Istio\'s cacerts, in cert-manager\'s layout rather than the plug-in one istiod reads', mesh: istio, secret: 'cacerts', type: 'kubernetes.io/tls', label: 'meshwright.dev/test-run-istio', istio: true },
  ];
  for (const [i, c] of cases.entries()) {
    test(`secretRef names a Secret in the mesh namespace with ${c.title}: SecretNameTaken, nothing written over it, and it survives deletion`, async () => {
      const name = `usec-${run}-${i}`;
      const namespace = `test-usec-${run}-${i}`;
      created.push({ name, namespace });
      const user = await userIssuerSecret(namespace, c.secret, c.type);
      const since = new Date();
      const passes = c.mesh.passes(name);
      await admin.create({
        apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { [c.label]: run } },
        spec: { mesh: 'istio', version: c.istio ? '1.31.1' : '1.0.0', namespace, certificateAuthority: { type: 'External', secretRef: { name: c.secret, namespace } } },
      });
      await c.mesh.passAfter(name, passes);
      const mi = await admin.get<Installation>(miType, name);
      const stalled = mi.status?.conditions?.find((s) => s.type === 'Stalled');
      assert.equal(stalled?.status, 'True', JSON.stringify(mi.status?.conditions));
      // The CA state's name is also guarded, before the PKI step, by the check that the operator
      // never takes over an object it did not create (ObjectNotOwned): either refusal keeps the
      // Secret whole; the PKI step's says more.
      const refusals = c.secret === CA_STATE_SECRET ? ['SecretNameTaken', 'ObjectNotOwned'] : ['SecretNameTaken'];
      assert.ok(refusals.includes(stalled!.reason), `refused with ${stalled!.reason}: ${stalled!.message}`);
      if (stalled!.reason === 'SecretNameTaken') {
        assert.match(stalled!.message, new RegExp(`Secret ${namespace}/${c.secret}, named in spec.certificateAuthority.secretRef, is yours`), 'names the Secret');
        assert.match(stalled!.message, /give the Secret .* another name/, 'says what to do');
        assert.equal(mi.status?.conditions?.find((s) => s.type === 'CertificateAuthorityReady')?.reason, 'SecretNameTaken');
      } else {
        assert.match(stalled!.message, new RegExp(`Secret ${namespace}/${c.secret}`), 'names the Secret');
      }

      const after = await admin.get(secretType, c.secret, namespace);
      assert.equal(after.metadata.resourceVersion, user.metadata.resourceVersion, 'the user\'s Secret is unchanged');
      assert.equal(after.metadata.labels?.[INSTALLATION_LABEL], undefined, 'and not labelled as ours');
      const writes = auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace);
      assert.deepEqual(writes.map((e) => `${e.verb} ${e.objectRef?.resource} ${e.objectRef?.name}`), [], 'nothing at all was written in the mesh namespace');

      await admin.delete(miType, name);
      await eventually(`${name} to be deleted`, async () => !(await getIfExists(admin, miType, name)), 30_000, 50);
      const survivor = await getIfExists(admin, secretType, c.secret, namespace);
      assert.equal(survivor?.metadata.uid, user.metadata.uid, 'the user\'s Secret survives the installation\'s deletion');
      assert.equal(survivor?.metadata.resourceVersion, user.metadata.resourceVersion);
    });
  }

  test('no private key reached status, Events or the operator log', async () => {
    await assertNoKeyMaterial({ client: admin, installations: created.map((c) => c.name), log: testMesh.log() + istio.log(), knownKeys });
  });
});
