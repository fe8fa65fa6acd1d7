/**
 * Private keys never reach status, conditions, Events or the operator's log, in any encoding, on the
 * real control plane: an overlay on an object that holds key material (the mesh's CA Secret) is
 * refused without echoing anything from it; and a failure message that would carry a key anyway
 * (here an overlay's own `test` value: a PEM key, a bare DER key in base64, base64 of a PEM inside a
 * longer string) reaches none of the three with the key in it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { assertNoKeyMaterial, privateKeysIn } from '../support/key-material.ts';
import { eventually } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';
import { operatorScenario } from '../support/test-operator.ts';

const { run, label, admin, operator, start, close } = operatorScenario([testDistributionWithCa]);
const miType = { apiVersion: API_VERSION, kind: KIND };
const name = `keys-${run}`;
const namespace = `test-keys-${run}`;
const knownKeys: string[] = [];

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[] } };

const condition = (mi: Installation, type: string) => mi.status?.conditions?.find((c) => c.type === type);

/** The installation once its generation is judged with `type` = `status`/`reason`. */
async function judged(type: string, status: string, reason: string): Promise<Installation> {
  return eventually(`${name} ${type}=${status} ${reason}`, async () => {
    const mi = await admin.get<Installation>(miType, name);
    const found = condition(mi, type);
    return mi.status?.observedGeneration === mi.metadata.generation && found?.status === status && found.reason === reason ? mi : undefined;
  }, 60_000, 50);
}

/** A fresh P-256 key as PKCS#8 PEM. */
const freshKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

before(start);

after(async () => {
  await operator.stop();
  await removeTestMesh(admin, name, namespace);
  await close();
});

describe('private keys never reach status, Events or the log', () => {
  test('an overlay on the CA Secret (a test op on its issuer key) is refused, naming the object and echoing nothing', async () => {
    await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: label }, spec: { mesh: 'istio', version: '1.0.0', namespace } });
    await judged('Ready', 'True', 'Succeeded');
    knownKeys.push(...await privateKeysIn(admin, [{ namespace, name: CA_STATE_SECRET }, { namespace, name: 'cacerts' }]));
    assert.ok(knownKeys.length >= 2, 'the CA keys were collected');

    await admin.patch(miType, name, undefined, { spec: { overlays: [{ apiVersion: 'v1', kind: 'Secret', name: 'cacerts', namespace, patches: [{ op: 'test', path: '/data/ca-key.pem', value: 'guess' }] }] } }, 'merge');
    const mi = await judged('Stalled', 'True', 'OverlayTargetHoldsKeys');
    const stalled = condition(mi, 'Stalled')!;
    assert.match(stalled.message, new RegExp(`^spec.overlays\\[0\\] targets v1 Secret ${namespace}/cacerts, which holds private key material`));
    assert.doesNotMatch(stalled.message, /guess|ca-key\.pem is/, 'neither the overlay\'s value nor the object\'s');
    await assertNoKeyMaterial({ client: admin, installations: [name], log: operator.log(), knownKeys });
  });

  test('a message carrying keys (an overlay test value: PEM, bare DER base64, base64 of PEM inside a longer string) is redacted in status, Events and the log', async () => {
    const [pem, der, wrapped] = [freshKey(), freshKey(), freshKey()];
    knownKeys.push(pem, der, wrapped);
    const derBase64 = der.replace(/-----[A-Z ]+-----|\s/g, '');
    const value = { pem, der: derBase64, embedded: `token=${Buffer.from(wrapped).toString('base64')};end` };
    await admin.patch(miType, name, undefined, { spec: { overlays: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'mesh-config', namespace, patches: [{ op: 'test', path: '/data/trustDomain', value }] }] } }, 'merge');
    const mi = await judged('Stalled', 'True', 'OverlayInvalid');
    assert.match(condition(mi, 'Stalled')!.message, /test failed: \/data\/trustDomain is "cluster.local", not /, 'the message still says what failed');
    await eventually('the Warning Event of the failure', async () => {
      const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
      return events.items.some((e) => e.regarding?.name === name && e.reason === 'OverlayInvalid');
    }, 10_000, 50);
    await assertNoKeyMaterial({ client: admin, installations: [name], log: operator.log(), knownKeys });
  });

  test('without the overlays the installation is Ready again; no key anywhere', async () => {
    await admin.patch(miType, name, undefined, { spec: { overlays: null } }, 'merge');
    await judged('Ready', 'True', 'Succeeded');
    await assertNoKeyMaterial({ client: admin, installations: [name], log: operator.log(), knownKeys });
  });
});
