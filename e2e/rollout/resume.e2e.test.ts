/**
 * The rollout's state lives in the cluster (issue #15, points 4 and 7): six two-pod Deployments,
 * two per batch; the operator process is SIGKILLed right after the first restart of the second
 * batch reaches the API server (watched in the audit log) — mid-batch, before its status could say so — and a new process finishes the
 * rollout. Every workload's template is changed exactly once (the audit log's writes by the
 * operator's ServiceAccount, across both processes, and each workload's generation), and the
 * unavailability bound holds across the handover.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { eventually } from '../support/kube.ts';
import { AuditFollower, RolloutWorld, type TestWorkload } from './world.ts';
import { unavailabilityBound, UnavailabilitySampler } from './unavailability.ts';

/** Two two-pod workloads per batch. */
const MAX_UNAVAILABLE = 4;
const world = new RolloutWorld({ maxUnavailable: MAX_UNAVAILABLE, batchInterval: '1s', progressDeadline: '60s' });
const workloads: TestWorkload[] = [];

before(async () => {
  await world.setUp();
  // Two pods rolled one at a time: while the operator (and with it the webhook) is down, a
  // restarted workload keeps a pod, so what is judged here is the handover, not a workload with no
  // pod (gate.e2e.test.ts).
  for (let i = 1; i <= 6; i++) workloads.push(await world.workload('Deployment', `app-${i}`, { replicas: 2, readyDelayMs: 1500 }));
  await world.settled();
  await world.rolloutWhen('6 workloads current', (r) => r?.workloads.total === 6 && r.workloads.current === 6);
});

after(async () => {
  await world.tearDown();
});

test('SIGKILLed mid-batch, the next operator process finishes the rollout without restarting any workload twice, within the unavailability bound', async (t) => {
  const bound = unavailabilityBound(MAX_UNAVAILABLE, workloads.length * 2);
  const sampler = new UnavailabilitySampler(world.admin, world.desired());
  await sampler.start();
  const rotatedAt = new Date();
  await world.rotateTrustAnchors();

  // The first write beyond the first batch (two two-pod workloads) is the second batch starting.
  const first = world.operator;
  const audit = new AuditFollower();
  let seen = 0;
  const writesAtKill = await eventually('the second batch\'s first restart', async () => {
    seen += audit.next().filter((e) => world.isWorkloadWrite(e)).length;
    if (seen > 2) {
      first.child.kill('SIGKILL');
      return seen;
    }
    return undefined;
  }, 120_000, 10).finally(() => audit.close());
  await new Promise((resolve) => first.child.once('exit', resolve));
  assert.equal(first.child.signalCode, 'SIGKILL');
  t.diagnostic(`SIGKILL after ${writesAtKill} of ${workloads.length} workloads were written`);
  assert.ok(writesAtKill < workloads.length, `killed mid-rollout: ${writesAtKill} of ${workloads.length} workloads written`);

  world.operator = await world.harness.startOperator();
  const { rollout } = await world.rolloutWhen('the rollout Complete by the second process', (r) => r?.phase === 'Complete' && r.workloads.current === workloads.length, 180_000);
  const report = await sampler.stop();

  const writes = world.workloadWrites(rotatedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload written');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} written once across both processes (${times.length})`);
  for (const workload of workloads) {
    const live = await world.live(workload);
    assert.equal(live.metadata.generation, 2, `${workload.id}: one template change`);
    assert.equal(live.spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION], rollout.target);
  }
  const hash = await world.publishedHash();
  for (const workload of workloads) await world.assertPodsRecord(workload, hash);

  t.diagnostic(`${report.samples.length} samples in ${Math.round(report.durationMs)} ms (max gap ${Math.round(report.maxGapMs)} ms); most unavailable ${report.maxUnavailable} of bound ${bound}`);
  // A gap shorter than any restart's unavailability (the pods' readiness time, over a second) cannot hide an excess.
  assert.ok(report.maxGapMs < 500, `no gap between samples above 500 ms (max ${Math.round(report.maxGapMs)} ms)`);
  assert.ok(report.samples.length >= 0.9 * report.expectedSamples && report.samples.length <= report.expectedSamples + 1, `${report.samples.length} samples over ${Math.round(report.durationMs)} ms (expected about ${report.expectedSamples})`);
  assert.ok(report.maxUnavailable >= 1, 'the restarts made pods unavailable');
  const worst = report.samples.find((s) => s.unavailable === report.maxUnavailable)!;
  assert.ok(report.maxUnavailable <= bound, `at most ${bound} pods unavailable at any sample; saw ${report.maxUnavailable}: ${JSON.stringify(worst.short)}`);
});
