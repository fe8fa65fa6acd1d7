/**
 * The mesh CA is never replaced without a word, on the real control plane: with the operator
 * stopped, its CA state Secret (which holds the root key) is deleted; the restarted operator must
 * not create a new root while the mesh still publishes the old one. It stalls, saying what was lost
 * and how to restore it, and leaves the mesh on its current issuer; only the explicit opt-in
 * (the annotation naming the root to give up) starts a new CA, and that is said in an Event. A
 * change of CA type on an existing installation is refused by the API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { ACCEPT_NEW_ROOT_ANNOTATION, CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { assertNoKeyMaterial, privateKeysIn } from '../support/key-material.ts';
import { eventually, getIfExists } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';
import { operatorScenario } from '../support/test-operator.ts';

const { run, label, admin, operator, start, close } = operatorScenario([testDistributionWithCa]);
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const name = `cont-${run}`;
const namespace = `test-cont-${run}`;
const knownKeys: string[] = [];

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[]; certificateAuthority?: { rootFingerprint?: string } } };
type Secret = KubeObject & { data: Record<string, string> };
const get = () => admin.get<Installation>(miType, name);
const condition = (mi: Installation, type: string) => mi.status?.conditions?.find((c) => c.type === type);
const decode = (secret: Secret, key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');

async function ready(): Promise<Installation> {
  return eventually(`${name} Ready=True`, async () => {
    const mi = await get();
    return condition(mi, 'Ready')?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 60_000);
}

async function eventReasons(): Promise<string[]> {
  const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  return events.items.filter((e) => e.regarding?.name === name).map((e) => e.reason ?? '');
}

before(start);

after(async () => {
  await operator.stop();
  await removeTestMesh(admin, name, namespace);
  await close();
});

describe('the CA is never replaced without a word', () => {
  let oldRoot = '';
  let fingerprint = '';

  test('CA state lost while the operator was down: stalled with what was lost and how to restore it; cacerts untouched, no new root', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: label }, spec: { mesh: 'istio', version: '1.0.0', namespace } });
    const mi = await ready();
    fingerprint = mi.status!.certificateAuthority!.rootFingerprint!;
    const cacerts = await admin.get<Secret>(secretType, 'cacerts', namespace);
    oldRoot = decode(cacerts, 'root-cert.pem');
    knownKeys.push(...await privateKeysIn(admin, [{ namespace, name: CA_STATE_SECRET }, { namespace, name: 'cacerts' }]));

    await operator.stop();
    await admin.delete(secretType, CA_STATE_SECRET, namespace);
    await eventually('the CA state Secret to be gone', async () => !(await getIfExists(admin, secretType, CA_STATE_SECRET, namespace)), 10_000, 50);
    const since = new Date();
    const passes = operator.passes(name);
    await operator.start();
    await operator.passAfter(name, passes);

    const stalled = await get();
    const stall = condition(stalled, 'Stalled');
    assert.equal(stall?.status, 'True', `Stalled: ${JSON.stringify(stalled.status?.conditions)}`);
    assert.equal(stall?.reason, 'CertificateAuthorityStateLost');
    assert.match(stall!.message, new RegExp(`Secret ${namespace}/${CA_STATE_SECRET}`), 'says what was lost');
    assert.match(stall!.message, new RegExp(`Secret ${namespace}/cacerts`), 'says where the root is still published');
    assert.match(stall!.message, /restore .* from a backup/, 'says how to restore it');
    assert.ok(stall!.message.includes(`${ACCEPT_NEW_ROOT_ANNOTATION}=${fingerprint}`), 'names the opt-in for a new CA, with the root it gives up');
    assert.equal(condition(stalled, 'CertificateAuthorityReady')?.reason, 'CertificateAuthorityStateLost');
    assert.equal(condition(stalled, 'CertificateAuthorityReady')?.status, 'False');
    assert.equal(stalled.status?.certificateAuthority?.rootFingerprint, fingerprint, 'status still names the root the mesh trusts');

    const after = await admin.get<Secret>(secretType, 'cacerts', namespace);
    assert.equal(after.metadata.resourceVersion, cacerts.metadata.resourceVersion, 'cacerts (the issuer the mesh runs on) is untouched');
    assert.equal(await getIfExists(admin, secretType, CA_STATE_SECRET, namespace), undefined, 'no new CA state was created');
    const secretWrites = auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace && e.objectRef?.resource === 'secrets');
    assert.deepEqual(secretWrites.map((e) => `${e.verb} ${e.objectRef?.name}`), [], 'no write to any Secret of the mesh');
    await eventually('a Warning Event with the reason', async () => (await eventReasons()).includes('CertificateAuthorityStateLost'), 10_000, 50);
    assert.ok(operator.log().includes('"reason":"CertificateAuthorityStateLost"'), 'the operator log says so too, with the reason');
  });

  test('the opt-in annotation naming another root is not enough; naming the published root starts a new CA, said in an Event', async () => {
    const passes = operator.passes(name);
    await admin.patch(miType, name, undefined, { metadata: { annotations: { [ACCEPT_NEW_ROOT_ANNOTATION]: 'ab:cd' } } }, 'merge');
    await operator.passAfter(name, passes);
    assert.equal(condition(await get(), 'Stalled')?.reason, 'CertificateAuthorityStateLost', 'an annotation for another root accepts nothing');
    assert.equal(await getIfExists(admin, secretType, CA_STATE_SECRET, namespace), undefined);

    await admin.patch(miType, name, undefined, { metadata: { annotations: { [ACCEPT_NEW_ROOT_ANNOTATION]: fingerprint } } }, 'merge');
    const mi = await ready();
    assert.notEqual(mi.status?.certificateAuthority?.rootFingerprint, fingerprint, 'a new root');
    const state = await admin.get<Secret>(secretType, CA_STATE_SECRET, namespace);
    const cacerts = await admin.get<Secret>(secretType, 'cacerts', namespace);
    assert.notEqual(decode(cacerts, 'root-cert.pem'), oldRoot);
    assert.equal(decode(cacerts, 'root-cert.pem'), decode(state, 'root.crt'), 'the mesh now publishes the new root');
    knownKeys.push(...await privateKeysIn(admin, [{ namespace, name: CA_STATE_SECRET }, { namespace, name: 'cacerts' }]));
    await eventually('a Warning Event saying the root was replaced', async () => (await eventReasons()).includes('RootReplaced'), 10_000, 50);
  });

  test('a change of CA type on an existing installation is refused by the API server, saying why and what to do', async () => {
    const refused = await admin.patch(miType, name, undefined, { spec: { certificateAuthority: { type: 'External', secretRef: { name: 'corp-ca', namespace: 'default' } } } }, 'merge').then(
      () => assert.fail('the type change was accepted'),
      (error: Error & { status?: number }) => error,
    );
    assert.equal(refused.status, 422);
    assert.match(refused.message, /spec\.certificateAuthority\.type: Invalid value: .*cannot change on an existing installation/);
    assert.match(refused.message, /cut .* trust/);
  });

  test('no private key reached status, Events or the operator log', async () => {
    await assertNoKeyMaterial({ client: admin, installations: [name], log: operator.log(), knownKeys });
  });
});
