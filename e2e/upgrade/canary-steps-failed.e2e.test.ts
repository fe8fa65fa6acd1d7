/**
 * A failing canary step without rollbackOnFailure (issue #16 point 5): the test mesh at 1.0.0 with
 * strategy Canary, three enrolled namespaces and steps [a] then [b], `rollbackOnFailure: false`,
 * bumped to a 1.1.0 whose proxy crash-loops. Step 1 moves a, its workload crash-loops and fails the
 * DataPlane gate: phase Failed with the gate named, and nothing more changes however long the
 * operator looks — a stays on the new revision (its workload restarted once, never back), b and c
 * are never relabelled nor restarted, both revisions stay, the default tag never moves, the spec is
 * never written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_INJECT_LABEL } from '../support/test-distribution.ts';
import { deploymentWrites, stepsWorld, tearDownSteps, type StepsWorld } from './canary-steps-support.ts';
import { NEW, NEW_REVISION, OLD_REVISION, patchSpec, upgradeWhen, upgrading } from './support.ts';

let steps: StepsWorld;

before(async () => {
  steps = await stepsWorld(([a, b]) => ({ steps: [{ namespaces: [a] }, { namespaces: [b] }] }), { operatorEnv: { MESHWRIGHT_E2E_CRASHING_PROXY: NEW }, progressDeadline: '30s', rollbackOnFailure: false });
});

after(() => tearDownSteps(steps));

test('a crash-looping step without rollbackOnFailure: Failed naming the gate, and nothing more changes', async (t) => {
  const { world, recorder, namespaces } = steps;
  const [a, b, c] = namespaces;
  const label = (rev: string) => `${world.name}-${rev}`;
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const failed = await upgradeWhen(world, 'Failed', (u) => u?.phase === 'Failed', 'UpgradeFailed', 180_000);
  const condition = upgrading(failed);
  assert.match(condition.message, /gate DataPlane failed: canary step 1: .*CrashLoop.*rollbackOnFailure is false, so nothing more is changed/);
  assert.equal(failed.spec.version, NEW, 'the spec is never written');
  const writesAtFailure = deploymentWrites(world, namespaces, bumpedAt);

  // However long the operator looks, nothing moves.
  await world.operatorLookedAgain(4, 5_000);
  t.diagnostic(`seen: ${recorder.seen.map((s) => `${s.fact}@${s.rv}`).join(' | ')}`);
  assert.deepEqual(recorder.seen.filter((s) => s.fact.startsWith('phase ')).map((s) => s.fact.slice('phase '.length)), ['ControlPlane', 'DataPlane', 'Failed']);
  const live = async (ns: string) => (await world.admin.get({ apiVersion: 'v1', kind: 'Namespace' }, ns)).metadata.labels?.[TEST_INJECT_LABEL];
  assert.equal(await live(a), label(NEW_REVISION), 'a stays on the new revision');
  for (const ns of [b, c]) {
    assert.equal(await live(ns), label(OLD_REVISION), `${ns} stays on the old revision`);
    assert.ok(!recorder.has(`label ${ns}=${label(NEW_REVISION)}`), `${ns} never relabelled`);
  }
  const writes = deploymentWrites(world, namespaces, bumpedAt);
  assert.deepEqual([...writes].map(([id, times]) => [id, times.length]), [[`${a}/app`, 1]], 'only a\'s workload restarted, once, never back');
  assert.deepEqual([...writes.keys()], [...writesAtFailure.keys()]);
  assert.ok(!recorder.has(`deleted controller-${NEW_REVISION}`) && !recorder.has(`deleted controller-${OLD_REVISION}`), 'both revisions stay');
  assert.ok(!recorder.has(`tag at ${NEW_REVISION}`), 'the default tag never moved');
  assert.equal((await world.events('UpgradeFailed')).length, 1, 'one UpgradeFailed Event');
});
