/**
 * The data-plane rollout's happy path on the real control plane: a proxy version change restarts
 * the outdated workloads of an enrolled namespace through the pod-template annotation, in batches
 * bounded by maxUnavailable, and status.dataPlane.rollout reaches Complete for the new target.
 *
 * The operator is the injection harness's process (the test mesh with its CA and small injector,
 * its own ServiceAccount and generated RBAC, the webhook the API server calls), so restarted
 * workloads' new pods go through the webhook and carry the new proxy's record. Three Deployments
 * in the enrolled namespace: `db` (1 pod) and `web` (2 pods) with maxUnavailable 2 pods make two
 * batches (db, then web: 1 + 2 > 2); `legacy` is opted out by annotation. A bare pod is reported,
 * never deleted. Everything is waited for on status, never on time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTART_OPT_OUT_ANNOTATION, RESTART_OPT_OUT_VALUE, RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { InjectionHarness } from '../injection/harness.ts';
import { eventually } from '../support/kube.ts';

const harness = new InjectionHarness({ withCa: true });
const { admin } = harness;
const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const podType = { apiVersion: 'v1', kind: 'Pod' };

type Rollout = {
  target: string; phase: string; progress: string;
  workloads: { total: number; current: number; outdated: number; restarting: number; skipped: number; failed: number };
  batch?: { number: number; workloads: string[]; startedAt: string };
  lastBatchCompletedAt?: string; skipped?: string[]; barePods?: string[]; failures?: unknown[]; message: string;
};
type Installation = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }>; dataPlane?: { outdatedPods: number; injectedPods: number; rollout?: Rollout } } };
type Deployment = KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } };

function deployment(name: string, replicas: number, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: harness.enrolled, annotations },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      // One pod at a time, so a restart really takes pods away as the budget counts them.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
    },
  };
}

/** The installation's rollout once `check` holds, failing with the last status seen. */
async function rolloutWhen(description: string, check: (rollout: Rollout | undefined, mi: Installation) => boolean, timeoutMs = 90_000): Promise<Rollout> {
  return eventually(description, async () => {
    const mi = await admin.get<Installation>(miType, harness.name);
    return check(mi.status?.dataPlane?.rollout, mi) ? mi.status!.dataPlane!.rollout! : false;
  }, timeoutMs, 200).catch(async (error: Error) => {
    const mi = await admin.get<Installation>(miType, harness.name);
    throw new Error(`${error.message}; status.dataPlane: ${JSON.stringify(mi.status?.dataPlane)}; DataPlaneReady: ${JSON.stringify(mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady'))}`);
  });
}

/** Injected pods of the enrolled namespace by app label, with their recorded proxy version. */
async function podVersions(): Promise<Array<{ app: string; name: string; version?: string }>> {
  const pods = await admin.list(podType, { namespace: harness.enrolled });
  return pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({ app: p.metadata.labels?.app ?? '', name: p.metadata.name, version: p.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion] }));
}

async function events(reason: string): Promise<Array<KubeObject & { note?: string }>> {
  const list = await admin.list<KubeObject & { reason?: string; note?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  return list.items.filter((e) => e.regarding?.name === harness.name && e.reason === reason);
}

before(async () => {
  await harness.setUp();
  await harness.startOperator();
  await harness.install({ injection: { restartWorkloads: { maxUnavailable: 2, batchInterval: '1s' } } });
  await harness.warmUp();
  // The warm-up pods are bare: out of the way, so the one bare pod below is the test's.
  for (const pod of (await admin.list(podType, { namespace: harness.enrolled })).items) await admin.delete(podType, pod.metadata.name, harness.enrolled);
});

after(async () => {
  await harness.tearDown();
});

test('a proxy version change restarts the outdated Deployments in batches through the template annotation; the opted-out one and a bare pod are reported', async () => {
  await admin.create(deployment('db', 1));
  await admin.create(deployment('web', 2));
  await admin.create(deployment('legacy', 1, { [RESTART_OPT_OUT_ANNOTATION]: RESTART_OPT_OUT_VALUE }));
  await admin.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: harness.enrolled }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } });

  const before = await rolloutWhen('every pod injected with 1.1.0 and the rollout Complete', (r, mi) => r?.phase === 'Complete' && r.workloads.total === 3 && r.workloads.current === 3 && mi.status?.dataPlane?.injectedPods === 5);
  assert.match(before.target, /^1\.1\.0-[0-9a-f]{12}$/, 'the target is the proxy version and a prefix of the trust bundle hash');
  assert.equal(before.progress, '3/3');
  assert.equal(before.batch, undefined, 'nothing was restarted');

  await admin.patch(miType, harness.name, undefined, { spec: { version: '1.0.0' } });
  const done = await rolloutWhen('the rollout Complete for 1.0.0', (r) => r?.target.startsWith('1.0.0-') === true && r.phase === 'Complete' && r.workloads.current === 2, 120_000);
  assert.equal(done.target, `1.0.0-${before.target.slice('1.1.0-'.length)}`, 'same trust bundle, new version');
  assert.equal(done.progress, '2/3');
  assert.deepEqual(done.workloads, { total: 3, current: 2, outdated: 0, restarting: 0, skipped: 1, failed: 0 });
  assert.deepEqual(done.skipped, [`Deployment ${harness.enrolled}/legacy`]);
  assert.deepEqual(done.barePods, [`${harness.enrolled}/bare`]);
  assert.equal(done.batch?.number, 2, 'db, then web: 1 + 2 pods exceed maxUnavailable 2');
  assert.deepEqual(done.batch?.workloads, [`Deployment ${harness.enrolled}/web`]);
  assert.ok(done.lastBatchCompletedAt, 'the last batch passed the gate');

  // The restarts are kubectl's: template annotations, one restartedAt per batch, the target named.
  const [db, web, legacy] = await Promise.all(['db', 'web', 'legacy'].map((n) => admin.get<Deployment>(deploymentType, n, harness.enrolled)));
  for (const restarted of [db!, web!]) assert.equal(restarted.spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION], done.target, restarted.metadata.name);
  const dbAt = Date.parse(db!.spec.template.metadata!.annotations![RESTARTED_AT_ANNOTATION]!);
  const webAt = Date.parse(web!.spec.template.metadata!.annotations![RESTARTED_AT_ANNOTATION]!);
  assert.ok(dbAt < webAt, 'web was restarted in a later batch than db');
  assert.equal(new Date(webAt).toISOString(), done.batch?.startedAt);
  assert.equal(legacy!.spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION], undefined, 'the opted-out Deployment is never restarted');

  const pods = await eventually('old pods gone', async () => {
    const all = await podVersions();
    return all.filter((p) => p.app === 'db' || p.app === 'web').length === 3 ? all : undefined;
  });
  for (const pod of pods.filter((p) => p.app === 'db' || p.app === 'web')) assert.equal(pod.version, '1.0.0', pod.name);
  assert.equal(pods.find((p) => p.app === 'legacy')?.version, '1.1.0', 'the opted-out Deployment keeps its proxy');
  assert.equal(pods.find((p) => p.name === 'bare')?.version, '1.1.0', 'the bare pod is still there: reported, never deleted');

  const mi = await admin.get<Installation>(miType, harness.name);
  assert.equal(mi.status?.dataPlane?.outdatedPods, 2, 'legacy and the bare pod');
  const condition = mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady');
  assert.equal(condition?.reason, 'ProxiesOutdated');
  assert.equal((await events('RolloutBatchStarted')).length, 2);
  await eventually('a RolloutComplete Event', async () => (await events('RolloutComplete')).length > 0);
});
