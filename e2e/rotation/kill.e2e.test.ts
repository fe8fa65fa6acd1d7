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
import { assertNoKeysLeaked, assertRotation, ROTATION_PHASES, RotationPhases, rotationWhen, rotationWorld, TrustSampler, testMeshSource } from './support.ts';

let world: RolloutWorld;

before(async () => {
  ({ world } = await rotationWorld({ rootRotation: { automatic: false, trigger: '1' } }));
});

after(async () => {
  await world?.tearDown();
});

/** SIGKILLs the running operator process and waits for it to be gone. */
async function killOperator(): Promise<void> {
  const { child } = world.operator;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  assert.equal(child.signalCode, 'SIGKILL');
}

test('SIGKILLed as each phase is recorded, the next process resumes from status and the CA state: every phase once, in order, one new root, no trust gap', async (t) => {
  await rotationWhen(world, 'Idle with lastTrigger 1', (r) => r?.phase === 'Idle' && r.lastTrigger === '1');
  const logs = [world.operator.logFile];
  const killedIn: string[] = [];
  let kills: Promise<void> = Promise.resolve();
  const phases = new RotationPhases(world, (phase) => {
    if (phase === 'Idle') return;
    kills = kills.then(async () => {
      await killOperator();
      killedIn.push(phase);
      world.operator = await world.harness.startOperator();
      logs.push(world.operator.logFile);
    });
  });
  await phases.start();
  const sampler = new TrustSampler(testMeshSource(world));
  await sampler.start();
  await world.admin.patch(miType, world.name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: '2' } } } }, 'merge');
  await rotationWhen(world, 'the rotation completed for trigger 2', (r) => r?.phase === 'Idle' && r.lastTrigger === '2' && r.completedAt !== undefined, 240_000);
  await kills;
  const report = await sampler.stop();
  await phases.stop();
  t.diagnostic(`killed in ${killedIn.join(', ')}; ${report.samples.length} samples, max gap ${report.maxGapMs} ms`);

  assert.deepEqual(killedIn, ROTATION_PHASES.filter((p) => p !== 'Idle'), 'a process was killed in every phase');
  assert.deepEqual(phases.phases.slice(phases.phases.indexOf('ExtendingTrustBundle')), [...ROTATION_PHASES], 'every phase recorded once, in order: resumed, never started again');
  // assertRotation checks that the CA state held the old root and exactly one new one.
  assertRotation(report);
  assert.ok((await world.events('RootRotationStarted')).length <= 1, 'the rotation was started once (a killed process may not have sent the Event)');
  await assertNoKeysLeaked(testMeshSource(world), report, logs);
});
