/**
 * The health gate's deadline (issue #15, points 2 and 3): a restarted workload whose new pod is not
 * Ready within spec.upgrade.progressDeadline (10 s, the minimum; kwok makes it Ready only 5
 * minutes after a restart, `meshwright.dev/kwok-ready-delay-ms-once-restarted`) halts the rollout with reason NotReady, named in the condition, and the workload
 * after it is not restarted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RolloutWorld, type TestWorkload } from './world.ts';

const world = new RolloutWorld({ maxUnavailable: 2, batchInterval: '1s', progressDeadline: '10s' });
let slow: TestWorkload;
let next: TestWorkload;

before(async () => {
  await world.setUp();
  // Two pods each (rolled one at a time), so each is a batch of its own under maxUnavailable 2.
  // Its new pods take 5 minutes to be Ready once it is restarted.
  slow = await world.workload('Deployment', 'a-slow', { replicas: 2, readyDelayMs: 300, readyDelayOnceRestartedMs: 300_000 });
  next = await world.workload('Deployment', 'b-next', { replicas: 2, readyDelayMs: 300 });
  await world.settled();
  await world.rolloutWhen('2 workloads current', (r) => r?.workloads.total === 2 && r.workloads.current === 2);
});

after(async () => {
  await world.tearDown();
});

test('a restarted workload not Ready within progressDeadline halts the rollout with reason NotReady; the next workload is not restarted', async (t) => {
  const targetBefore = (await world.installation()).status?.dataPlane?.rollout?.target;
  const rotatedAt = new Date();
  await world.rotateTrustAnchors();
  const restartedAt = await world.rolloutWhen('a-slow restarted', (r) => r !== undefined && r.target !== targetBefore && (r.batch?.workloads.includes(slow.id) ?? false));
  const { rollout, condition } = await world.rolloutWhen('the rollout Halted', (r) => r?.phase === 'Halted', 60_000);
  const haltedAfterMs = Date.now() - Date.parse(restartedAt.rollout.batch!.startedAt);
  t.diagnostic(`halted ${haltedAfterMs} ms after the batch started: ${condition.message}`);
  assert.ok(haltedAfterMs >= 10_000, `not before the deadline (${haltedAfterMs} ms)`);
  assert.deepEqual(rollout.failures?.map((f) => [f.workload, f.reason]), [[slow.id, 'NotReady']]);
  assert.equal(condition.reason, 'RolloutHalted');
  assert.ok(condition.message.includes(slow.id), condition.message);
  assert.match(condition.message, /not Ready/);
  await world.operatorLookedAgain(3, 3_000);
  const writes = world.workloadWrites(rotatedAt);
  assert.deepEqual([...writes.keys()], [slow.id], 'only the slow workload was restarted');
  assert.equal(await world.restartedFor(next), undefined);
});
