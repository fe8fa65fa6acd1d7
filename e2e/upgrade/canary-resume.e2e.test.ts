/**
 * Revisions side by side survive kill -9 (issue #16 point 6, for the part of Canary that is wired):
 * with `strategy: Canary` the test mesh at 1.0.0 with four injected one-pod Deployments and a bare
 * injected pod is bumped to 1.1.0. The operator is SIGKILLed as soon as a watch shows the new
 * revision's controller applied (before that pass could write status: the old revision is then
 * known only from status.served), and again right after the first workload restart reaches the API
 * server (the audit log). A third process finishes: the old revision was never deleted while the
 * bare pod ran its proxy, every workload's template changed exactly once across the three
 * processes, every pod runs the new revision; deleting the bare pod lets the old revision go.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { eventually } from '../support/kube.ts';
import { AuditFollower, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertProxies, canaryWorld, killOperator, NEW, NEW_REVISION, OLD_REVISION, patchSpec } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };

before(async () => {
  ({ world, workloads } = await canaryWorld(4));
});

after(async () => {
  await world?.tearDown();
});

test('SIGKILLed once the new revision is applied and again after the first restart: the old revision is never deleted while in use, each workload restarted once, all on the new revision', async (t) => {
  const mesh = world.harness.meshNamespace;
  const events: string[] = [];
  const controlPlane = new Informer({ client: world.admin, type: deploymentType, namespace: mesh });
  controlPlane.on((type, object) => {
    if (object.metadata.name === `controller-${NEW_REVISION}` && !events.includes('new applied')) events.push('new applied');
    if (type === 'delete' && object.metadata.name === `controller-${OLD_REVISION}`) events.push('old deleted');
  });
  await controlPlane.start();

  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  await eventually('the new revision applied', async () => events.includes('new applied'), 60_000, 5);
  await killOperator(world);
  t.diagnostic('first kill: the new revision just applied');
  world.operator = await world.harness.startOperator();

  const audit = new AuditFollower();
  await eventually('the first workload restart', async () => audit.next().some((e) => world.isWorkloadWrite(e)), 120_000, 10).finally(() => audit.close());
  await killOperator(world);
  const writesAtKill = world.workloadWrites(bumpedAt);
  t.diagnostic(`second kill: ${[...writesAtKill.values()].flat().length} of ${workloads.length} workloads written`);
  assert.ok(writesAtKill.size < workloads.length, 'killed with workloads left to restart');
  world.operator = await world.harness.startOperator();

  for (const workload of workloads) await assertProxies(world, workload, NEW);
  // The bare pod still runs the old revision's proxy: however long the operator looks, the old revision stays.
  await world.operatorLookedAgain(3, 3_000);
  assert.ok(!events.includes('old deleted'), `the old revision was never deleted while the bare pod ran (${events.join(', ')})`);
  assert.ok(await world.admin.get(deploymentType, `controller-${OLD_REVISION}`, mesh).catch(() => undefined), 'the old revision is there');

  const writes = world.workloadWrites(bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once across the three processes (${times.length})`);
  for (const workload of workloads) {
    assert.equal((await world.live(workload)).metadata.generation, 2, `${workload.id}: one template change`);
    assert.ok((await world.pods(workload)).every((p) => p.metadata.annotations?.[RECORD_ANNOTATIONS.revision] === NEW_REVISION), `${workload.id} on revision ${NEW_REVISION}`);
  }

  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, 'bare', world.apps);
  await eventually('the old revision pruned once nothing uses it', async () => events.includes('old deleted'), 60_000, 100);
  await controlPlane.stop();
});
