/**
 * An InPlace upgrade (issue #16, points 3, 7, 8) on the real control plane with the operator as
 * its own process: the test mesh at 1.0.0 with four injected one-pod Deployments, spec.version
 * bumped to 1.1.0. The phases are recorded in order (ControlPlane → DataPlane → Succeeded), the
 * control plane is upgraded before any workload is restarted, every workload is restarted exactly
 * once onto the new proxy (the API server's audit log), and the Upgrading condition, status.upgrade
 * and Events say so. Midway the upgrade is paused with spec.paused: no workload is restarted while
 * paused, the phase stays, and once resumed it finishes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { auditEvents } from '../support/audit.ts';
import { capture, judge, operatorSpecFields } from '../gitops/capture.ts';
import { eventually } from '../support/kube.ts';
import { AuditFollower, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertProxies, controlPlaneImage, installation, NEW, OLD, patchSpec, PhaseRecorder, upgradeWhen, upgrading, upgradeWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  // One workload per batch, 2 s apart: time to pause between batches.
  ({ world, workloads } = await upgradeWorld({ maxUnavailable: 1, batchInterval: '2s', progressDeadline: '60s' }, 4));
});

after(async () => {
  await world?.tearDown();
});

test('InPlace 1.0.0 -> 1.1.0: control plane first, then each workload restarted once onto the new proxy; paused midway and resumed; Succeeded', async (t) => {
  assert.equal(await controlPlaneImage(world), `registry.example/test-mesh/controller:${OLD}`);
  const recorder = new PhaseRecorder(world);
  await recorder.start();
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });

  // Pause once the first restart reached the API server (the audit log), with batches left.
  const audit = new AuditFollower();
  let firstWriteAt = 0;
  await eventually('the first workload restarted for the upgrade', async () => {
    const write = audit.next().find((e) => world.isWorkloadWrite(e));
    if (write) firstWriteAt = Date.parse(write.stageTimestamp);
    return write !== undefined;
  }, 120_000, 20).finally(() => audit.close());
  // Mid-upgrade as GitOps tools read it (#18; judged at the end): restarting the data plane, on every condition.
  const midway = capture('e2e/upgrade/inplace.e2e.test.ts', 'upgrading', await eventually('the DataPlane phase on status.upgrade and the Upgrading condition alike', async () => {
    const mi = await installation(world);
    const condition = mi.status?.conditions?.find((c) => c.type === 'Upgrading');
    return mi.status?.upgrade?.phase === 'DataPlane' && condition?.reason === 'UpgradeInProgress' && condition.message === mi.status.upgrade.message ? mi : undefined;
  }, 30_000, 50));
  await patchSpec(world, { paused: true });
  const paused = await eventually('Upgrading says paused', async () => {
    const mi = await installation(world);
    return mi.status?.conditions?.some((c) => c.type === 'Upgrading' && c.reason === 'UpgradePaused') ? mi : undefined;
  }, 60_000, 100);
  assert.equal(paused.status?.upgrade?.phase, 'DataPlane', 'paused in the data-plane stage');
  assert.match(upgrading(paused).message, /paused in phase DataPlane/);
  // While paused, however long the operator keeps looking, no further batch is started.
  const writesWhenPaused = world.workloadWrites(bumpedAt);
  await world.operatorLookedAgain(4, 6_000);
  assert.deepEqual(world.workloadWrites(bumpedAt), writesWhenPaused, 'no workload restarted while paused');
  assert.ok([...writesWhenPaused.values()].flat().length < workloads.length, `paused with workloads left to restart (${JSON.stringify([...writesWhenPaused])})`);
  assert.equal((await installation(world)).status?.upgrade?.phase, 'DataPlane', 'still in DataPlane while paused');

  await patchSpec(world, { paused: false });
  const done = await upgradeWhen(world, 'the upgrade Succeeded', (u) => u?.phase === 'Succeeded', 'UpgradeSucceeded', 180_000);
  await recorder.stop();

  t.diagnostic(`phases: ${recorder.phases.join(' -> ')}; ${done.status?.upgrade?.message}`);
  assert.deepEqual(recorder.phases, ['ControlPlane', 'DataPlane', 'Succeeded'], 'the phases in order');
  const upgrade = done.status!.upgrade!;
  assert.deepEqual([upgrade.from, upgrade.to, upgrade.strategy], [OLD, NEW, 'InPlace']);
  assert.deepEqual([upgrade.updatedWorkloads, upgrade.totalWorkloads], [workloads.length, workloads.length]);
  assert.ok(upgrade.finishedAt && Date.parse(upgrade.finishedAt) >= Date.parse(upgrade.startedAt));
  const condition = upgrading(done);
  assert.deepEqual([condition.status, condition.reason], ['False', 'UpgradeSucceeded']);
  assert.equal(await controlPlaneImage(world), `registry.example/test-mesh/controller:${NEW}`);

  // Each workload's template written once, for the new proxy's target; every pod on the new proxy.
  const writes = world.workloadWrites(bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once (${times.length})`);
  // The control plane's Deployment was applied (new image) before the first restart.
  const controlPlaneWrites = auditEvents(bumpedAt, (e) => e.user?.username === world.harness.username && e.objectRef?.resource === 'deployments'
    && e.objectRef.namespace === world.harness.meshNamespace && !e.objectRef.subresource && ['patch', 'update', 'create'].includes(e.verb) && (e.responseStatus?.code ?? 0) < 300);
  assert.ok(controlPlaneWrites.length >= 1, 'the control plane was applied');
  assert.ok(Date.parse(controlPlaneWrites[0]!.stageTimestamp) < firstWriteAt, 'the control plane was applied before the first workload restart');
  for (const workload of workloads) {
    assert.match((await world.live(workload)).spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '', new RegExp(`^${NEW.replaceAll('.', '\\.')}-`), `${workload.id} restarted for ${NEW}`);
    await assertProxies(world, workload, NEW);
  }
  await eventually('status.version is the new one', async () => (await installation(world)).status?.version === NEW, 30_000, 200);

  // GitOps (#18): in progress to Argo CD and kstatus while upgrading, and the operator owns no field of spec after it.
  const verdict = await judge(midway);
  assert.match(midway.status!.upgrade!.message!, /restarting workloads onto the new proxy/);
  assert.deepEqual([verdict.argo.status, verdict.argo.message], ['Progressing', `Upgrade ${OLD} -> ${NEW} DataPlane: ${midway.status!.upgrade!.message}`], 'Argo CD names the upgrade, its phase and what it waits for');
  assert.equal(verdict.kstatus.status, 'InProgress', verdict.kstatus.message);
  assert.deepEqual(operatorSpecFields(await installation(world)), [], 'after an upgrade, no spec field is managed by the operator');

  // Events at each phase.
  for (const reason of ['UpgradeStarted', 'UpgradeControlPlaneReady', 'UpgradeSucceeded']) {
    const events = await world.events(reason);
    assert.equal(events.length, 1, `one ${reason} Event`);
    assert.equal(events[0]!.type, 'Normal', reason);
  }
});
