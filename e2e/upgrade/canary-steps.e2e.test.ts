/**
 * A stepped Canary upgrade (issue #16 points 4 and 6) on the test mesh: 1.0.0 → 1.1.0 with three
 * namespaces the operator enrolled, steps [a by name] then [b by selector, pause 8s], autoPromote
 * false, and the operator SIGKILLed as each stepped phase is recorded (DataPlane step 1, the pause,
 * AwaitingPromotion, Promoting) with a new process started each time.
 *
 * What it shows, from watches (resourceVersions: one sequence) and the API server's audit log:
 * - a is relabelled to the new revision and its workload restarted before b is relabelled;
 * - the pause holds: pauseUntil in status, nothing moves (c keeps its label, no new phase) before it,
 *   and the kill during it neither lengthens nor restarts it;
 * - AwaitingPromotion with autoPromote false: c still on the old revision, and a new pod created in c
 *   is injected with the OLD revision's proxy, while a's and b's run the new one;
 * - autoPromote set true: Promoting, c moves and restarts, the default tag moves after that;
 * - the old revision stays while the user-labelled namespace's bare pod runs it, and is removed once
 *   it is deleted: Succeeded, status.upgrade's steps as `meshwright plan` words them;
 * - each workload restarted exactly once across the five processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { InjectionHarness } from '../injection/harness.ts';
import { assertAppOn, deploymentWrites, stepsWorld, tearDownSteps, WAVE_LABEL, type StepsWorld } from './canary-steps-support.ts';
import { installation, killOperator, NEW, NEW_REVISION, OLD, OLD_REVISION, patchSpec, upgradeWhen, upgrading } from './support.ts';

let steps: StepsWorld;
const PAUSE_MS = 8_000;

before(async () => {
  steps = await stepsWorld(([a]) => ({ steps: [{ namespaces: [a] }, { namespaceSelector: { matchLabels: { [WAVE_LABEL]: 'two' } }, pause: `${PAUSE_MS / 1000}s` }], autoPromote: false }));
});

after(() => tearDownSteps(steps));

test('steps by name and selector, a pause, AwaitingPromotion, promotion, the tag last, the old revision removed once unused; SIGKILLed in every stepped phase, each workload restarted once', async (t) => {
  const { world, recorder, namespaces } = steps;
  const [a, b, c] = namespaces;
  const label = (rev: string) => `${world.name}-${rev}`;
  const restarted = async () => { world.operator = await world.harness.startOperator(); };

  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });

  // Kill 1: as soon as canary step 1 is recorded.
  await recorder.until('step 3. Canary step 1 of 2');
  await killOperator(world);
  t.diagnostic('kill 1: DataPlane step 1 recorded');
  await restarted();

  // Kill 2: during step 2's pause.
  const pause = await eventually('the pause recorded', async () => recorder.seen.find((s) => s.fact.startsWith('pause ')), 120_000, 5);
  const pauseUntil = Date.parse(pause.fact.slice('pause '.length));
  await killOperator(world);
  t.diagnostic(`kill 2: pausing until ${new Date(pauseUntil).toISOString()}`);
  await restarted();

  // Kill 3: AwaitingPromotion recorded.
  const awaiting = await recorder.until('phase AwaitingPromotion', 120_000);
  assert.ok(awaiting.at >= pauseUntil - 1000, `AwaitingPromotion (${new Date(awaiting.at).toISOString()}) not before the pause ended (${new Date(pauseUntil).toISOString()})`);
  await killOperator(world);
  t.diagnostic('kill 3: AwaitingPromotion');
  await restarted();

  // Waits for promotion: nothing moves however long the operator looks.
  await world.operatorLookedAgain(3, 3_000);
  const waiting = await upgradeWhen(world, 'AwaitingPromotion', (u) => u?.phase === 'AwaitingPromotion', 'UpgradeInProgress');
  assert.match(upgrading(waiting).message, /autoPromote/);
  assert.equal(waiting.status?.upgrade?.stepName, 'Promotion');
  assert.ok(!recorder.has(`label ${c}=${label(NEW_REVISION)}`), 'c not moved before promotion');
  await assertAppOn(world, a, NEW, NEW_REVISION);
  await assertAppOn(world, b, NEW, NEW_REVISION);
  await assertAppOn(world, c, OLD, OLD_REVISION);
  // A new pod in the not-yet-moved namespace is injected by the old revision.
  const probe = await world.admin.create({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'late-', namespace: c }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } as unknown as KubeObject);
  assert.ok(InjectionHarness.injected(probe), 'the new pod in c is injected');
  assert.deepEqual([probe.metadata.annotations?.[RECORD_ANNOTATIONS.revision], probe.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion]], [OLD_REVISION, OLD], 'a new pod in c gets the old revision');
  const probeInA = await world.admin.create({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'late-', namespace: a }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } as unknown as KubeObject);
  assert.deepEqual([probeInA.metadata.annotations?.[RECORD_ANNOTATIONS.revision], probeInA.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion]], [NEW_REVISION, NEW], 'a new pod in a gets the new revision');
  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, probe.metadata.name, c);
  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, probeInA.metadata.name, a);

  // Promotion; kill 4 as soon as Promoting is recorded.
  await patchSpec(world, { upgrade: { canary: { autoPromote: true } } });
  await recorder.until('phase Promoting');
  await killOperator(world);
  t.diagnostic('kill 4: Promoting');
  await restarted();

  await assertAppOn(world, c, NEW, NEW_REVISION);
  const tagMoved = await recorder.until(`tag at ${NEW_REVISION}`, 120_000, 20);
  // The bare pod of the user-labelled namespace (which follows the tag) still runs the old revision: it stays.
  await world.operatorLookedAgain(3, 3_000);
  assert.ok(!recorder.has(`deleted controller-${OLD_REVISION}`), 'the old revision stays while a running pod uses it');
  const promoting = await installation(world);
  assert.equal(promoting.status?.upgrade?.phase, 'Promoting');
  assert.match(upgrading(promoting).message, /still used by \d+ running pods?/);
  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, 'bare', world.apps);
  const done = await upgradeWhen(world, 'Succeeded', (u) => u?.phase === 'Succeeded', 'UpgradeSucceeded', 120_000);
  await recorder.until(`deleted controller-${OLD_REVISION}`, 60_000, 20);
  await recorder.until(`deleted ${OLD_REVISION} webhook`, 60_000, 20);
  t.diagnostic(`seen: ${recorder.seen.map((s) => `${s.fact}@${s.rv}`).join(' | ')}`);

  // The plan's steps in order, once each (a kill never started the upgrade again).
  const stepFacts = recorder.seen.filter((s) => s.fact.startsWith('step ')).map((s) => s.fact.slice('step '.length));
  assert.deepEqual(stepFacts, [`2. New revision ${NEW_REVISION} side by side with ${OLD_REVISION}`, '3. Canary step 1 of 2', '4. Canary step 2 of 2', '5. Promotion', `6. Remove revision ${OLD_REVISION}`, '7. Succeeded']);
  assert.deepEqual(recorder.seen.filter((s) => s.fact.startsWith('phase ')).map((s) => s.fact.slice('phase '.length)), ['ControlPlane', 'DataPlane', 'AwaitingPromotion', 'Promoting', 'Succeeded']);
  assert.equal(recorder.seen.filter((s) => s.fact.startsWith('pause ')).length, 1, 'one pause, not lengthened by the kill');
  assert.equal(done.spec.version, NEW);

  // Order: a moved and restarted before b moved; b restarted before c moved; c restarted before the tag moved.
  const rv = (fact: string) => {
    const seen = recorder.get(fact);
    assert.ok(seen, `${fact} seen`);
    return seen.rv;
  };
  const target = `1.1.0@${NEW_REVISION}`;
  assert.ok(rv(`label ${a}=${label(NEW_REVISION)}`) < rv(`restarted ${a} for ${target}`), 'a relabelled before its workload restarted');
  assert.ok(rv(`restarted ${a} for ${target}`) < rv(`label ${b}=${label(NEW_REVISION)}`), 'a restarted before b relabelled');
  assert.ok(rv(`label ${b}=${label(NEW_REVISION)}`) < rv(`restarted ${b} for ${target}`), 'b relabelled before its workload restarted');
  assert.ok(rv(`restarted ${b} for ${target}`) < rv(`label ${c}=${label(NEW_REVISION)}`), 'b restarted before c relabelled');
  assert.ok(rv(`label ${c}=${label(NEW_REVISION)}`) < rv(`restarted ${c} for ${target}`), 'c relabelled before its workload restarted');
  assert.ok(rv(`restarted ${c} for ${target}`) < tagMoved.rv, 'the default tag moved last, after every enrolled namespace restarted');
  assert.ok(rv('phase Promoting') < rv(`label ${c}=${label(NEW_REVISION)}`), 'c moved only after Promoting was recorded');
  assert.ok(rv(`restarted ${b} for ${target}`) < pause.rv, 'the pause began once b passed');

  // Each workload restarted exactly once across the five processes (the API server's audit log).
  const writes = deploymentWrites(world, namespaces, bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), namespaces.map((ns) => `${ns}/app`).sort(), 'every enrolled namespace\'s workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once (${times.length})`);
  for (const namespace of namespaces) {
    const ns = await world.admin.get({ apiVersion: 'v1', kind: 'Namespace' }, namespace);
    assert.equal(ns.metadata.labels?.[WAVE_LABEL], namespace === b ? 'two' : undefined, 'the person\'s labels untouched');
  }
  assert.equal((await world.events('UpgradeStarted')).length <= 1, true, 'started once');
  // Events follow their record and a kill may come between (AwaitingPromotion's and Promoting's here); step 1's pass had none.
  assert.ok((await world.events('UpgradeCanaryStepPassed')).some((e) => /canary step 1 of 2 passed/.test(e.note ?? '')), 'an UpgradeCanaryStepPassed Event for step 1');
});
