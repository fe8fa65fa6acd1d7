/**
 * Refused upgrade paths (#16 point 8) on the real control plane, with the operator as its own
 * process and ServiceAccount and the real Istio distribution: an in-place jump of two minors and a
 * downgrade stall with UnsupportedUpgrade and a message naming the allowed versions, and nothing
 * changes — the API server's audit log shows no write of the operator's but its status and Events,
 * and istiod still runs the old image — while drift of the spec last served is still repaired.
 * Fixing spec.version recovers; with allowDowngrade the downgrade proceeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs, type AuditEvent } from '../support/audit.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { spec: Record<string, unknown>; status?: { observedGeneration?: number; version?: string; conditions?: Condition[] } };

const kc = testKubeConfig();
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
const run = randomBytes(3).toString('hex');
const miType = { apiVersion: API_VERSION, kind: KIND };
const name = `refusal-${run}`;
const namespace = `refusal-${run}`;
const selector = `meshwright.dev/e2e-refusal=${run}`;

let operator: OperatorProcess;
let operatorUser = '';
let cleanupAccount: () => Promise<void> = async () => undefined;

const get = () => admin.get<Installation>(miType, name);
const condition = (mi: Installation, type: string) => mi.status?.conditions?.find((c) => c.type === type);
const istiodImage = async () => {
  const deployment = await admin.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'istiod', namespace);
  return { image: deployment.spec.template.spec.containers[0]!.image, resourceVersion: deployment.metadata.resourceVersion };
};

/** Writes of the operator's user since `since` other than its status, its Events and its leader lease. */
const operatorWrites = (since: Date) => auditEvents(since, (e: AuditEvent) => e.user?.username === operatorUser && writeVerbs.has(e.verb)
  && e.objectRef?.resource !== 'events' && e.objectRef?.resource !== 'leases'
  && !(e.objectRef?.resource === 'meshinstallations' && e.objectRef.subresource === 'status'));

async function readyAt(version: string): Promise<Installation> {
  return eventually(`${name} Ready at ${version}`, async () => {
    const mi = await get();
    return condition(mi, 'Ready')?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation && mi.status?.version === version ? mi : undefined;
  }, 180_000, 250).catch(async (error) => {
    throw new Error(`${(error as Error).message}\nstatus: ${JSON.stringify((await get()).status?.conditions)}\noperator log: ${operator.logFile}\n${readFileSync(operator.logFile, 'utf8').split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-5).join('\n')}`);
  });
}

/** Waits until the spec of this generation stalls with UnsupportedUpgrade, and the status write saying so is in the audit log. */
async function refused(since: Date): Promise<Condition> {
  const stalled = await eventually(`${name} Stalled=True UnsupportedUpgrade`, async () => {
    const mi = await get();
    const found = condition(mi, 'Stalled');
    return found?.status === 'True' && found.reason === 'UnsupportedUpgrade' && mi.status?.observedGeneration === mi.metadata.generation ? found : undefined;
  }, 60_000, 100);
  // The pass wrote status last: once its status write is in the audit log, so is any write it made before.
  await eventually('the status write in the audit log', async () => auditEvents(since, (e) => e.user?.username === operatorUser && e.objectRef?.resource === 'meshinstallations' && e.objectRef.subresource === 'status').length > 0, 15_000, 100);
  return stalled;
}

before(async () => {
  ({ operator, username: operatorUser, cleanup: cleanupAccount } = await startOperatorWithOwnAccount(admin, kc, run, (account) => [
    `--installation-selector=${selector}`, '--leader-elect=true', `--leader-election-namespace=${account.namespace}`, `--identity=e2e-${run}`, '--metrics-address=127.0.0.1:0', '--log-level=info',
  ]));
  await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-refusal': run } }, spec: { mesh: 'istio', version: '1.29.4', namespace } });
  await readyAt('1.29.4');
});

after(async () => {
  await admin.delete(miType, name).catch(() => undefined);
  await eventually(`${name} deleted`, async () => (await admin.get(miType, name).then(() => false, () => true)), 60_000, 250).catch(async () => {
    await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
  });
  await operator?.stop();
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
  await cleanupAccount();
  await admin.close();
});

describe('refused upgrade paths leave the running mesh untouched', () => {
  test('1.29.4 → 1.31.1 in place (two minors): Stalled UnsupportedUpgrade naming 1.30.x and Canary; nothing written', async () => {
    const before = await istiodImage();
    assert.equal(before.image, 'docker.io/istio/pilot:1.29.4');
    const since = new Date();
    await admin.patch(miType, name, undefined, { spec: { version: '1.31.1' } }, 'merge');
    const stalled = await refused(since);
    assert.match(stalled.message, /in place Istio moves at most one minor at a time, but 1\.29 → 1\.31 is 2/);
    assert.match(stalled.message, /from 1\.29\.4 in place you can go to 1\.30\.x \(1\.30\.4, 1\.30\.3, 1\.30\.2\)/);
    assert.match(stalled.message, /for 1\.31 upgrade to 1\.30 \(1\.30\.4\) first or use strategy: Canary/);
    assert.deepEqual(operatorWrites(since).map((e) => `${e.verb} ${e.requestURI}`), [], 'no object was applied or pruned');
    assert.deepEqual(await istiodImage(), before, 'istiod is untouched');
    const mi = await get();
    assert.equal(mi.status?.version, '1.29.4');
    assert.equal(condition(mi, 'ControlPlaneReady')?.status, 'True', 'the served spec\'s control plane is still observed');
  });

  test('`meshwright plan --from-cluster` gives the operator\'s verdict: exit 2 with the message on Stalled', async () => {
    const mi = await get();
    const file = join(mkdtempSync(join(tmpdir(), 'meshwright-plan-')), 'mi.yaml');
    writeFileSync(file, stringify({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: mi.spec }));
    const cli = join(import.meta.dirname, '..', '..', 'bin', 'meshwright.mjs');
    const result = await promisify(execFile)(process.execPath, [cli, 'plan', '-f', file, '--from-cluster'], { env: { ...process.env, KUBECONFIG: process.env.KUBECONFIG } })
      .then(() => ({ code: 0, stdout: '' }), (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }));
    assert.equal(result.code, 2, result.stdout);
    assert.ok(result.stdout.includes(`Refused (UnsupportedUpgrade): ${condition(mi, 'Stalled')!.message}.`), result.stdout);
  });

  test('1.29.4 → 1.29.3 (a downgrade): Stalled UnsupportedUpgrade naming allowDowngrade; nothing written', async () => {
    const before = await istiodImage();
    const since = new Date();
    await admin.patch(miType, name, undefined, { spec: { version: '1.29.3' } }, 'merge');
    const stalled = await refused(since);
    assert.match(stalled.message, /moving from 1\.29\.4 to 1\.29\.3 is a downgrade/);
    assert.match(stalled.message, /you can go to 1\.30\.x \(1\.30\.4, 1\.30\.3, 1\.30\.2\)/);
    assert.match(stalled.message, /set spec\.upgrade\.allowDowngrade: true/);
    assert.deepEqual(operatorWrites(since).map((e) => `${e.verb} ${e.requestURI}`), [], 'no object was applied or pruned');
    assert.deepEqual(await istiodImage(), before, 'istiod is untouched');
  });

  test('while refused, the served spec is still enforced: a deleted istiod Service comes back', async () => {
    const service = { apiVersion: 'v1', kind: 'Service' };
    const old = await admin.get(service, 'istiod', namespace);
    await admin.delete(service, 'istiod', namespace);
    const back = await eventually('the istiod Service back', async () => {
      const live = await admin.get(service, 'istiod', namespace).catch(() => undefined);
      return live && live.metadata.uid !== old.metadata.uid ? live : undefined;
    }, 60_000, 100);
    assert.ok(back);
    const mi = await get();
    assert.equal(condition(mi, 'Stalled')?.reason, 'UnsupportedUpgrade', 'still stalled on the refused version');
    assert.equal((await istiodImage()).image, 'docker.io/istio/pilot:1.29.4');
  });

  test('a version the message names recovers: 1.30.4 runs', async () => {
    const since = new Date();
    await admin.patch(miType, name, undefined, { spec: { version: '1.30.4' } }, 'merge');
    const mi = await readyAt('1.30.4');
    assert.equal(condition(mi, 'Stalled')?.status, 'False');
    assert.equal((await istiodImage()).image, 'docker.io/istio/pilot:1.30.4');
    // The audit filter above sees this operator's writes: an empty list there is not a blind one.
    assert.ok(operatorWrites(since).some((e) => e.objectRef?.resource === 'deployments' && e.objectRef.name === 'istiod'), 'istiod was applied by the operator\'s user');
  });

  test('with allowDowngrade: true the downgrade to 1.29.4 proceeds', async () => {
    await admin.patch(miType, name, undefined, { spec: { version: '1.29.4', upgrade: { allowDowngrade: true } } }, 'merge');
    await readyAt('1.29.4');
    assert.equal((await istiodImage()).image, 'docker.io/istio/pilot:1.29.4');
  });
});
