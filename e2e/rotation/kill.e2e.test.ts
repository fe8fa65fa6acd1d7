/**
 * A root rotation survives kill -9 in every phase (issue #17, point 5): the operator process is
 * SIGKILLed as soon as a watch shows each phase recorded, and a new process started each time.
 * The rotation still completes with every phase recorded once and in order, the CA state held
 * exactly one new root across all the processes (never a second), the invariant held at every
 * 100 ms sample, and no private key reached status, Events or any of the processes' logs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { miType, type RolloutWorld } from '../rollout/world.ts';
import { assertKilledInEveryPhase, assertNoKeysLeaked, assertRotation, killInEveryPhase, rotationWhen, rotationWorld, sigkill, TrustSampler, testMeshSource } from './support.ts';

let world: RolloutWorld;

before(async () => {
  ({ world } = await rotationWorld({ rootRotation: { automatic: false, trigger: '1' } }));
});

after(async () => {
  await world?.tearDown();
});

test('SIGKILLed as each phase is recorded, the next process resumes from status and the CA state: every phase once, in order, one new root, no trust gap', async (t) => {
  await rotationWhen(world, 'Idle with lastTrigger 1', (r) => r?.phase === 'Idle' && r.lastTrigger === '1');
  const first = world.operator.logFile;
  const killed = killInEveryPhase(world, {
    kill: () => sigkill(world.operator.child),
    restart: async () => (world.operator = await world.harness.startOperator()).logFile,
  });
  const { phases } = killed;
  await phases.start();
  const sampler = new TrustSampler(testMeshSource(world));
  await sampler.start();
  await world.admin.patch(miType, world.name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: '2' } } } }, 'merge');
  await rotationWhen(world, 'the rotation completed for trigger 2', (r) => r?.phase === 'Idle' && r.lastTrigger === '2' && r.completedAt !== undefined, 240_000);
  await killed.settled();
  const report = await sampler.stop();
  await phases.stop();
  t.diagnostic(`killed in ${killed.killedIn.join(', ')}; ${report.samples.length} samples, max gap ${report.maxGapMs} ms`);

  assertKilledInEveryPhase(killed);
  // assertRotation checks that the CA state held the old root and exactly one new one.
  assertRotation(report);
  assert.ok((await world.events('RootRotationStarted')).length <= 1, 'the rotation was started once (a killed process may not have sent the Event)');
  await assertNoKeysLeaked(testMeshSource(world), report, [first, ...killed.logs]);
});
