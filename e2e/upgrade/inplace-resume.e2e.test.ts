/**
 * An InPlace upgrade survives kill -9 (issue #16, point 6): the operator process is SIGKILLed as
 * soon as a watch shows the ControlPlane phase recorded, and the next one right after the first
 * workload restart of the data-plane stage reaches the API server (the audit log). A third process
 * finishes: the phases in order, no second UpgradeStarted Event (the upgrade is continued, not
 * started again), and every workload's template changed exactly once across the three processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/kube.ts';
import { AuditFollower, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertProxies, killOperator, NEW, patchSpec, PhaseRecorder, upgradeWhen, upgradeWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  ({ world, workloads } = await upgradeWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '60s' }, 4));
});

after(async () => {
  await world?.tearDown();
});

test('SIGKILLed in ControlPlane and again mid-DataPlane, the next processes continue the upgrade from the recorded phase: Succeeded, each workload restarted once', async (t) => {
  const recorder = new PhaseRecorder(world);
  await recorder.start();
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });

  await eventually('phase ControlPlane recorded', async () => recorder.phases.includes('ControlPlane'), 60_000, 5);
  await killOperator(world);
  t.diagnostic(`first kill at phases ${recorder.phases.join(' -> ')}`);
  world.operator = await world.harness.startOperator();

  const audit = new AuditFollower();
  await eventually('the first workload restart of the data-plane stage', async () => audit.next().some((e) => world.isWorkloadWrite(e)), 120_000, 10).finally(() => audit.close());
  await killOperator(world);
  const writesAtKill = world.workloadWrites(bumpedAt);
  t.diagnostic(`second kill at phases ${recorder.phases.join(' -> ')}, ${[...writesAtKill.values()].flat().length} of ${workloads.length} workloads written`);
  assert.ok(writesAtKill.size < workloads.length, 'killed with workloads left to restart');
  world.operator = await world.harness.startOperator();

  const done = await upgradeWhen(world, 'the upgrade Succeeded', (u) => u?.phase === 'Succeeded', 'UpgradeSucceeded', 180_000);
  await recorder.stop();
  assert.deepEqual(recorder.phases, ['ControlPlane', 'DataPlane', 'Succeeded'], 'the phases in order, none started again');
  assert.equal(done.status?.upgrade?.from, '1.0.0');
  // The first process may die before its Event is sent (Events are best effort); a second one would mean a second start.
  assert.ok((await world.events('UpgradeStarted')).length <= 1, 'the upgrade was started once and continued, never started again');
  const writes = world.workloadWrites(bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once across the three processes (${times.length})`);
  for (const workload of workloads) {
    assert.equal((await world.live(workload)).metadata.generation, 2, `${workload.id}: one template change`);
    await assertProxies(world, workload, NEW);
  }
});
