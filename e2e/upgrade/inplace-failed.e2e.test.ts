/**
 * A bad release without rollback (issue #16, point 5): as inplace-rollback.e2e.test.ts, with
 * spec.upgrade.rollbackOnFailure false. The crash-looping first batch fails the data-plane gate:
 * phase Failed, the condition and a Warning Event name the gate, and nothing more is changed —
 * no further workload is restarted, the new control plane stays, however long the operator looks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { capture, judge } from '../gitops/capture.ts';
import { eventually } from '../support/kube.ts';
import type { RolloutWorld, TestWorkload } from '../rollout/world.ts';
import { controlPlaneImage, installation, NEW, OLD, patchSpec, PhaseRecorder, upgradeWhen, upgrading, upgradeWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  ({ world, workloads } = await upgradeWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '30s', spec: { upgrade: { rollbackOnFailure: false } }, operatorEnv: { MESHWRIGHT_E2E_CRASHING_PROXY: NEW } }, 3));
});

after(async () => {
  await world?.tearDown();
});

test('rollbackOnFailure false: a failed DataPlane gate ends Failed and nothing more is changed', async (t) => {
  const recorder = new PhaseRecorder(world);
  await recorder.start();
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const done = await upgradeWhen(world, 'the upgrade Failed', (u) => u?.phase === 'Failed', 'UpgradeFailed', 180_000);
  t.diagnostic(`phases: ${recorder.phases.join(' -> ')}; ${done.status?.upgrade?.message}`);

  assert.deepEqual(recorder.phases, ['ControlPlane', 'DataPlane', 'Failed'], 'the phases in order');
  const condition = upgrading(done);
  assert.deepEqual([condition.status, condition.reason], ['False', 'UpgradeFailed']);
  assert.match(condition.message, /gate DataPlane failed: .*crash/i, 'the condition names the gate and why');
  assert.match(condition.message, /rollbackOnFailure is false/);
  const failed = await world.events('UpgradeFailed');
  assert.equal(failed.length, 1, 'one UpgradeFailed Event');
  assert.equal(failed[0]!.type, 'Warning');
  assert.equal((await world.events('UpgradeRollingBack')).length, 0, 'no rollback');

  const writesAtFailure = world.workloadWrites(bumpedAt);
  assert.ok(writesAtFailure.size >= 1 && writesAtFailure.size < workloads.length, `the failing batch left workloads unrestarted (${writesAtFailure.size} of ${workloads.length})`);
  await world.operatorLookedAgain(4, 6_000);
  await recorder.stop();
  assert.deepEqual(world.workloadWrites(bumpedAt), writesAtFailure, 'no workload restarted after the failure');
  assert.equal(await controlPlaneImage(world), `registry.example/test-mesh/controller:${NEW}`, 'the new control plane stays');
  const later = await installation(world);
  assert.equal(later.status?.upgrade?.phase, 'Failed');
  assert.deepEqual(recorder.phases.at(-1), 'Failed', 'no phase after Failed');
  assert.equal(later.status?.upgrade?.from, OLD);

  // GitOps (#18): while spec names the version whose upgrade failed, Stalled (UpgradeFailed): Argo CD Degraded with the message, kstatus Failed.
  const stalled = await eventually('Stalled=True UpgradeFailed, Ready=False', async () => {
    const mi = await installation(world);
    const condition = (type: string) => mi.status?.conditions?.find((c) => c.type === type);
    return condition('Stalled')?.status === 'True' && condition('Stalled')?.reason === 'UpgradeFailed' && condition('Ready')?.status === 'False' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, 30_000, 100);
  const stall = stalled.status!.conditions!.find((c) => c.type === 'Stalled')!;
  assert.match(stall.message, /^upgrade 1\.0\.0 -> 1\.1\.0 Failed: gate DataPlane failed/);
  const verdict = await judge(capture('e2e/upgrade/inplace-failed.e2e.test.ts', 'upgrade-failed', stalled));
  assert.deepEqual([verdict.argo.status, verdict.argo.message], ['Degraded', `${stall.reason}: ${stall.message}`]);
  assert.equal(verdict.kstatus.status, 'Failed', verdict.kstatus.message);
});
