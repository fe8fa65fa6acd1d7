/**
 * Revisions side by side (issue #16 point 4, the part that is wired): with `strategy: Canary` a
 * version bump renames the control plane (the test mesh names its controller Deployment after the
 * revision, as Istio names `istiod-<rev>`), and the running revision is no longer pruned at once.
 * The test mesh at 1.0.0 (revision 1-0-0) with three injected one-pod Deployments and a bare
 * injected pod is bumped to 1.1.0: the new revision is applied beside the old one, both in the
 * inventory at once; the rollout restarts each workload once onto the new revision; the old
 * revision stays while the bare pod (no controller restarts it) still runs its proxy, and
 * status.revisions says so; once that pod is deleted, the old revision is pruned. The order of the
 * writes is read from the API server's revision counter (one etcd: resourceVersions are one
 * sequence).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { miType, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertProxies, canaryWorld, installation, NEW, NEW_REVISION, OLD_REVISION, patchSpec } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };

before(async () => {
  ({ world, workloads } = await canaryWorld(3));
});

after(async () => {
  await world?.tearDown();
});

type Status = { revisions?: Array<{ name: string; version: string; state: string; inUse: boolean }>; inventory?: Array<{ kind: string; name: string }> };

test('Canary bump: the new revision beside the old, both owned; the old one pruned only once no running pod uses it; each workload restarted once', async (t) => {
  const mesh = world.harness.meshNamespace;
  const exists = async (name: string) => (await world.admin.get(deploymentType, name, mesh).catch(() => undefined)) !== undefined;
  assert.ok(await exists(`controller-${OLD_REVISION}`), 'the running revision\'s controller');
  assert.equal(world.bare.metadata.annotations?.[RECORD_ANNOTATIONS.revision], OLD_REVISION, 'the bare pod runs the old revision\'s proxy');

  // First resourceVersion at which each fact was seen.
  const seen = new Map<string, number>();
  const note = (fact: string, object: KubeObject) => { if (!seen.has(fact)) seen.set(fact, Number(object.metadata.resourceVersion)); };
  let bothRevisionsInStatus = false;
  let bothInInventory = false;
  const installations = new Informer({ client: world.admin, type: miType, fieldSelector: `metadata.name=${world.name}` });
  installations.on((_type, object) => {
    const status = (object as KubeObject & { status?: Status }).status;
    const names = (status?.revisions ?? []).map((r) => `${r.name}:${r.state}:${r.inUse}`).sort();
    if (names.join() === [`${NEW_REVISION}:Active:true`, `${OLD_REVISION}:Retiring:true`].sort().join()) bothRevisionsInStatus = true;
    const inventory = new Set((status?.inventory ?? []).filter((e) => e.kind === 'Deployment').map((e) => e.name));
    if (inventory.has(`controller-${OLD_REVISION}`) && inventory.has(`controller-${NEW_REVISION}`)) bothInInventory = true;
  });
  const controlPlane = new Informer({ client: world.admin, type: deploymentType, namespace: mesh });
  controlPlane.on((type, object) => {
    if (object.metadata.name === `controller-${NEW_REVISION}`) note('new revision applied', object);
    if (type === 'delete' && object.metadata.name === `controller-${OLD_REVISION}`) note('old revision deleted', object);
  });
  const apps = new Informer({ client: world.admin, type: deploymentType, namespace: world.apps });
  apps.on((_type, object) => {
    const restartedFor = (object as KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }).spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '';
    if (restartedFor.startsWith(`${NEW}-`)) note('a workload restarted', object);
  });
  await Promise.all([installations.start(), controlPlane.start(), apps.start()]);

  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  for (const workload of workloads) await assertProxies(world, workload, NEW);
  await eventually('status.revisions lists the old revision as still in use', async () => bothRevisionsInStatus, 60_000, 100);

  // Every workload moved; the bare pod still runs the old revision's proxy: the old revision stays.
  await world.operatorLookedAgain(3, 3_000);
  assert.ok(await exists(`controller-${OLD_REVISION}`), 'the old revision is kept while a running pod uses it');
  assert.ok(await exists(`controller-${NEW_REVISION}`));
  const kept = (await installation(world)).status as Status;
  assert.deepEqual(kept.revisions?.map((r) => [r.name, r.version, r.state, r.inUse]), [[NEW_REVISION, NEW, 'Active', true], [OLD_REVISION, '1.0.0', 'Retiring', true]]);
  assert.ok(bothInInventory, 'both revisions owned (in the inventory) at once');

  // The person deletes the pod no controller restarts (the rollout said so): the old revision goes.
  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, 'bare', world.apps);
  await eventually('the old revision pruned', async () => !(await exists(`controller-${OLD_REVISION}`)), 60_000, 200);
  await eventually('status.revisions cleared', async () => ((await installation(world)).status as Status).revisions === undefined, 30_000, 100);
  await Promise.all([installations.stop(), controlPlane.stop(), apps.stop()]);
  t.diagnostic(`resourceVersions: ${JSON.stringify([...seen])}`);

  assert.ok(seen.get('new revision applied')! < seen.get('a workload restarted')!, 'the new revision was applied before the first restart');
  assert.ok(seen.get('old revision deleted') !== undefined, 'the old revision deleted');
  const writes = world.workloadWrites(bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once`);
  for (const workload of workloads) assert.equal((await world.pods(workload)).every((p) => p.metadata.annotations?.[RECORD_ANNOTATIONS.revision] === NEW_REVISION), true, `${workload.id} on revision ${NEW_REVISION}`);
});
