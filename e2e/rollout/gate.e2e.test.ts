/**
 * The health gate for one-pod workloads rolled with maxSurge 0 (issue #15, point 2): such a
 * Deployment has no pod at all for a moment after its restart (the old pod is gone before the new
 * one is created), then a new pod that is Ready only after its readiness time. The next batch must
 * wait for that pod, not take the moment without pods for a finished rollout. Four one-pod
 * Deployments, maxUnavailable 1, no batchInterval: four batches, never two pods down at once, each
 * batch written after the previous one's pod was back, and Complete only once every new pod is Ready.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchRecorder, RolloutWorld, type TestWorkload } from './world.ts';
import { podAvailable, UnavailabilitySampler } from './unavailability.ts';

// batchInterval 0s: the next batch may start in the very pass that sees the previous one pass the gate.
const world = new RolloutWorld({ maxUnavailable: 1, batchInterval: '0s', progressDeadline: '60s' });
const workloads: TestWorkload[] = [];

before(async () => {
  await world.setUp();
  for (let i = 1; i <= 4; i++) workloads.push(await world.workload('Deployment', `solo-${i}`, { replicas: 1, readyDelayMs: 2000 }));
  await world.settled();
  await world.rolloutWhen('4 workloads current', (r) => r?.workloads.total === 4 && r.workloads.current === 4);
});

after(async () => {
  await world.tearDown();
});

test('one-pod workloads: each batch starts only after the previous batch\'s new pod is Ready, never 2 pods down, Complete only once every new pod is Ready', async (t) => {
  const sampler = new UnavailabilitySampler(world.admin, world.desired());
  const recorder = new BatchRecorder(world);
  await sampler.start();
  await recorder.start();
  const rotatedAt = new Date();
  const targetBefore = (await world.installation()).status?.dataPlane?.rollout?.target;
  await world.rotateTrustAnchors();
  await world.rolloutWhen('the rollout Complete', (r) => r !== undefined && r.target !== targetBefore && r.phase === 'Complete' && r.workloads.current === 4, 120_000);
  // Read right after Complete was seen: every new pod must be Ready by then.
  const notReady: string[] = [];
  for (const workload of workloads) for (const pod of await world.pods(workload)) if (!podAvailable(pod)) notReady.push(pod.metadata.name);
  const report = await sampler.stop();
  await recorder.stop();

  const batches = [...recorder.batches.values()].sort((a, b) => a.number - b.number);
  t.diagnostic(`batches: ${batches.map((b) => `${b.number}: ${b.workloads.join(', ')}`).join('; ')}; most unavailable ${report.maxUnavailable} in ${report.samples.length} samples`);
  assert.deepEqual(notReady, [], 'no pod still on its way when status said Complete');
  assert.ok(report.samples.length >= 0.9 * report.expectedSamples && report.samples.length <= report.expectedSamples + 1, `${report.samples.length} samples over ${Math.round(report.durationMs)} ms (expected about ${report.expectedSamples})`);
  assert.ok(report.maxUnavailable >= 1, 'the restarts made pods unavailable');
  const worst = report.samples.find((s) => s.unavailable === report.maxUnavailable)!;
  assert.ok(report.maxUnavailable <= 1, `at most 1 pod unavailable at any sample; saw ${report.maxUnavailable}: ${JSON.stringify(worst.short)}`);

  const writes = world.workloadWrites(rotatedAt);
  assert.equal(batches.length, 4, 'one workload per batch');
  const keyOf = (id: string) => id.slice(id.indexOf(' ') + 1);
  for (let k = 1; k < batches.length; k++) {
    const previous = new Set(batches[k - 1]!.workloads.map(keyOf));
    const lastShort = Math.max(...report.samples.filter((s) => Object.keys(s.short).some((key) => previous.has(key))).map((s) => s.epochMs));
    const firstWrite = Math.min(...batches[k]!.workloads.map((id) => writes.get(id)![0]!));
    // With no batchInterval the operator may write as soon as its own watch shows the pod Ready; the
    // sampler's watch and its 100 ms ticks may see it a little later, so 150 ms of slack (a gate
    // not waited for shows as seconds: the pod's readiness time).
    assert.ok(firstWrite > lastShort - 150, `batch ${k + 1} written ${firstWrite - lastShort} ms after batch ${k}'s pod was last seen missing or not Ready`);
  }
});
