/**
 * A bad release rolled back automatically (issue #16, points 5 and 8): the test mesh at 1.0.0 with
 * three injected one-pod Deployments, upgraded to a 1.1.0 whose proxy crash-loops (its image
 * names `crash-loop`: kwok's pod-crash-loop stage, see e2e/cluster/stages/pod.yaml). The first
 * restarted workload fails the data-plane gate, so the upgrade rolls back: phases ControlPlane →
 * DataPlane → RollingBack → RolledBack, the old control plane is applied again, the restarted
 * workload is restarted back onto the old proxy and nothing else is restarted, the Upgrading
 * condition and a Warning Event name the failed gate and why, and spec.version still says 1.1.0.
 * Then (the RolledBack semantics): while spec names the version that does not run, the installation
 * is Stalled (reason UpgradeRolledBack), which the real kstatus and Argo CD health engines read as
 * Failed and Degraded; setting the old version back makes it Current and Healthy again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/kube.ts';
import { capture, judge } from '../gitops/capture.ts';
import type { RolloutWorld, TestWorkload } from '../rollout/world.ts';
import { assertProxies, controlPlaneImage, installation, NEW, OLD, patchSpec, PhaseRecorder, upgradeWhen, upgrading, upgradeWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  ({ world, workloads } = await upgradeWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '30s', operatorEnv: { MESHWRIGHT_E2E_CRASHING_PROXY: NEW } }, 3));
});

after(async () => {
  await world?.tearDown();
});

test('a crash-looping new proxy fails the DataPlane gate: RolledBack, the condition and a Warning Event name the gate, workloads end on the old proxy, spec unchanged', async (t) => {
  const recorder = new PhaseRecorder(world);
  await recorder.start();
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const done = await upgradeWhen(world, 'the upgrade RolledBack', (u) => u?.phase === 'RolledBack', 'UpgradeRolledBack', 180_000);
  await recorder.stop();
  t.diagnostic(`phases: ${recorder.phases.join(' -> ')}; ${done.status?.upgrade?.message}`);

  assert.deepEqual(recorder.phases, ['ControlPlane', 'DataPlane', 'RollingBack', 'RolledBack'], 'the phases in order');
  assert.equal(done.spec.version, NEW, 'spec is never written: it still names the new version');
  const upgrade = done.status!.upgrade!;
  assert.deepEqual([upgrade.from, upgrade.to, upgrade.phase], [OLD, NEW, 'RolledBack']);
  assert.match(upgrade.message!, /gate DataPlane failed/, 'status.upgrade names the failed gate');
  const condition = upgrading(done);
  assert.deepEqual([condition.status, condition.reason], ['False', 'UpgradeRolledBack']);
  assert.match(condition.message, /gate DataPlane failed: .*crash/i, 'the condition names the gate and why');
  assert.match(condition.message, /spec\.version still says 1\.1\.0/);
  const rolledBack = await world.events('UpgradeRolledBack');
  assert.equal(rolledBack.length, 1, 'one UpgradeRolledBack Event');
  assert.equal(rolledBack[0]!.type, 'Warning');
  assert.match(rolledBack[0]!.note ?? '', /gate DataPlane failed/);
  assert.equal((await world.events('UpgradeRollingBack')).length, 1, 'one UpgradeRollingBack Event');

  // The old control plane runs again, and every workload ends on the old proxy, Ready.
  assert.equal(await controlPlaneImage(world), `registry.example/test-mesh/controller:${OLD}`);
  for (const workload of workloads) await assertProxies(world, workload, OLD);
  await eventually('status.version is the old one', async () => (await installation(world)).status?.version === OLD, 30_000, 200);
  // Only what the upgrade restarted was restarted back: once for the new proxy, once for the old.
  const writes = world.workloadWrites(bumpedAt);
  t.diagnostic(`restarts: ${JSON.stringify([...writes].map(([id, times]) => [id, times.length]))}`);
  assert.ok(writes.size >= 1, 'the upgrade restarted a workload');
  for (const [id, times] of writes) assert.equal(times.length, 2, `${id} restarted onto the new proxy, then back (${times.length})`);
  assert.ok(writes.size < workloads.length, 'the halt stopped the rollout before every workload was restarted');

  // RolledBack is final: however long the operator keeps looking, nothing more is written.
  await world.operatorLookedAgain(3, 4_000);
  assert.deepEqual(world.workloadWrites(bumpedAt), writes, 'no workload restarted after the rollback');
  const later = await installation(world);
  assert.equal(later.status?.upgrade?.phase, 'RolledBack');
  assert.equal(later.spec.version, NEW);
});

test('RolledBack is not healthy-and-current while spec still names the new version: Stalled=True, Ready=False (UpgradeRolledBack), kstatus Failed, Argo CD Degraded; setting the old version back clears it', async () => {
  const stalled = await eventually('Stalled=True UpgradeRolledBack for the current generation', async () => {
    const mi = await installation(world);
    const condition = (type: string) => mi.status?.conditions?.find((c) => c.type === type);
    return condition('Stalled')?.status === 'True' && condition('Stalled')?.reason === 'UpgradeRolledBack' && condition('Ready')?.status === 'False' ? mi : undefined;
  }, 30_000, 100);
  assert.match(stalled.status!.conditions!.find((c) => c.type === 'Stalled')!.message, /upgrade 1\.0\.0 -> 1\.1\.0 RolledBack: gate DataPlane failed/);
  assert.equal(stalled.status?.version, OLD, 'what runs is the old version');
  const stallVerdict = await judge(capture('e2e/upgrade/inplace-rollback.e2e.test.ts', 'upgrade-rolled-back', stalled));
  const stall = stalled.status!.conditions!.find((c) => c.type === 'Stalled')!;
  assert.equal(stallVerdict.kstatus.status, 'Failed', `kstatus: ${stallVerdict.kstatus.message}`);
  assert.deepEqual([stallVerdict.argo.status, stallVerdict.argo.message], ['Degraded', `${stall.reason}: ${stall.message}`]);
  assert.match(stallVerdict.argo.message ?? '', /^UpgradeRolledBack: upgrade 1\.0\.0 -> 1\.1\.0 RolledBack: gate DataPlane failed/);

  // The person's answer: spec back on the version that runs. Nothing is restarted, and it reads healthy again.
  const since = new Date();
  await patchSpec(world, { version: OLD });
  const current = await eventually('Ready=True for the new generation', async () => {
    const mi = await installation(world);
    const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 60_000, 100);
  assert.equal(current.status?.conditions?.find((c) => c.type === 'Stalled')?.status, 'False');
  assert.equal(current.status?.upgrade?.phase, 'RolledBack', 'status.upgrade still records the rolled-back upgrade, to a version spec no longer names');
  const revertedVerdict = await judge(capture('e2e/upgrade/inplace-rollback.e2e.test.ts', 'upgrade-rolled-back-superseded', current));
  assert.equal(revertedVerdict.kstatus.status, 'Current', revertedVerdict.kstatus.message);
  assert.deepEqual([revertedVerdict.argo.status, revertedVerdict.argo.message], ['Healthy', current.status?.conditions?.find((c) => c.type === 'Ready')?.message]);
  assert.equal(world.workloadWrites(since).size, 0, 'no workload restarted by setting the old version back');
});
