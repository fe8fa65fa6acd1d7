/**
 * A data-plane rollout after a trust-bundle change, on the real control plane (issue #15, point 7):
 * the operator process of e2e/rollout/world.ts with workloads of every kind it restarts (five
 * Deployments, a StatefulSet, a DaemonSet), one opted out, and a bare pod, all injected through the
 * webhook. First with restarts disabled (only reported), then enabled: the outdated workloads are
 * restarted in batches whose unavailability, sampled every 100 ms, never exceeds maxUnavailable;
 * a batch starts only after the previous one was healthy; each workload is written once; the
 * opted-out workload and the bare pod are reported and left alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { auditEvents } from '../support/audit.ts';
import { BatchRecorder, miType, RolloutWorld, type TestWorkload } from './world.ts';
import { unavailabilityBound, UnavailabilitySampler } from './unavailability.ts';

/**
 * Pods a batch may take down: a count, so the bound does not depend on what a percentage is of.
 * With two-pod Deployments, batches hold two of them (the engine counts a workload's pods).
 */
const MAX_UNAVAILABLE = 4;
const world = new RolloutWorld({ enabled: false, maxUnavailable: MAX_UNAVAILABLE, batchInterval: '1s', progressDeadline: '60s' });
const restartable: TestWorkload[] = [];
let legacy: TestWorkload;
let targetBefore = '';
let rotatedAt: Date;

before(async () => {
  await world.setUp();
  for (let i = 1; i <= 5; i++) restartable.push(await world.workload('Deployment', `web-${i}`, { replicas: 2, readyDelayMs: 1200 }));
  restartable.push(await world.workload('StatefulSet', 'db', { replicas: 2, readyDelayMs: 1200 }));
  restartable.push(await world.workload('DaemonSet', 'agent', { readyDelayMs: 1200 }));
  legacy = await world.workload('Deployment', 'legacy', { replicas: 2, readyDelayMs: 1200, optOut: true });
  await world.settled();
});

after(async () => {
  await world.tearDown();
});

describe('data-plane rollout after a trust-bundle change', () => {
  test('every injected workload is counted current before the change, the bare pod is not reported', async () => {
    const { rollout, condition } = await world.rolloutWhen('8 workloads, all current', (r, c) => r?.workloads.total === 8 && r.workloads.current === 8 && c?.reason === 'ProxiesCurrent');
    targetBefore = rollout.target;
    assert.equal(rollout.progress, '8/8');
    assert.deepEqual(rollout.barePods ?? [], []);
    assert.equal(condition.status, 'True');
  });

  test('with restarts disabled, the change is only reported: phase Disabled, RestartsDisabled, 7 outdated and 1 skipped, no workload written', async () => {
    rotatedAt = new Date();
    await world.rotateTrustAnchors();
    const { rollout, condition } = await world.rolloutWhen('a new target, reported as Disabled', (r, c) => r !== undefined && r.target !== targetBefore && r.phase === 'Disabled' && r.workloads.outdated === 7 && c?.reason === 'RestartsDisabled');
    assert.equal(condition.status, 'False');
    assert.deepEqual(rollout.workloads, { total: 8, current: 0, outdated: 7, restarting: 0, skipped: 1, failed: 0 });
    assert.deepEqual(rollout.skipped, [legacy.id]);
    assert.deepEqual(rollout.barePods, [`${world.apps}/bare`]);
    assert.equal(rollout.batch, undefined, 'no batch started');
    // Judged after the operator has looked again a few times, not right after the status appeared.
    await world.operatorLookedAgain(3, 2_000);
    assert.deepEqual([...world.workloadWrites(rotatedAt).keys()], [], 'no workload written by the operator');
    for (const workload of restartable) assert.equal(await world.restartedFor(workload), undefined, `${workload.id} not restarted`);
  });

  test(`enabled: restarted in batches, never more than ${MAX_UNAVAILABLE} pods unavailable (sampled every 100 ms), each batch after the previous one was healthy, each workload written once`, async (t) => {
    const totalPods = world.workloads.reduce((sum, w) => sum + w.replicas, 0);
    const bound = unavailabilityBound(MAX_UNAVAILABLE, totalPods);
    const sampler = new UnavailabilitySampler(world.admin, world.desired());
    const recorder = new BatchRecorder(world);
    await sampler.start();
    await recorder.start();
    const enabledAt = new Date();
    await world.admin.patch(miType, world.name, undefined, { spec: { injection: { restartWorkloads: { enabled: true } } } }, 'merge');
    const { rollout, condition } = await world.rolloutWhen('the rollout Complete with 7 current and 1 skipped', (r) => r?.phase === 'Complete' && r.workloads.current === 7 && r.workloads.skipped === 1, 180_000);
    const report = await sampler.stop();
    await recorder.stop();

    t.diagnostic(`${report.samples.length} samples in ${Math.round(report.durationMs)} ms (max gap ${Math.round(report.maxGapMs)} ms); most unavailable ${report.maxUnavailable} of bound ${bound}`);
    // The sampler really sampled every 100 ms, and saw the restarts take pods away.
    assert.ok(report.samples.length >= 0.9 * report.expectedSamples && report.samples.length <= report.expectedSamples + 1, `${report.samples.length} samples over ${Math.round(report.durationMs)} ms (expected about ${report.expectedSamples})`);
    // A gap shorter than any restart's unavailability (the pods' readiness time, over a second) cannot hide an excess.
    assert.ok(report.maxGapMs < 500, `no gap between samples above 500 ms (max ${Math.round(report.maxGapMs)} ms)`);
    assert.ok(report.maxUnavailable >= 1, 'the restarts made pods unavailable: the bound below was tested');
    const worst = report.samples.find((s) => s.unavailable === report.maxUnavailable)!;
    assert.ok(report.maxUnavailable <= bound, `at most ${bound} pods unavailable at any sample; saw ${report.maxUnavailable}: ${JSON.stringify(worst.short)}`);

    // Each restartable workload written exactly once by the operator (the audit log), its template changed once (generation 2).
    const writes = world.workloadWrites(enabledAt);
    assert.deepEqual([...writes.keys()].sort(), restartable.map((w) => w.id).sort(), 'the operator wrote exactly the restartable workloads');
    for (const [id, times] of writes) assert.equal(times.length, 1, `${id} written once (${times.length})`);
    for (const workload of restartable) {
      const live = await world.live(workload);
      assert.equal(live.metadata.generation, 2, `${workload.id}: one template change`);
      assert.equal(live.spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION], rollout.target, `${workload.id} restarted for the target`);
      assert.ok(live.spec.template.metadata.annotations?.[RESTARTED_AT_ANNOTATION], `${workload.id} carries kubectl's restartedAt`);
    }
    const hash = await world.publishedHash();
    for (const workload of restartable) await world.assertPodsRecord(workload, hash);

    // Batches: numbered from 1, each workload in one, more than one batch (the bound forces it), none over the bound in workloads.
    const batches = [...recorder.batches.values()].sort((a, b) => a.number - b.number);
    assert.deepEqual(batches.map((b) => b.number), batches.map((_, i) => i + 1), 'every batch seen, numbered from 1');
    assert.equal(rollout.batch?.number, batches.length);
    assert.ok(batches.length >= 4, `${restartable.length} workloads of 2 or 3 pods in batches of at most ${bound} pods: at least 4 batches (saw ${batches.length})`);
    assert.deepEqual(batches.flatMap((b) => b.workloads).sort(), restartable.map((w) => w.id).sort(), 'each restartable workload in exactly one batch');
    const podsOf = new Map(world.workloads.map((w) => [w.id, w.replicas]));
    for (const batch of batches) {
      const pods = batch.workloads.reduce((sum, id) => sum + podsOf.get(id)!, 0);
      assert.ok(pods <= bound || batch.workloads.length === 1, `batch ${batch.number}: ${pods} pods of ${batch.workloads.length} workloads within the bound ${bound} (or one workload alone)`);
    }
    assert.ok(batches.some((b) => b.workloads.length > 1), 'some batch restarts several workloads at once');

    t.diagnostic(`batches: ${batches.map((b) => `${b.number}: ${b.workloads.join(', ')}`).join('; ')}`);
    // The gate: no write of batch k before every pod of batch k-1 was back (as the sampler saw it).
    const keyOf = (id: string) => id.slice(id.indexOf(' ') + 1);
    for (let k = 1; k < batches.length; k++) {
      const previous = new Set(batches[k - 1]!.workloads.map(keyOf));
      const lastShort = Math.max(...report.samples.filter((s) => Object.keys(s.short).some((key) => previous.has(key))).map((s) => s.epochMs));
      const firstWrite = Math.min(...batches[k]!.workloads.map((id) => writes.get(id)![0]!));
      assert.ok(Number.isFinite(lastShort), `batch ${k} made pods unavailable`);
      assert.ok(firstWrite > lastShort, `batch ${k + 1} started ${firstWrite - lastShort} ms after batch ${k} was last seen short of pods`);
    }

    assert.equal(condition.status, 'False', 'the skipped workload and the bare pod still run the old bundle');
    const started = await world.events('RolloutBatchStarted');
    assert.equal(started.length, batches.length, 'one RolloutBatchStarted Event per batch');
    assert.ok(started.every((e) => e.type === 'Normal'));
    assert.ok((await world.events('RolloutComplete')).length >= 1, 'a RolloutComplete Event');
  });

  test('the opted-out workload is reported as skipped, never written, and its pods keep the old bundle', async () => {
    const { rollout } = await world.rolloutWhen('Complete', (r) => r?.phase === 'Complete');
    assert.deepEqual(rollout.skipped, [legacy.id]);
    assert.equal(world.workloadWrites(rotatedAt).get(legacy.id), undefined);
    const live = await world.live(legacy);
    assert.equal(live.metadata.generation, 1);
    assert.equal(live.spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION], undefined);
    await world.assertPodsRecord(legacy, await world.publishedHash(), true);
  });

  test('the bare pod is reported and untouched', async () => {
    const { rollout } = await world.rolloutWhen('Complete', (r) => r?.phase === 'Complete');
    assert.deepEqual(rollout.barePods, [`${world.apps}/bare`]);
    const bare = await world.admin.get({ apiVersion: 'v1', kind: 'Pod' }, 'bare', world.apps);
    assert.equal(bare.metadata.uid, world.bare.metadata.uid, 'the same pod');
    assert.equal(bare.metadata.deletionTimestamp, undefined, 'not deleted');
    assert.equal(bare.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], world.bare.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], 'still the old bundle');
    assert.deepEqual(auditEvents(rotatedAt, (e) => e.user?.username === world.harness.username && e.objectRef?.resource === 'pods' && e.objectRef.name === 'bare' && e.verb !== 'get' && e.verb !== 'list' && e.verb !== 'watch'), [], 'no write to it by the operator');
  });
});
