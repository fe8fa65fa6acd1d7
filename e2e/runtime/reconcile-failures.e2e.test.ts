/**
 * Failures of a pass reach status, on the real control plane: an overlay that makes an object the
 * API server rejects (422), a write the operator's RBAC forbids (403), and a name too long for the
 * labels derived from it. Each is named on a condition with the API server's own message, recorded
 * as an Event, retried with backoff where retrying can help — and what already runs is left as it is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { FINALIZER } from '../../operator/controllers/meshinstallation/index.ts';
import { Operator } from '../../operator/operator.ts';
import type { ReconcileError } from '../../operator/runtime/errors.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { operatorServiceAccountKubeconfig } from '../support/operator-account.ts';
import { testDistribution } from '../support/test-distribution.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const configMapType = { apiVersion: 'v1', kind: 'ConfigMap' };
const clusterRoleType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' };
const names = { overlay: `ov-${run}`, forbidden: `fb-${run}`, long: `a-very-long-installation-name-that-no-label-value-can-hold-${run}-x` };
const namespaceOf = (name: string) => `test-fail-${name.slice(0, 20)}`;

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { spec: Record<string, unknown>; status?: { observedGeneration?: number; conditions?: Condition[]; progress?: string } };

let operator: Operator;
let operatorClient: KubeClient;
let operatorUser = '';
let operatorRole = '';
let cleanupAccount: () => Promise<void> = async () => undefined;
const passes: Array<{ name: string; failure?: ReconcileError }> = [];
const warnings: string[] = [];

const get = (name: string) => admin.get<Installation>(miType, name);
const condition = (mi: Installation, type: string) => mi.status?.conditions?.find((c) => c.type === type);
const failedPasses = (name: string) => passes.filter((p) => p.name === name && p.failure).length;

async function create(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace: namespaceOf(name), ...spec } });
}

async function readyForGeneration(name: string): Promise<Installation> {
  return eventually(`${name} Ready=True for its generation`, async () => {
    const mi = await get(name);
    return condition(mi, 'Ready')?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 60_000);
}

async function conditionFor(name: string, type: string, status: string, reason: string): Promise<Installation> {
  return eventually(`${name} ${type}=${status} ${reason}`, async () => {
    const mi = await get(name);
    const found = condition(mi, type);
    return found?.status === status && found.reason === reason && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 30_000, 100);
}

before(async () => {
  await installMeshInstallationCrd(admin);
  // The operator runs as its own ServiceAccount with the RBAC generated for what it renders, so a
  // permission taken away below is really missing.
  const account = await operatorServiceAccountKubeconfig(admin, kc, run, [testDistribution]);
  cleanupAccount = account.cleanup;
  operatorUser = account.username;
  operatorRole = `meshwright-operator-${run}`;
  const operatorKc = new KubeConfig();
  operatorKc.loadFromFile(account.kubeconfig);
  operatorClient = new KubeClient(operatorKc);
  operator = new Operator({
    client: operatorClient,
    distributions: [testDistribution],
    log: pino({ level: 'silent' }),
    installationSelector: `meshwright.dev/test-run=${run}`,
    hooks: {
      onPassCompleted: (name, failure) => void passes.push({ name, failure }),
      onEvent: (mi, type, reason, note) => void (type === 'Warning' && warnings.push(`${mi.metadata.name} ${reason}: ${note}`)),
    },
  });
  await operator.start();
});

after(async () => {
  await operator.stop();
  for (const name of Object.values(names)) {
    await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    await admin.delete(miType, name).catch(() => undefined);
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespaceOf(name)).catch(() => undefined);
    await admin.delete(clusterRoleType, `test-mesh-${name}`).catch(() => undefined);
    await admin.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, `test-mesh-${name}`).catch(() => undefined);
    await admin.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, `test-mesh-${name}`).catch(() => undefined);
  }
  await cleanupAccount();
  await operatorClient.close();
  await admin.close();
});

describe('failures of a pass reach status', () => {
  test('an overlay that makes an object the API server rejects (replicas: -1): Stalled naming the object with the API server\'s message, an Event, retried with backoff, the running workload untouched; fixing the spec recovers', async () => {
    const name = names.overlay;
    const namespace = namespaceOf(name);
    await create(name);
    await readyForGeneration(name);
    const running = await admin.get<KubeObject & { spec: { replicas: number } }>(deploymentType, 'controller', namespace);
    const since = new Date();

    await admin.patch(miType, name, undefined, { spec: { overlays: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'controller', namespace, patches: [{ op: 'add', path: '/spec/replicas', value: -1 }] }] } }, 'merge');
    const mi = await conditionFor(name, 'Stalled', 'True', 'ObjectInvalid');
    const stalled = condition(mi, 'Stalled')!;
    assert.match(stalled.message, new RegExp(`^the API server rejected Deployment ${namespace}/controller: .*spec\\.replicas.*must be greater than or equal to 0.*spec\\.overlays`));
    assert.equal(condition(mi, 'Ready')?.status, 'False');
    assert.equal(condition(mi, 'Ready')?.reason, 'ObjectInvalid');
    assert.equal(mi.status?.progress, 'Stalled: ObjectInvalid');
    // The Event is recorded right after status is written: waited for, not raced.
    await eventually('the ObjectInvalid Warning event', async () => warnings.some((w) => w.startsWith(`${name} ObjectInvalid: the API server rejected Deployment ${namespace}/controller`)), 10_000, 50);

    // Retried without any change: the API server sees the same rejected apply again, with growing
    // gaps (backoff 200, 400, 800 ms). The echo of the failed pass's own status write starts no
    // pass of its own: it retried ahead of the backoff and reset it (a CI run saw gaps of 149 and
    // 31 ms). A foreign event may still start one early (a pass that began before the overlay's
    // event read it already, and the event's own pass follows: 79, 419, 814, 1616 ms once).
    const failedBefore = failedPasses(name);
    await eventually('three more failed passes (backoff retries)', async () => failedPasses(name) >= failedBefore + 3, 20_000, 50);
    const applies = auditEvents(since, (e) => e.user?.username === operatorUser && e.verb === 'patch' && e.objectRef?.resource === 'deployments' && e.objectRef.namespace === namespace);
    assert.ok(applies.length >= 4 && applies.every((e) => e.responseStatus?.code === 422), `rejected applies: ${applies.map((e) => e.responseStatus?.code).join(',')}`);
    const gaps = applies.slice(1).map((e, i) => Date.parse(e.stageTimestamp) - Date.parse(applies[i]!.stageTimestamp));
    assert.ok(gaps.at(-1)! > gaps[0]!, `backoff grows: gaps ${gaps.join(', ')} ms`);

    const after = await admin.get<KubeObject & { spec: { replicas: number } }>(deploymentType, 'controller', namespace);
    assert.equal(after.metadata.resourceVersion, running.metadata.resourceVersion, 'the running Deployment was not touched');
    const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb) && e.responseStatus?.code !== 422 && e.objectRef?.resource !== 'meshinstallations' && e.objectRef?.resource !== 'events');
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'no later stage was applied and nothing was pruned');

    await admin.patch(miType, name, undefined, { spec: { overlays: null } }, 'merge');
    const recovered = await readyForGeneration(name);
    assert.equal(condition(recovered, 'Stalled')?.status, 'False');
  });

  test('a write the operator may not make (RBAC): Ready=False and Reconciling=True naming the object and the API server\'s message, retried until the permission is back', async () => {
    const name = names.forbidden;
    const namespace = namespaceOf(name);
    await create(name);
    await readyForGeneration(name);
    const role = await admin.get<KubeObject & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>(clusterRoleType, operatorRole);
    // ConfigMaps stay readable (the cache keeps working) but can no longer be written.
    const restricted = role.rules.flatMap((rule) => rule.resources.includes('configmaps') && rule.apiGroups.includes('')
      ? [{ ...rule, resources: rule.resources.filter((r) => r !== 'configmaps') }, { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }]
      : [rule]);
    await admin.patch(clusterRoleType, operatorRole, undefined, { rules: restricted }, 'merge');

    await admin.patch(miType, name, undefined, { spec: { meshConfig: { trustDomain: 'forbidden.example' } } }, 'merge');
    const mi = await conditionFor(name, 'Reconciling', 'True', 'WriteForbidden');
    assert.match(condition(mi, 'Reconciling')!.message, new RegExp(`^the operator may not apply ConfigMap ${namespace}/mesh-config: configmaps "mesh-config" is forbidden: User "${operatorUser}" cannot patch resource "configmaps".*manifests/operator\\.yaml`));
    assert.equal(condition(mi, 'Ready')?.status, 'False');
    assert.equal(condition(mi, 'Ready')?.reason, 'WriteForbidden');
    assert.equal(condition(mi, 'Stalled')?.status, 'False', 'a permission can come back: not stalled');
    assert.equal(mi.status?.progress, 'WriteForbidden');
    await eventually('the WriteForbidden Warning event', async () => warnings.some((w) => w.startsWith(`${name} WriteForbidden: the operator may not apply ConfigMap ${namespace}/mesh-config`)), 10_000, 50);
    const failedBefore = failedPasses(name);
    await eventually('the pass to be retried', async () => failedPasses(name) > failedBefore, 20_000, 50);
    assert.ok(await getIfExists(admin, deploymentType, 'controller', namespace), 'the running control plane stays');

    await admin.patch(clusterRoleType, operatorRole, undefined, { rules: role.rules }, 'merge');
    await readyForGeneration(name);
    const cm = await admin.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace);
    assert.equal(cm.data.trustDomain, 'forbidden.example');
  });

  test('a name too long for the labels derived from it: Stalled with a message saying what to do, and nothing written but status', async () => {
    const name = names.long;
    assert.ok(name.length > 63);
    const since = new Date();
    await create(name);
    const mi = await conditionFor(name, 'Stalled', 'True', 'InstallationNameTooLong');
    assert.match(condition(mi, 'Stalled')!.message, new RegExp(`^the installation name "${name}" has ${name.length} characters, .*label meshwright\\.dev/installation, which allows at most 63; create the installation again under a shorter name$`));
    assert.equal(mi.metadata.finalizers?.includes(FINALIZER) ?? false, false, 'not even the finalizer is written');
    // The other installations of this file may still be retrying (a backoff timer of the RBAC test's
    // pass can fire now): their writes are theirs, this test judges only what names this one.
    const others = [names.overlay, names.forbidden];
    const ofOthers = (e: { objectRef?: { namespace?: string; name?: string } }) => others.some((other) => e.objectRef?.namespace === namespaceOf(other) || (e.objectRef?.name ?? '').includes(other));
    const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb) && !ofOthers(e) && e.objectRef?.resource !== 'events' && !(e.objectRef?.resource === 'meshinstallations' && e.objectRef.subresource === 'status'));
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), []);
    // The pass hook runs once the operator has its status PATCH response, which can come after this
    // test's GET already saw the condition: wait on the hook rather than read it at once.
    const terminal = await eventually('the failed pass reported to the hook', async () => {
      const failed = passes.filter((p) => p.name === name && p.failure);
      return failed.length >= 1 ? failed : undefined;
    }, 10_000, 20);
    assert.ok(terminal.every((p) => p.failure!.terminal), 'terminal: not retried');
    assert.equal(await getIfExists(admin, { apiVersion: 'v1', kind: 'Namespace' }, namespaceOf(name)), undefined);
  });
});
