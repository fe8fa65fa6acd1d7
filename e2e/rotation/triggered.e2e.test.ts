/**
 * A root rotation on demand (issue #17, points 2–6) on the real control plane: the test mesh with
 * a SelfSigned CA and three injected two-pod Deployments. Bumping rootRotation.trigger runs the
 * whole rotation — phases recorded in order, the overlap bundle, restarts through the rollout, the
 * issuer switch, restarts, the old root dropped, restarts, Idle — while a sampler reads every
 * 100 ms each pod's recorded bundle and the live issuer and fails on any instant where a pod's
 * bundle lacks the issuer's root. A trigger bumped during a rotation is queued and runs after it.
 * No private key reaches status, Events or the operator's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { miType, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { capture, judge, operatorSpecFields } from '../gitops/capture.ts';
import { assertNoKeysLeaked, assertRotation, ROTATION_PHASES, RotationPhases, rotationWhen, rotationWorld, TrustSampler, testMeshSource, type RotatingInstallation } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  ({ world, workloads } = await rotationWorld({ rootRotation: { automatic: false, trigger: '1' } }));
});

after(async () => {
  await world?.tearDown();
});

const trigger = (value: string) => world.admin.patch(miType, world.name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: value } } } }, 'merge');

describe('root rotation on demand', () => {
  test('the installation adopts the trigger it was created with: Idle, lastTrigger 1, no rotation', async () => {
    const mi = await rotationWhen(world, 'Idle with lastTrigger 1', (r) => r?.phase === 'Idle' && r.lastTrigger === '1');
    assert.equal(mi.status?.certificateAuthority?.rotation?.startedAt, undefined);
    assert.equal((await world.events('RootRotationStarted')).length, 0);
  });

  test('a bumped trigger rotates the root: phases in order, overlap before the switch, the old root dropped only after every pod restarted after the switch, never a pod without the issuer\'s root (sampled every 100 ms)', async (t) => {
    const before = await rotationWhen(world, 'Idle', (r) => r?.phase === 'Idle');
    const oldFingerprint = before.status?.certificateAuthority?.rootFingerprint;
    const phases = new RotationPhases(world);
    await phases.start();
    const sampler = new TrustSampler(testMeshSource(world));
    await sampler.start();
    await trigger('2');
    // Mid-rotation as GitOps tools read it (judged below, once the sampler is done): the restarts for the overlap bundle, on every condition.
    const rotating = capture('e2e/rotation/triggered.e2e.test.ts', 'rotating', await rotationWhen(world, 'rotating for trigger 2, restarting for the overlap bundle',
      (r, mi) => r?.phase === 'RestartingForTrustBundle' && r.lastTrigger === '2' && mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady')?.reason === 'RotationRestartingForTrustBundle'));
    const done = await rotationWhen(world, 'the rotation completed for trigger 2', (r) => r?.phase === 'Idle' && r.lastTrigger === '2' && r.completedAt !== undefined, 180_000);
    const report = await sampler.stop();
    await phases.stop();
    t.diagnostic(`${report.samples.length} samples, max gap ${report.maxGapMs} ms; phases ${phases.phases.join(' -> ')}`);

    assert.deepEqual(phases.phases.slice(phases.phases.indexOf('ExtendingTrustBundle')), [...ROTATION_PHASES], 'every phase recorded, in order');
    assertRotation(report);
    const rotation = done.status!.certificateAuthority!.rotation!;
    assert.equal(rotation.startedAt, undefined, 'a finished rotation has no startedAt');
    assert.equal(rotation.queuedTrigger, undefined);
    assert.notEqual(done.status?.certificateAuthority?.rootFingerprint, oldFingerprint, 'status shows the new root');
    const ca = done.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady');
    assert.equal(ca?.status, 'True');
    // Every workload restarted through the rollout, twice or three times (once per bundle change), and every pod holds the new root alone.
    const hash = await world.publishedHash();
    for (const workload of workloads) await world.assertPodsRecord(workload, hash);
    for (const reason of ['RootRotationStarted', 'RootRotationRestartingForTrustBundle', 'RootRotationSwitchingIssuer', 'RootRotationRestartingForIssuer', 'RootRotationDroppingOldRoot', 'RootRotationCompleted']) {
      const events = await world.events(reason);
      assert.equal(events.length, 1, `one ${reason} Event`);
      assert.equal(events[0]!.type, 'Normal');
    }
    assert.match((await world.events('RootRotationStarted'))[0]!.note ?? '', /trigger changed to 2/);
    await assertNoKeysLeaked(testMeshSource(world), report, [world.operator.logFile]);

    // GitOps (#18): mid-rotation the installation is in progress to Argo CD and kstatus, and Healthy/Current again after it; the operator owns no field of spec.
    const midway = await judge(rotating);
    t.diagnostic(`mid-rotation: Argo CD ${midway.argo.status} (${midway.argo.message}); kstatus ${midway.kstatus.status} (${midway.kstatus.message})`);
    const authority = rotating.status!.conditions!.find((c) => c.type === 'CertificateAuthorityReady')!;
    assert.deepEqual([midway.argo.status, midway.argo.message], ['Progressing', `${authority.reason}: ${authority.message}`], 'Argo CD names the rotation\'s phase and work');
    assert.match(midway.argo.message ?? '', /^RotationRestartingForTrustBundle: root rotation/);
    assert.equal(midway.kstatus.status, 'InProgress', midway.kstatus.message);
    const readyAgain = await rotationWhen(world, 'Ready=True after the rotation', (r, mi) => r?.phase === 'Idle' && r.lastTrigger === '2' && mi.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True');
    const completed = await judge(readyAgain);
    assert.deepEqual([completed.argo.status, completed.kstatus.status], ['Healthy', 'Current'], `${completed.argo.message}; ${completed.kstatus.message}`);
    assert.deepEqual(operatorSpecFields(readyAgain), [], 'after a rotation, no spec field is managed by the operator');
  });

  test('a trigger bumped during a rotation is queued, shown in status, and runs once the rotation completes', async () => {
    await trigger('3');
    await rotationWhen(world, 'rotating for trigger 3', (r) => r?.phase === 'RestartingForTrustBundle' && r.lastTrigger === '3');
    await trigger('4');
    // The record is written before the step, the condition at the end of the pass: wait for both.
    const queuedCondition = (mi: RotatingInstallation) => /trigger 4 is queued/.test(mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady')?.message ?? '');
    const queued = await rotationWhen(world, 'trigger 4 queued, in status and on CertificateAuthorityReady', (r, mi) => r?.queuedTrigger === '4' && queuedCondition(mi));
    assert.equal(queued.status?.certificateAuthority?.rotation?.lastTrigger, '3', 'the rotation under way is still the one for trigger 3');
    assert.notEqual(queued.status?.certificateAuthority?.rotation?.phase, 'Idle');
    const done = await rotationWhen(world, 'the queued rotation completed', (r) => r?.phase === 'Idle' && r.lastTrigger === '4' && r.completedAt !== undefined, 240_000);
    assert.equal(done.status?.certificateAuthority?.rotation?.queuedTrigger, undefined);
    assert.equal((await world.events('RootRotationStarted')).length, 3, 'three rotations in all: 2, 3 and the queued 4, none restarted by a trigger');
    assert.equal((await world.events('RootRotationCompleted')).length, 3);
  });
});
