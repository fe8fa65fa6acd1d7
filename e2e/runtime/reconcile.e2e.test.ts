/**
 * The reconcile loop on the real control plane, with the small test distribution: install, a
 * no-op pass that writes nothing (counted by the API server's audit log), drift repaired from
 * watch events, fields others own left alone, unowned objects untouched, pruning, pause, a spec
 * the operator cannot serve, and deletion through the finalizer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { FINALIZER, INSTALLATION_LABEL } from '../../operator/controllers/meshinstallation/index.ts';
import { Operator } from '../../operator/operator.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { ensureToolchain } from '../cluster/local-cluster.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { testDistribution } from '../support/test-distribution.ts';

const execFileAsync = promisify(execFile);
const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const name = `rt-${run}`;
const namespace = `test-mesh-${run}`;
const operatorClient = new KubeClient(kc);
const foreign = new KubeClient(kc, 'meshwright-e2e-foreign-writer');
let operator: Operator;
const drift: string[] = [];
const driftEvents: string[] = [];
let reconciles = 0;
let wholePasses = 0;

const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const configMapType = { apiVersion: 'v1', kind: 'ConfigMap' };
const clusterRoleType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' };
const webhookType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' };

type Installation = KubeObject & { spec: Record<string, unknown>; status?: { observedGeneration?: number; version?: string; progress?: string; conditions?: Array<{ type: string; status: string; reason: string; message: string }>; inventory?: unknown[]; components?: unknown[] } };

async function installation(): Promise<Installation> {
  return foreign.get<Installation>(miType, name);
}

function condition(mi: Installation, type: string) {
  return mi.status?.conditions?.find((c) => c.type === type);
}

function exists(type: { apiVersion: string; kind: string }, objectName: string, ns?: string): Promise<KubeObject | undefined> {
  return getIfExists(foreign, type, objectName, ns);
}

async function readyForGeneration(): Promise<Installation> {
  return eventually('Ready=True for the current generation', async () => {
    const mi = await installation();
    const ready = condition(mi, 'Ready');
    return ready?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 60_000);
}

async function patchSpec(spec: Record<string, unknown>): Promise<void> {
  await foreign.patch(miType, name, undefined, { spec }, 'merge');
}

/** Enqueues the installation and waits until a pass ran to its end (the operator's reconcile counter moved). */
async function passRuns(): Promise<void> {
  const before = reconciles;
  operator.controller.enqueue(name);
  await eventually('a reconcile pass to run', async () => reconciles > before, 10_000, 20);
}

/**
 * Waits until the operator's own cache shows a change (so every pass started from now on sees it),
 * then for a pass that started after that: whatever the operator would do about the change, that
 * pass has done. Two passes are awaited because the first to end may have started earlier.
 */
async function passAfterCacheShows(change: string, cacheShows: () => boolean): Promise<void> {
  await eventually(`the operator's cache to show ${change}`, async () => cacheShows(), 10_000, 20);
  await passRuns();
  await passRuns();
}

/** Writes the operator sent since `since`, from the API server's audit log. */
function operatorWrites(since: Date) {
  return auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && (e.objectRef?.namespace === namespace || (e.objectRef?.name ?? '').includes(run)));
}

before(async () => {
  await installMeshInstallationCrd(operatorClient);
  operator = new Operator({
    client: operatorClient,
    distributions: [testDistribution],
    log: pino({ level: 'warn' }),
    installationSelector: `meshwright.dev/test-run=${run}`,
    hooks: {
      onDriftCorrected: (kind) => drift.push(kind),
      onReconciled: () => reconciles++,
      onPassCompleted: () => void wholePasses++,
      onEvent: (_mi, type, reason, note) => void (reason === 'DriftCorrected' && driftEvents.push(`${type} ${note}`)),
    },
  });
  await operator.start();
});

after(async () => {
  await operator.stop();
  // Leave nothing behind even when a test failed half-way.
  await foreign.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
  await foreign.delete(miType, name).catch(() => undefined);
  await foreign.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
  for (const suffix of ['', '-demo', '-user']) await foreign.delete(clusterRoleType, `test-mesh-${name}${suffix}`).catch(() => undefined);
  await foreign.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, `test-mesh-${name}`).catch(() => undefined);
  await foreign.delete(webhookType, `test-mesh-${name}`).catch(() => undefined);
  await operatorClient.close();
  await foreign.close();
});

describe('MeshInstallation reconcile loop', () => {
  test('install: every rendered object is applied, labelled and inventoried; components become available; Ready=True', async () => {
    await foreign.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace } });
    const mi = await readyForGeneration();
    assert.ok(mi.metadata.finalizers?.includes(FINALIZER), 'the finalizer is set');
    assert.equal(mi.status?.inventory?.length, 8);
    assert.deepEqual(mi.status?.components, [{ name: 'controller', kind: 'Deployment', namespace, ready: true, replicas: 1, available: 1 }]);
    for (const type of ['ControlPlaneReady', 'CertificateAuthorityReady', 'DataPlaneReady']) assert.equal(condition(mi, type)?.status, 'True', type);
    assert.equal(condition(mi, 'Reconciling')?.status, 'False');
    assert.equal(condition(mi, 'Stalled')?.status, 'False');
    const deployment = await foreign.get(deploymentType, 'controller', namespace);
    assert.equal(deployment.metadata.labels?.[INSTALLATION_LABEL], name);
    assert.equal(deployment.metadata.labels?.['app.kubernetes.io/managed-by'], 'meshwright');
    const webhook = await foreign.get(webhookType, `test-mesh-${name}`);
    assert.equal(webhook.metadata.labels?.[INSTALLATION_LABEL], name, 'cluster-scoped objects carry the label too');
    assert.deepEqual(mi.spec, { mesh: 'istio', version: '1.0.0', namespace, profile: 'default', meshConfig: mi.spec.meshConfig, certificateAuthority: mi.spec.certificateAuthority, injection: mi.spec.injection, upgrade: mi.spec.upgrade, paused: false }, 'spec holds only what was written plus schema defaults');
  });

  test('a pass that changes nothing sends no write request (API server audit log)', async () => {
    await readyForGeneration();
    // Passes the install's own watch events still trigger count too: none of them may write either.
    const since = new Date();
    const before = reconciles;
    for (let i = 0; i < 5; i++) await passRuns();
    assert.ok(reconciles >= before + 5, 'the passes ran');
    // The audit log is written before each response (blocking mode): every request of those passes is in it.
    assert.deepEqual(operatorWrites(since).map((e) => `${e.verb} ${e.requestURI}`), []);
  });

  test('a change no pass reads (another tool\'s annotation on the installation) is answered without a pass: no request at all; a label change runs one', async () => {
    await readyForGeneration();
    const annotated = (value: string) => () => operator.installations.get(name)?.metadata.annotations?.['example.com/note'] === value;
    // A first change lets the passes the install left behind end; then the measured one.
    await foreign.patch(miType, name, undefined, { metadata: { annotations: { 'example.com/note': 'warm-up' } } }, 'merge');
    await eventually('the cache to show the first note', async () => annotated('warm-up')(), 10_000, 20);
    await passRuns();
    // A timed pass the install left (a requeue) may land in a window: that window is
    // inconclusive, not a success, so the measurement is taken again, up to five times. Without
    // the feature every window has a whole pass, and the test fails.
    const windows: string[] = [];
    let passesBefore = wholePasses;
    for (let attempt = 0; attempt < 5; attempt++) {
      const since = new Date();
      passesBefore = wholePasses;
      const reconcilesBefore = reconciles;
      await foreign.patch(miType, name, undefined, { metadata: { annotations: { 'example.com/note': `measured-${attempt}` } } }, 'merge');
      await eventually('the cache to show the note', async () => annotated(`measured-${attempt}`)(), 10_000, 20);
      await eventually('the pass the event asked for to end', async () => reconciles > reconcilesBefore, 10_000, 20);
      const requests = auditEvents(since, (e) => e.userAgent === userAgent && e.verb !== 'watch' && e.requestURI.includes(run)).map((e) => `${e.verb} ${e.requestURI}`);
      windows.push(`${wholePasses - passesBefore} whole pass(es), ${requests.length} request(s)${requests.length > 0 ? `: ${requests.join(', ')}` : ''}`);
      if (wholePasses === passesBefore && requests.length === 0) break;
    }
    assert.equal(windows.at(-1), '0 whole pass(es), 0 request(s)', `no whole pass and not a request about this installation, reads included, in a window: ${windows.join('; ')}`);

    // A label is read (it may select the installation): a whole pass, which writes nothing.
    await foreign.patch(miType, name, undefined, { metadata: { labels: { 'example.com/team': 'a' } } }, 'merge');
    await eventually('a whole pass for the label', async () => wholePasses > passesBefore, 10_000, 20);
  });

  test('drift: a foreign edit of an owned object is undone from the watch event', async () => {
    const since = new Date();
    await foreign.patch(deploymentType, 'controller', namespace, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'evil.example/controller:6.6.6' }], 'json');
    await foreign.patch(configMapType, 'mesh-config', namespace, { data: { trustDomain: 'evil.example', injected: 'yes' } }, 'merge');
    await foreign.patch(clusterRoleType, `test-mesh-${name}`, undefined, { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }, 'merge');
    await eventually('the Deployment image to be restored', async () => {
      const d = await foreign.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(deploymentType, 'controller', namespace);
      return d.spec.template.spec.containers[0]!.image === 'registry.example/test-mesh/controller:1.0.0';
    }, 10_000, 50);
    await eventually('the ConfigMap value to be restored', async () => ((await foreign.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace)).data.trustDomain === 'cluster.local'), 10_000, 50);
    await eventually('the ClusterRole rules to be restored', async () => {
      const role = await foreign.get<KubeObject & { rules: Array<{ verbs: string[] }> }>(clusterRoleType, `test-mesh-${name}`);
      return role.rules.length === 1 && role.rules[0]!.verbs.join() === 'get,list,watch';
    }, 10_000, 50);
    // Our ConfigMap's data is ours whole (issue 20, operator/runtime/drift-rule.ts): a key someone adds goes too.
    await eventually('the added ConfigMap key to be removed', async () => (await foreign.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace)).data.injected === undefined, 10_000, 50);
    assert.ok(['Deployment', 'ConfigMap', 'ClusterRole'].every((k) => drift.includes(k)), `drift counted by kind: ${drift.join(',')}`);
    assert.ok(operatorWrites(since).every((e) => e.verb === 'patch'), 'repairs are server-side applies');
    assert.ok(driftEvents.includes(`Normal Deployment ${namespace}/controller was changed by another writer and has been restored`), driftEvents.join('\n'));
  });

  test('drift: a deleted owned object comes back', async () => {
    const old = await foreign.get(configMapType, 'mesh-config', namespace);
    const oldRole = await foreign.get(clusterRoleType, `test-mesh-${name}`);
    await foreign.delete(configMapType, 'mesh-config', namespace);
    await foreign.delete(clusterRoleType, `test-mesh-${name}`);
    await eventually('the ConfigMap to be recreated', async () => ((await exists(configMapType, 'mesh-config', namespace))?.metadata.uid ?? old.metadata.uid) !== old.metadata.uid, 10_000, 50);
    await eventually('the ClusterRole to be recreated', async () => ((await exists(clusterRoleType, `test-mesh-${name}`))?.metadata.uid ?? oldRole.metadata.uid) !== oldRole.metadata.uid, 10_000, 50);
    assert.ok(driftEvents.includes(`Normal ConfigMap ${namespace}/mesh-config was deleted by another writer and has been recreated`), driftEvents.join('\n'));
    assert.ok(driftEvents.includes(`Normal ClusterRole test-mesh-${name} was deleted by another writer and has been recreated`), driftEvents.join('\n'));
  });

  test('fields another writer legitimately owns (replicas we do not declare) are not fought over', async () => {
    await foreign.patch(deploymentType, 'controller', namespace, { spec: { replicas: 3 } }, 'merge');
    const since = new Date();
    await passAfterCacheShows('the scale', () => (operator.owned.get('apps/v1/Deployment')!.get('controller', namespace)?.spec as { replicas?: number } | undefined)?.replicas === 3);
    const d = await foreign.get<KubeObject & { spec: { replicas: number } }>(deploymentType, 'controller', namespace);
    assert.equal(d.spec.replicas, 3);
    assert.deepEqual(operatorWrites(since).filter((e) => e.objectRef?.resource === 'deployments').map((e) => e.verb), []);
    await foreign.patch(deploymentType, 'controller', namespace, { spec: { replicas: 1 } }, 'merge');
  });

  test('a caBundle another writer injects into our webhook configuration is not fought over', async () => {
    const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nnot-really\n-----END CERTIFICATE-----\n').toString('base64');
    await foreign.patch(webhookType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: caBundle }], 'json');
    const since = new Date();
    await passAfterCacheShows('the injected caBundle', () => {
      const cached = operator.owned.get('admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration')!.get(`test-mesh-${name}`) as { webhooks?: Array<{ clientConfig: { caBundle?: string } }> } | undefined;
      return cached?.webhooks?.[0]?.clientConfig.caBundle === caBundle;
    });
    const webhook = await foreign.get<KubeObject & { webhooks: Array<{ clientConfig: { caBundle?: string } }> }>(webhookType, `test-mesh-${name}`);
    assert.equal(webhook.webhooks[0]!.clientConfig.caBundle, caBundle);
    assert.deepEqual(operatorWrites(since).filter((e) => e.objectRef?.resource === 'validatingwebhookconfigurations').map((e) => e.verb), []);
  });

  test('an object without our label is left alone, however similar its name', async () => {
    await foreign.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'user-config', namespace }, data: { mine: 'yes' } });
    await foreign.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `test-mesh-${name}-user` }, rules: [] });
    await patchSpec({ profile: 'demo' });
    await readyForGeneration();
    await patchSpec({ profile: 'default' });
    await readyForGeneration();
    assert.ok(await exists(configMapType, 'user-config', namespace), 'the user ConfigMap survives pruning');
    assert.ok(await exists(clusterRoleType, `test-mesh-${name}-user`), 'the unlabelled ClusterRole survives pruning');
  });

  test('objects dropped from the desired set are pruned, cluster-scoped ones included', async () => {
    await patchSpec({ profile: 'demo' });
    let mi = await readyForGeneration();
    assert.ok(await exists(configMapType, 'demo-extras', namespace));
    assert.ok(await exists(clusterRoleType, `test-mesh-${name}-demo`));
    assert.equal(mi.status?.inventory?.length, 10);
    await patchSpec({ profile: 'default' });
    mi = await readyForGeneration();
    await eventually('the demo objects to be pruned', async () => !(await exists(configMapType, 'demo-extras', namespace)) && !(await exists(clusterRoleType, `test-mesh-${name}-demo`)), 10_000);
    assert.equal(mi.status?.inventory?.length, 8);
  });

  test('spec.paused stops every write to owned objects; unpausing repairs', async () => {
    await patchSpec({ paused: true });
    await eventually('Reconciling=False reason Paused', async () => condition(await installation(), 'Reconciling')?.reason === 'Paused', 10_000);
    const since = new Date();
    await foreign.patch(configMapType, 'mesh-config', namespace, { data: { trustDomain: 'paused.example' } }, 'merge');
    await foreign.delete(clusterRoleType, `test-mesh-${name}`);
    await passAfterCacheShows('the edit and the deletion', () =>
      (operator.owned.get('v1/ConfigMap')!.get('mesh-config', namespace) as { data?: Record<string, string> } | undefined)?.data?.trustDomain === 'paused.example'
      && operator.owned.get('rbac.authorization.k8s.io/v1/ClusterRole')!.get(`test-mesh-${name}`) === undefined);
    assert.equal((await foreign.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace)).data.trustDomain, 'paused.example');
    assert.equal(await exists(clusterRoleType, `test-mesh-${name}`), undefined);
    assert.deepEqual(operatorWrites(since).map((e) => e.objectRef?.resource), [], 'no write while paused');
    await patchSpec({ paused: false });
    await eventually('the repairs after unpausing', async () =>
      (await foreign.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace)).data.trustDomain === 'cluster.local' && !!(await exists(clusterRoleType, `test-mesh-${name}`)), 10_000);
  });

  test('a version not in the catalog stalls with an actionable message and leaves the running mesh alone', async () => {
    const since = new Date();
    await patchSpec({ version: '1.9.0' });
    const mi = await eventually('Stalled=True', async () => {
      const current = await installation();
      return condition(current, 'Stalled')?.status === 'True' ? current : undefined;
    }, 10_000);
    assert.equal(condition(mi, 'Stalled')?.reason, 'VersionNotInCatalog');
    assert.match(condition(mi, 'Stalled')!.message, /version 1\.9\.0 is not in the catalog.*supported versions: 1\.1\.0, 1\.0\.0/);
    assert.equal(condition(mi, 'Ready')?.status, 'False');
    assert.equal(mi.status?.observedGeneration, mi.metadata.generation, 'the stalled generation was observed');
    const writes = operatorWrites(since).filter((e) => e.objectRef?.resource !== 'meshinstallations');
    assert.deepEqual(writes.map((e) => e.requestURI), [], 'nothing owned was touched');
    const d = await foreign.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(deploymentType, 'controller', namespace);
    assert.equal(d.spec.template.spec.containers[0]!.image, 'registry.example/test-mesh/controller:1.0.0');
    await patchSpec({ version: '1.1.0' });
    await readyForGeneration();
    const upgraded = await foreign.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(deploymentType, 'controller', namespace);
    assert.equal(upgraded.spec.template.spec.containers[0]!.image, 'registry.example/test-mesh/controller:1.1.0');
  });

  test('status.version is what runs: paused with a new version it still shows the old one; the operator writes the Progress column', async () => {
    let mi = await readyForGeneration();
    assert.equal(mi.status?.version, '1.1.0');
    assert.equal(mi.status?.progress, 'Idle');
    const row = async () => {
      const { stdout } = await execFileAsync(join(ensureToolchain(), 'kubectl'), ['get', `meshinstallation/${name}`, '--no-headers', '-o', 'custom-columns=VERSION:.status.version,PROGRESS:.status.progress'], { env: { ...process.env } });
      return stdout.trim().split(/\s+/);
    };
    assert.deepEqual(await row(), ['1.1.0', 'Idle'], 'kubectl get shows what the operator wrote');
    await patchSpec({ paused: true, version: '1.0.0' });
    mi = await eventually('a paused pass over the new generation', async () => {
      const current = await installation();
      return current.status?.observedGeneration === current.metadata.generation && condition(current, 'Reconciling')?.reason === 'Paused' ? current : undefined;
    }, 10_000);
    assert.equal(mi.status?.version, '1.1.0', 'spec.version says 1.0.0, but 1.1.0 is what runs');
    assert.equal(mi.status?.progress, 'Paused');
    const d = await foreign.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(deploymentType, 'controller', namespace);
    assert.equal(d.spec.template.spec.containers[0]!.image, 'registry.example/test-mesh/controller:1.1.0');
    await patchSpec({ paused: false });
    mi = await readyForGeneration();
    assert.equal(mi.status?.version, '1.0.0', 'once rolled out, the new version runs');
    assert.deepEqual(await row(), ['1.0.0', 'Idle']);
  });

  test('deleting the MeshInstallation removes everything it owned, webhooks first, and nothing else', async () => {
    const since = new Date();
    await foreign.delete(miType, name);
    await eventually('the MeshInstallation to be gone', async () => !(await exists(miType, name)), 60_000, 250);
    for (const [type, objectName, ns] of [
      [webhookType, `test-mesh-${name}`, undefined], [clusterRoleType, `test-mesh-${name}`, undefined],
      [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, `test-mesh-${name}`, undefined],
      [deploymentType, 'controller', namespace], [configMapType, 'mesh-config', namespace],
    ] as const) {
      assert.equal(await exists(type, objectName, ns), undefined, `${type.kind} ${objectName} is gone`);
    }
    const deletes = operatorWrites(since).filter((e) => e.verb === 'delete');
    assert.equal(deletes[0]?.objectRef?.resource, 'validatingwebhookconfigurations', `webhooks first: ${deletes.map((e) => e.objectRef?.resource).join(',')}`);
    assert.ok(await exists(clusterRoleType, `test-mesh-${name}-user`), 'an unowned object is never touched');
  });
});
