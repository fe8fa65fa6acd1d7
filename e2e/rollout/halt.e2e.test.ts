/**
 * A batch that fails the health gate halts the rollout (issue #15, points 3 and 7): one of four
 * Deployments (two pods, rolled one at a time) crash-loops once restarted (kwok's pod-crash-loop stage, by the workload's
 * `meshwright.dev/kwok-crash-loop-once-restarted` template annotation), restarts go one workload
 * per batch; when its batch comes, the rollout stops with a condition and a Warning Event that
 * name it and say why, and no further batch starts however long the operator keeps looking.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchRecorder, RolloutWorld, type TestWorkload } from './world.ts';

const world = new RolloutWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '10s' });
let crasher: TestWorkload;
const healthy: TestWorkload[] = [];

before(async () => {
  await world.setUp();
  // Named to come first in namespace/name order, so batches remain after its one (checked below, not assumed).
  // Two pods rolled one at a time: its old second pod stays while the new one crash-loops.
  crasher = await world.workload('Deployment', 'a-crasher', { replicas: 2, readyDelayMs: 300, crashOnceRestarted: true });
  for (const name of ['b-web', 'c-web', 'd-web']) healthy.push(await world.workload('Deployment', name, { replicas: 1, readyDelayMs: 300 }));
  await world.settled();
  await world.rolloutWhen('4 workloads current', (r) => r?.workloads.total === 4 && r.workloads.current === 4);
});

after(async () => {
  await world.tearDown();
});

test('a crash-looping batch halts the rollout: phase Halted, a CrashLoop failure and a RolloutHalted condition and Warning Event naming the workload; no further batch starts', async (t) => {
  const before = await world.installation();
  const targetBefore = before.status?.dataPlane?.rollout?.target;
  const recorder = new BatchRecorder(world);
  await recorder.start();
  const rotatedAt = new Date();
  await world.rotateTrustAnchors();
  const { rollout, condition } = await world.rolloutWhen('the rollout Halted', (r) => r !== undefined && r.target !== targetBefore && r.phase === 'Halted', 90_000);
  const haltedAt = Date.now();

  const halting = rollout.batch!;
  t.diagnostic(`halted at batch ${halting.number} (${halting.workloads.join(', ')}): ${condition.message}`);
  assert.ok(halting.workloads.includes(crasher.id), `the halting batch holds ${crasher.id}: ${JSON.stringify(halting)}`);
  assert.deepEqual(rollout.failures?.map((f) => [f.workload, f.reason]), [[crasher.id, 'CrashLoop']]);
  assert.ok(rollout.failures![0]!.message.length > 0, 'the failure says what was seen');
  assert.equal(rollout.workloads.failed, 1);
  // The check below means something only if the halt left work undone.
  assert.ok(rollout.workloads.outdated >= 1, `workloads remain outdated after the halt (${JSON.stringify(rollout.workloads)}); the crasher's batch came last, so "no further batch" would be vacuous`);

  assert.equal(condition.status, 'False');
  assert.equal(condition.reason, 'RolloutHalted');
  assert.ok(condition.message.includes(crasher.id), `the condition names ${crasher.id}: ${condition.message}`);
  assert.match(condition.message, /crash/i, 'and says it crash-loops');
  const halted = await world.events('RolloutHalted');
  assert.equal(halted.length, 1, 'one RolloutHalted Event');
  assert.equal(halted[0]!.type, 'Warning');
  assert.ok(halted[0]!.note?.includes(crasher.id), `the Event names ${crasher.id}: ${halted[0]!.note}`);

  // Several batch intervals and operator passes later: nothing more was restarted.
  const writesAtHalt = world.workloadWrites(rotatedAt);
  await world.operatorLookedAgain(4, 5_000);
  const writes = world.workloadWrites(rotatedAt);
  await recorder.stop();
  assert.deepEqual(writes, writesAtHalt, 'no workload written after the halt');
  const lastWrite = Math.max(...[...writes.values()].flat());
  assert.ok(lastWrite <= haltedAt, 'the last write came before the halt was reported');
  assert.equal(writes.get(crasher.id)?.length, 1, 'the crasher restarted once');
  assert.deepEqual([...recorder.batches.keys()].sort(), Array.from({ length: halting.number }, (_, i) => i + 1), 'no batch after the halting one');
  const after = await world.rolloutWhen('still Halted', (r) => r?.phase === 'Halted');
  assert.equal(after.rollout.batch?.number, halting.number);
  assert.equal(after.rollout.workloads.outdated, rollout.workloads.outdated, 'the outdated workloads are still outdated');
  for (const workload of healthy) {
    const restarted = writes.has(workload.id);
    assert.equal(await world.restartedFor(workload) !== undefined, restarted, `${workload.id}: template restarted iff written`);
  }
});
