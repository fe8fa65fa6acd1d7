/**
 * A Canary upgrade rolled back (issue #16 point 5, canary): the test mesh at 1.0.0 with strategy
 * Canary (revision 1-0-0) and three injected one-pod Deployments in a namespace a person labelled
 * for the default revision (it follows the `default` tag), bumped to a 1.1.0 whose proxy
 * crash-loops (kwok's pod-crash-loop stage). The new revision is applied beside the old one; no
 * enrolled namespace to move, the promotion moves the tag, the first workload restarted onto the new
 * revision fails the DataPlane gate, and the upgrade rolls back: phases ControlPlane → DataPlane →
 * Promoting → RollingBack → RolledBack, the workloads end on the old revision's
 * proxy (the moved one restarted back, the others never touched), the new revision is removed once
 * no pod uses it while the old one never went away, the condition and a Warning Event name the
 * gate, spec.version still says 1.1.0, and the installation is Stalled (UpgradeRolledBack).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { eventually } from '../support/kube.ts';
import type { RolloutWorld, TestWorkload } from '../rollout/world.ts';
import { assertProxies, canaryWorld, installation, NEW, NEW_REVISION, OLD, OLD_REVISION, patchSpec, PhaseRecorder, upgradeWhen, upgrading } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };

before(async () => {
  ({ world, workloads } = await canaryWorld(3, { MESHWRIGHT_E2E_CRASHING_PROXY: NEW }));
});

after(async () => {
  await world?.tearDown();
});

test('a crash-looping new revision fails the DataPlane gate: RolledBack, workloads back on the old revision, the new revision removed once unused, the old never removed, spec unchanged', async (t) => {
  const mesh = world.harness.meshNamespace;
  const seen: string[] = [];
  const controlPlane = new Informer({ client: world.admin, type: deploymentType, namespace: mesh });
  controlPlane.on((type, object) => {
    const name = object.metadata.name;
    const fact = `${type === 'delete' ? 'deleted' : 'present'} ${name}`;
    if ((name === `controller-${NEW_REVISION}` || name === `controller-${OLD_REVISION}`) && !seen.includes(fact)) seen.push(fact);
  });
  const recorder = new PhaseRecorder(world);
  await Promise.all([controlPlane.start(), recorder.start()]);
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const done = await upgradeWhen(world, 'the upgrade RolledBack', (u) => u?.phase === 'RolledBack', 'UpgradeRolledBack', 180_000);
  t.diagnostic(`phases: ${recorder.phases.join(' -> ')}; steps: ${recorder.steps.join(' | ')}; ${done.status?.upgrade?.message}`);

  // The workloads' namespace is labelled by the person for the default revision: it follows the `default` tag, which moves at the promotion.
  assert.deepEqual(recorder.phases, ['ControlPlane', 'DataPlane', 'Promoting', 'RollingBack', 'RolledBack'], 'the phases in order');
  assert.ok(recorder.steps.includes(`5. Remove revision ${OLD_REVISION}`), `the tag moved before the restarts: ${recorder.steps.join(' | ')}`);
  assert.deepEqual(recorder.steps.slice(0, 2), [`2. New revision ${NEW_REVISION} side by side with ${OLD_REVISION}`, '3. Canary'], 'the plan\'s steps');
  assert.equal(done.spec.version, NEW, 'spec is never written');
  const condition = upgrading(done);
  assert.deepEqual([condition.status, condition.reason], ['False', 'UpgradeRolledBack']);
  assert.match(condition.message, /gate DataPlane failed: .*crash/i);
  const rolledBack = await world.events('UpgradeRolledBack');
  assert.equal(rolledBack.length, 1, 'one UpgradeRolledBack Event');
  assert.equal(rolledBack[0]!.type, 'Warning');

  // Every workload ends on the old revision's proxy; the new revision goes once no pod uses it.
  for (const workload of workloads) {
    await assertProxies(world, workload, OLD);
    assert.ok((await world.pods(workload)).every((p) => p.metadata.annotations?.[RECORD_ANNOTATIONS.revision] === OLD_REVISION), `${workload.id} on revision ${OLD_REVISION}`);
  }
  await eventually('the new revision removed once unused', async () => seen.includes(`deleted controller-${NEW_REVISION}`), 60_000, 100);
  await recorder.stop();
  await controlPlane.stop();
  assert.ok(!seen.includes(`deleted controller-${OLD_REVISION}`), `the old revision never went away (${seen.join(', ')})`);
  const writes = world.workloadWrites(bumpedAt);
  t.diagnostic(`restarts: ${JSON.stringify([...writes].map(([id, times]) => [id, times.length]))}`);
  assert.ok(writes.size >= 1 && writes.size < workloads.length, 'the halt stopped the move before every workload was restarted');
  for (const [id, times] of writes) assert.equal(times.length, 2, `${id} moved to the new revision, then back (${times.length})`);

  const later = await installation(world);
  assert.equal(later.status?.version, OLD);
  const stalled = later.status?.conditions?.find((c) => c.type === 'Stalled');
  assert.deepEqual([stalled?.status, stalled?.reason], ['True', 'UpgradeRolledBack'], 'not healthy-and-current while spec names the version that does not run');
});
