/**
 * A rotation whose data-plane restart fails its health gate pauses (issue #17, point 5): one
 * Deployment crash-loops once restarted, so the rollout toward the overlap bundle halts. The
 * rotation stays in RestartingForTrustBundle with CertificateAuthorityReady False, reason
 * RotationPaused and one Warning Event; the overlap bundle stays published and the issuer is not
 * switched. Once the user fixes the workload, the rotation goes on by itself to the end, the
 * invariant sampled every 100 ms throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { miType, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { eventually } from '../support/kube.ts';
import { assertRotation, rotationWhen, rotationWorld, TrustSampler, testMeshSource } from './support.ts';

let world: RolloutWorld;
let crasher: TestWorkload;

before(async () => {
  let workloads: TestWorkload[];
  ({ world, workloads } = await rotationWorld({ rootRotation: { automatic: false, trigger: '1' }, crasher: true, count: 2, settings: { maxUnavailable: 1, progressDeadline: '20s' } }));
  crasher = workloads.find((w) => w.name === 'a-crasher')!;
});

after(async () => {
  await world?.tearDown();
});

test('a halted rollout pauses the rotation with the overlap bundle kept; fixing the workload lets it finish', async (t) => {
  await rotationWhen(world, 'Idle with lastTrigger 1', (r) => r?.phase === 'Idle' && r.lastTrigger === '1');
  const sampler = new TrustSampler(testMeshSource(world));
  await sampler.start();
  await world.admin.patch(miType, world.name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: '2' } } } }, 'merge');
  const paused = await rotationWhen(world, 'the rotation paused', (_r, mi) => mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady')?.reason === 'RotationPaused', 120_000);
  const pausedSeenAt = Date.now();
  const condition = paused.status!.conditions!.find((c) => c.type === 'CertificateAuthorityReady')!;
  t.diagnostic(condition.message);
  assert.equal(condition.status, 'False');
  assert.equal(paused.status?.certificateAuthority?.rotation?.phase, 'RestartingForTrustBundle', 'paused before the issuer switch');
  assert.match(condition.message, /paused in RestartingForTrustBundle/);
  assert.ok(condition.message.includes(crasher.id), `the condition names the failed workload: ${condition.message}`);

  // Several operator passes later: still paused, the overlap bundle published, the issuer not switched.
  await world.operatorLookedAgain(3, 3_000);
  const still = await rotationWhen(world, 'still paused', (r, mi) => r?.phase === 'RestartingForTrustBundle' && mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady')?.reason === 'RotationPaused');
  assert.ok(still);
  const events = await world.events('RotationPaused');
  assert.equal(events.length, 1, 'one RotationPaused Event, not one per pass');
  assert.equal(events[0]!.type, 'Warning');

  // From when the test saw the pause (never before it: the condition's time is to the second).
  const pausedFrom = pausedSeenAt;
  // Enough samples of the pause to judge it: on a loaded machine a sample can take longer than 100 ms.
  await eventually('20 samples while paused', async () => sampler.samplesSince(pausedFrom) >= 20, 60_000, 100);
  const fixedAt = Date.now();
  // The user fixes the workload: its pods no longer crash.
  await world.admin.patch({ apiVersion: 'apps/v1', kind: 'Deployment' }, crasher.name, world.apps, { spec: { template: { metadata: { annotations: { 'meshwright.dev/kwok-crash-loop-once-restarted': null } } } } }, 'merge');
  await rotationWhen(world, 'the rotation completed', (r) => r?.phase === 'Idle' && r.lastTrigger === '2' && r.completedAt !== undefined, 240_000);
  const report = await sampler.stop();
  const whilePaused = report.samples.filter((s) => s.epochMs >= pausedFrom && s.epochMs <= fixedAt);
  assert.ok(whilePaused.length >= 20, `sampled while paused (${whilePaused.length} samples)`);
  assert.ok(whilePaused.every((s) => s.anchors.join(',') === '0,1' && s.issuerRoot === 0), 'while paused: the overlap bundle published, the issuer still the old root\'s');
  assertRotation(report);
});
