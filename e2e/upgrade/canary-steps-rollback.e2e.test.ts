/**
 * A failing canary step rolled back (issue #16 point 5, stepped canary): the test mesh at 1.0.0 with
 * strategy Canary, three enrolled namespaces and steps [a] then [b], bumped to a 1.1.0 whose proxy
 * crash-loops (kwok's pod-crash-loop stage). Step 1 moves a; its workload crash-loops and fails the
 * DataPlane gate; the upgrade rolls back: a is relabelled back to the old revision and its workload
 * restarted back onto the old proxy; b and c are never relabelled nor restarted; the default tag
 * never moves; the new revision (controller and injection webhook) is removed once nothing uses it
 * while the old one never goes; phase RolledBack, the condition and a Warning Event name the gate;
 * spec.version still says 1.1.0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_INJECT_LABEL } from '../support/test-distribution.ts';
import { assertAppOn, deploymentWrites, stepsWorld, tearDownSteps, type StepsWorld } from './canary-steps-support.ts';
import { NEW, NEW_REVISION, OLD, OLD_REVISION, patchSpec, upgradeWhen, upgrading } from './support.ts';

let steps: StepsWorld;

before(async () => {
  steps = await stepsWorld(([a, b]) => ({ steps: [{ namespaces: [a] }, { namespaces: [b] }] }), { operatorEnv: { MESHWRIGHT_E2E_CRASHING_PROXY: NEW }, progressDeadline: '30s' });
});

after(() => tearDownSteps(steps));

test('a crash-looping step: the moved namespace back on the old revision and restarted back, the others never touched, the new revision removed; RolledBack naming the gate', async (t) => {
  const { world, recorder, namespaces } = steps;
  const [a, b, c] = namespaces;
  const label = (rev: string) => `${world.name}-${rev}`;
  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const done = await upgradeWhen(world, 'RolledBack', (u) => u?.phase === 'RolledBack', 'UpgradeRolledBack', 180_000);
  await recorder.until(`deleted controller-${NEW_REVISION}`, 60_000, 20);
  await recorder.until(`deleted ${NEW_REVISION} webhook`, 60_000, 20);
  t.diagnostic(`seen: ${recorder.seen.map((s) => `${s.fact}@${s.rv}`).join(' | ')}`);

  assert.deepEqual(recorder.seen.filter((s) => s.fact.startsWith('phase ')).map((s) => s.fact.slice('phase '.length)), ['ControlPlane', 'DataPlane', 'RollingBack', 'RolledBack']);
  assert.ok(recorder.has('step 3. Canary step 1 of 2') && !recorder.has('step 4. Canary step 2 of 2'), 'step 2 never began');
  const condition = upgrading(done);
  assert.deepEqual([condition.status, condition.reason], ['False', 'UpgradeRolledBack']);
  assert.match(condition.message, /gate DataPlane failed: canary step 1: .*CrashLoop/);
  assert.equal(done.spec.version, NEW, 'the spec is never written');
  const events = await world.events('UpgradeRolledBack');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type, 'Warning');

  // a went to the new revision and back; b and c never moved.
  const rv = (fact: string) => recorder.get(fact)?.rv;
  assert.ok(rv(`label ${a}=${label(NEW_REVISION)}`) !== undefined, 'a moved to the new revision');
  assert.ok(rv(`label ${a}=${label(NEW_REVISION)}`)! < rv(`restarted ${a} for 1.1.0@${NEW_REVISION}`)!, 'a relabelled before its restart');
  assert.ok(rv('phase RollingBack')! < rv(`restarted ${a} for 1.0.0@${OLD_REVISION}`)!, 'restarted back once RollingBack was recorded');
  for (const ns of [b, c]) assert.ok(!recorder.has(`label ${ns}=${label(NEW_REVISION)}`), `${ns} never relabelled`);
  const live = await world.admin.get({ apiVersion: 'v1', kind: 'Namespace' }, a);
  assert.equal(live.metadata.labels?.[TEST_INJECT_LABEL], label(OLD_REVISION), 'a points at the old revision again');
  for (const ns of namespaces) await assertAppOn(world, ns, OLD, OLD_REVISION);
  assert.ok(!recorder.has(`tag at ${NEW_REVISION}`), 'the default tag never moved');
  assert.ok(!recorder.has(`deleted controller-${OLD_REVISION}`) && !recorder.has(`deleted ${OLD_REVISION} webhook`), 'the old revision never went away');

  const writes = deploymentWrites(world, namespaces, bumpedAt);
  t.diagnostic(`restarts: ${JSON.stringify([...writes])}`);
  assert.deepEqual([...writes.keys()], [`${a}/app`], 'only the moved namespace\'s workload was restarted');
  assert.equal(writes.get(`${a}/app`)!.length, 2, 'moved to the new revision, then back');
  const stalled = (await world.installation()).status?.conditions?.find((cond) => cond.type === 'Stalled');
  assert.deepEqual([stalled?.status, stalled?.reason], ['True', 'UpgradeRolledBack']);
});
