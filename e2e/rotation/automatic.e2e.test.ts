/**
 * An automatic root rotation (issue #17, point 3): the root lives an hour and rootRotation.renewBefore
 * is 59m, so the rotation falls due about a minute after the CA was made, without any trigger. It
 * starts then by itself (the operator's timed pass, not an event), runs every phase with the
 * invariant sampled every 100 ms, and ends on a new root that the status shows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutWorld } from '../rollout/world.ts';
import { assertRotation, rotationWhen, rotationWorld, TrustSampler, testMeshSource } from './support.ts';

let world: RolloutWorld;

before(async () => {
  ({ world } = await rotationWorld({ certificateAuthority: { rootTTL: '1h', intermediateTTL: '30m', renewBefore: '5m' }, rootRotation: { automatic: true, renewBefore: '59m' }, count: 2 }));
});

after(async () => {
  await world?.tearDown();
});

test('a root within renewBefore is rotated without a trigger, safely', async (t) => {
  const idle = await rotationWhen(world, 'Idle before the rotation falls due', (r) => r?.phase === 'Idle');
  assert.equal(idle.status?.certificateAuthority?.rotation?.startedAt, undefined, 'not started yet: the test samples it from the start');
  const oldFingerprint = idle.status?.certificateAuthority?.rootFingerprint;
  const sampler = new TrustSampler(testMeshSource(world));
  await sampler.start();
  // The new root lives an hour under the same renewBefore, so it falls due a minute after it is made,
  // possibly before this rotation ends on a loaded machine. Once this one runs, automatic goes off
  // (it only decides whether an idle installation starts one).
  await rotationWhen(world, 'the automatic rotation started', (r) => r?.phase !== 'Idle' || r.completedAt !== undefined, 180_000);
  await world.admin.patch({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation' }, world.name, undefined, { spec: { certificateAuthority: { rootRotation: { automatic: false } } } }, 'merge');
  const done = await rotationWhen(world, 'the automatic rotation completed', (r) => r?.completedAt !== undefined, 180_000);
  const report = await sampler.stop();
  t.diagnostic(`${report.samples.length} samples`);
  assertRotation(report);
  assert.equal(done.status?.certificateAuthority?.rotation?.lastTrigger, undefined, 'no trigger involved');
  assert.notEqual(done.status?.certificateAuthority?.rootFingerprint, oldFingerprint);
  const started = await world.events('RootRotationStarted');
  assert.equal(started.length, 1);
  assert.match(started[0]!.note ?? '', /within rootRotation\.renewBefore/);
});
