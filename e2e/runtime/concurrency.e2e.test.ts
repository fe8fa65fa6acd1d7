/**
 * Several installations reconciled by several workers at once never mix their objects: six
 * installations with a CA each, created together, reconciled by four workers; every object — the
 * CA Secrets included — carries its own installation's label, every inventory lists only its own
 * objects, and deleting half of them removes nothing of the others.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/meshinstallation/index.ts';
import { Operator } from '../../operator/operator.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents } from '../support/audit.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { testDistributionWithCa } from '../support/test-distribution.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const operatorClient = new KubeClient(kc);
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const COUNT = 6;
const WORKERS = 4;
const installations = Array.from({ length: COUNT }, (_, i) => ({ name: `cc-${run}-${i}`, namespace: `test-cc-${run}-${i}` }));
let operator: Operator;
let concurrentPasses = 0;
let maxConcurrentPasses = 0;

type Ref = { apiVersion: string; kind: string; namespace?: string; name: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }>; inventory?: Ref[] } };

async function ready(name: string): Promise<Installation> {
  return eventually(`${name} Ready`, async () => {
    const mi = await admin.get<Installation>(miType, name);
    return mi.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && mi.status.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 90_000, 250);
}

/** What installation `i` owns, as its inventory says; each object must exist and carry its label. */
async function checkOwnObjects(i: number): Promise<Ref[]> {
  const { name, namespace } = installations[i]!;
  const mi = await admin.get<Installation>(miType, name);
  const inventory = mi.status?.inventory ?? [];
  assert.ok(inventory.length > 0, `${name} has an inventory`);
  for (const ref of inventory) {
    assert.ok(ref.namespace === undefined || ref.namespace === namespace, `${name} inventories ${ref.kind} ${ref.namespace}/${ref.name}, outside its namespace`);
    if (ref.namespace === undefined && ref.kind !== 'Namespace') assert.ok(ref.name.includes(name), `${name} inventories cluster-scoped ${ref.kind} ${ref.name}`);
    const live = await getIfExists(admin, ref, ref.name, ref.namespace);
    assert.ok(live, `${ref.kind} ${ref.namespace ?? ''}/${ref.name} of ${name} exists`);
    assert.equal(live.metadata.labels?.[INSTALLATION_LABEL], name, `${ref.kind} ${ref.namespace ?? ''}/${ref.name} carries ${name}'s label`);
  }
  return inventory;
}

before(async () => {
  await installMeshInstallationCrd(operatorClient);
  operator = new Operator({
    client: operatorClient,
    distributions: [testDistributionWithCa],
    log: pino({ level: 'warn' }),
    workers: WORKERS,
    installationSelector: `meshwright.dev/test-run=${run}`,
    // Every key a worker takes from the queue ends in exactly one onReconciled.
    hooks: { onReconciled: () => void concurrentPasses-- },
  });
  const get = operator.controller.queue.get.bind(operator.controller.queue);
  operator.controller.queue.get = async () => {
    const key = await get();
    if (key !== undefined) maxConcurrentPasses = Math.max(maxConcurrentPasses, ++concurrentPasses);
    return key;
  };
  await operator.start();
});

after(async () => {
  await operator.stop();
  for (const { name, namespace } of installations) {
    await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    await admin.delete(miType, name).catch(() => undefined);
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
    for (const kind of ['ClusterRole', 'ClusterRoleBinding']) await admin.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind }, `test-mesh-${name}`).catch(() => undefined);
    await admin.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, `test-mesh-${name}`).catch(() => undefined);
  }
  await operatorClient.close();
  await admin.close();
});

describe(`${COUNT} installations, ${WORKERS} workers`, () => {
  test('created at once, each gets its own objects — CA Secrets included — labelled and inventoried as its own; nothing of one is pruned by another', async () => {
    const since = new Date();
    await Promise.all(installations.map(({ name, namespace }) => admin.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace },
    })));
    await Promise.all(installations.map(({ name }) => ready(name)));
    assert.ok(maxConcurrentPasses >= 2, `passes of different installations ran at once (at most ${maxConcurrentPasses})`);
    for (let i = 0; i < COUNT; i++) {
      const { name, namespace } = installations[i]!;
      const inventory = await checkOwnObjects(i);
      for (const secret of [CA_STATE_SECRET, 'cacerts']) {
        assert.ok(inventory.some((r) => r.kind === 'Secret' && r.name === secret), `${name} inventories its ${secret}`);
        const live = await admin.get(secretType, secret, namespace);
        assert.equal(live.metadata.labels?.[INSTALLATION_LABEL], name, `${namespace}/${secret} belongs to ${name}`);
      }
    }
    const ours = (e: { objectRef?: { name?: string; namespace?: string } }) => `${e.objectRef?.namespace ?? ''}/${e.objectRef?.name ?? ''}`.includes(run);
    const deletes = auditEvents(since, (e) => e.userAgent === userAgent && e.verb === 'delete' && ours(e));
    assert.deepEqual(deletes.map((e) => e.requestURI), [], 'nothing was pruned');
  });

  test('deleting half of them at once leaves every object of the other half in place', async () => {
    const [gone, kept] = [installations.slice(0, COUNT / 2), installations.slice(COUNT / 2)];
    await Promise.all(gone.map(({ name }) => admin.delete(miType, name)));
    await eventually('the deleted installations to be gone', async () => {
      for (const { name } of gone) if (await getIfExists(admin, miType, name)) return false;
      return true;
    }, 90_000, 250);
    for (let i = COUNT / 2; i < COUNT; i++) await checkOwnObjects(i);
    for (const { name } of kept) await ready(name);
  });
});
