/**
 * Table tests of the Canary upgrade machine (canary.ts) on a fixed clock: a walk through every
 * step to Succeeded with autoPromote, AwaitingPromotion without it, pauses recorded once, gates
 * failing into a rollback (or Failed), the old revision kept while anything uses it, a pass after
 * a kill deciding the same from the record alone, and which namespaces are ever relabelled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCanary, type CanaryDecision, type CanaryObservation } from './canary.ts';
import type { RolloutVerdict } from '../rollout/index.ts';
import type { UpgradeStatus } from './plan.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;
const OLD = '1-30-4';
const NEW = '1-31-1';
const complete: RolloutVerdict = { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] };
const unused = { [OLD]: { namespaces: [], runningPods: 0 }, [NEW]: { namespaces: [], runningPods: 0 } };

/** Three enrolled namespaces, two steps (a; then b with a 5m pause), autoPromote, rollback on. */
function observed(extra: Partial<CanaryObservation> = {}): CanaryObservation {
  return {
    generation: 2, wanted: '1.31.1', served: '1.30.4', rollbackOnFailure: true, progressDeadline: '10m', paused: false, autoPromote: true,
    steps: [{ namespaces: ['a'] }, { namespaces: ['b'], pause: '5m' }], enrolled: ['a', 'b', 'c'], revisions: { old: OLD, new: NEW }, ...extra,
  };
}

/** Feeds each decision's status back as the record, as the executor does. */
function next(previous: CanaryDecision, extra: Partial<CanaryObservation>, now: number): CanaryDecision {
  return planCanary(observed({ recorded: previous.status, ...extra }), now)!;
}

test('no canary: a first install, an unchanged version, or paused before it started', () => {
  assert.equal(planCanary(observed({ served: undefined }), T0), undefined);
  assert.equal(planCanary(observed({ served: '1.31.1' }), T0), undefined);
  assert.equal(planCanary(observed({ paused: true }), T0), undefined);
});

test('a walk to Succeeded with autoPromote: both revisions rendered until the old is unused, namespaces move step by step, the tag last', () => {
  const rows: Array<[string, Partial<CanaryObservation>, number, Partial<UpgradeStatus>, Partial<CanaryDecision>]> = [];
  let d = planCanary(observed(), T0)!;
  const walk = (name: string, input: Partial<CanaryObservation>, now: number) => {
    d = next(d, input, now);
    rows.push([name, input, now, d.status, d]);
    return d;
  };
  assert.deepEqual([d.status.phase, d.status.step, d.status.stepName, d.record, d.render, d.defaultTag, d.rollout], ['ControlPlane', 2, `New revision ${NEW} side by side with ${OLD}`, true, [OLD, NEW], OLD, undefined]);
  assert.deepEqual(d.namespaceRevisions, { a: OLD, b: OLD, c: OLD });

  walk('new revision not available yet', { newRevision: { notReady: ['Deployment istio-system/istiod-1-31-1'] } }, T0 + MIN);
  assert.deepEqual([d.status.phase, d.record, d.rollout], ['ControlPlane', false, undefined]);

  walk('new revision available: step 1 moves a', { newRevision: { notReady: [] } }, T0 + 2 * MIN);
  assert.deepEqual([d.status.phase, d.status.step, d.status.stepName, d.record], ['DataPlane', 3, 'Canary step 1 of 2', true]);
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: OLD, c: OLD });
  assert.deepEqual(d.rollout, { revision: NEW, namespaces: ['a'] });
  assert.deepEqual(d.events.map((e) => e.reason), ['UpgradeControlPlaneReady']);

  walk('step 1 restarting', { dataPlane: { state: 'in-progress', progress: 'batch 1 of 2' } }, T0 + 3 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.rollout?.namespaces], ['DataPlane', false, ['a']]);

  walk('step 1 passed (no pause): step 2 moves b', { dataPlane: complete }, T0 + 4 * MIN);
  assert.deepEqual([d.status.step, d.status.stepName, d.record, d.rollout?.namespaces], [4, 'Canary step 2 of 2', true, ['a', 'b']]);
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: NEW, c: OLD });
  assert.deepEqual(d.events.map((e) => e.reason), ['UpgradeCanaryStepPassed']);

  walk('step 2 passed: its pause is recorded once', { dataPlane: complete }, T0 + 5 * MIN);
  assert.deepEqual([d.status.phase, d.status.pauseUntil, d.record, d.wakeAt], ['DataPlane', '2026-11-27T10:10:00Z', true, T0 + 10 * MIN]);
  walk('within the pause (a restarted operator does not lengthen it)', { dataPlane: complete }, T0 + 7 * MIN);
  assert.deepEqual([d.status.pauseUntil, d.record, d.wakeAt], ['2026-11-27T10:10:00Z', false, T0 + 10 * MIN]);

  walk('pause over, autoPromote: Promoting moves c too', { dataPlane: complete }, T0 + 10 * MIN);
  assert.deepEqual([d.status.phase, d.status.stepName, d.record, d.defaultTag, d.rollout?.namespaces], ['Promoting', 'Promotion', true, OLD, ['a', 'b', 'c']]);
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: NEW, c: NEW });

  walk('every namespace restarted: the tag moves (recorded first)', { dataPlane: complete, use: { ...unused, [OLD]: { namespaces: [], runningPods: 2 } } }, T0 + 11 * MIN);
  assert.deepEqual([d.status.phase, d.status.stepName, d.record, d.defaultTag, d.render], ['Promoting', `Remove revision ${OLD}`, true, NEW, [OLD, NEW]]);

  walk('the old revision still has running pods: kept', { dataPlane: complete, use: { ...unused, [OLD]: { namespaces: ['legacy'], runningPods: 2 } } }, T0 + 12 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.defaultTag, d.render], ['Promoting', false, NEW, [OLD, NEW]]);
  assert.match(d.status.message!, /still used by namespace legacy and 2 running pods/);

  walk('nothing uses the old revision: removed, Succeeded', { dataPlane: complete, use: unused }, T0 + 13 * MIN);
  assert.deepEqual([d.status.phase, d.status.stepName, d.record, d.render, d.defaultTag, d.condition.reason], ['Succeeded', 'Succeeded', true, [NEW], NEW, 'UpgradeSucceeded']);
  assert.equal(d.status.totalSteps, 7);

  walk('after Succeeded: nothing more', { dataPlane: complete, use: unused }, T0 + 20 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.render, d.rollout], ['Succeeded', false, [NEW], undefined]);
});

test('without autoPromote the upgrade waits at AwaitingPromotion; setting it promotes', () => {
  let d = planCanary(observed({ autoPromote: false, recorded: { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'DataPlane', step: 4, totalSteps: 7, startedAt: '2026-11-27T10:00:00Z', phaseStartedAt: '2026-11-27T10:00:00Z', pauseUntil: '2026-11-27T10:05:00Z', generation: 2 }, dataPlane: complete }), T0 + 6 * MIN)!;
  assert.deepEqual([d.status.phase, d.record, d.defaultTag, d.rollout], ['AwaitingPromotion', true, OLD, undefined]);
  assert.match(d.condition.message, /set spec\.upgrade\.canary\.autoPromote to true/);
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: NEW, c: OLD });
  d = next(d, { autoPromote: false }, T0 + 60 * MIN);
  assert.deepEqual([d.status.phase, d.record], ['AwaitingPromotion', false]);
  d = next(d, { autoPromote: true, generation: 3 }, T0 + 61 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.rollout?.namespaces], ['Promoting', true, ['a', 'b', 'c']]);
});

test('a failed gate rolls every moved namespace back, restarts them back, and removes the new revision once unused', () => {
  const inStep2: UpgradeStatus = { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'DataPlane', step: 4, totalSteps: 7, startedAt: '2026-11-27T10:00:00Z', phaseStartedAt: '2026-11-27T10:00:00Z', generation: 2 };
  let d = planCanary(observed({ recorded: inStep2, dataPlane: { state: 'halted', failures: [], message: 'Deployment b/web: CrashLoopBackOff' } }), T0 + MIN)!;
  assert.deepEqual([d.status.phase, d.record, d.condition.reason, d.render, d.defaultTag], ['RollingBack', true, 'UpgradeRollingBack', [OLD, NEW], OLD]);
  assert.match(d.status.message!, /gate DataPlane failed: canary step 2: Deployment b\/web: CrashLoopBackOff; rolling back to 1\.30\.4/);
  assert.deepEqual(d.namespaceRevisions, { a: OLD, b: OLD, c: OLD });
  assert.deepEqual(d.rollout, { revision: OLD, namespaces: ['a', 'b', 'c'] });
  d = next(d, { dataPlane: { state: 'in-progress', progress: 'batch 1 of 1' } }, T0 + 2 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.render], ['RollingBack', false, [OLD, NEW]]);
  d = next(d, { dataPlane: complete, use: { ...unused, [NEW]: { namespaces: [], runningPods: 1 } } }, T0 + 3 * MIN);
  assert.deepEqual([d.status.phase, d.render], ['RollingBack', [OLD, NEW]]);
  d = next(d, { dataPlane: complete, use: unused }, T0 + 4 * MIN);
  assert.deepEqual([d.status.phase, d.record, d.render, d.defaultTag, d.condition.reason], ['RolledBack', true, [OLD], OLD, 'UpgradeRolledBack']);
  assert.match(d.condition.message, /gate DataPlane failed: canary step 2.*spec\.version still says 1\.31\.1/);
  assert.deepEqual(d.events.map((e) => [e.type, e.reason]), [['Warning', 'UpgradeRolledBack']]);
  // Final: a later pass changes nothing; a new generation tries again from the same version.
  assert.deepEqual([next(d, {}, T0 + 9 * MIN).record, next(d, {}, T0 + 9 * MIN).render], [false, [OLD]]);
  const retry = next(d, { generation: 3 }, T0 + 10 * MIN);
  assert.deepEqual([retry.status.phase, retry.status.from, retry.record], ['ControlPlane', '1.30.4', true]);
});

test('the new revision missing its deadline: rollback, or Failed with everything left where it was', () => {
  const atStart: UpgradeStatus = { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'ControlPlane', step: 2, startedAt: '2026-11-27T10:00:00Z', phaseStartedAt: '2026-11-27T10:00:00Z', generation: 2 };
  const notReady = { notReady: ['Deployment istio-system/istiod-1-31-1'] };
  assert.equal(planCanary(observed({ recorded: atStart, newRevision: notReady }), T0 + 9 * MIN)!.status.phase, 'ControlPlane');
  const back = planCanary(observed({ recorded: atStart, newRevision: notReady }), T0 + 10 * MIN)!;
  assert.match(back.status.message!, /gate ControlPlane failed: Deployment istio-system\/istiod-1-31-1 of revision 1-31-1 not available within spec\.upgrade\.progressDeadline \(10m\)/);
  assert.equal(back.status.phase, 'RollingBack');
  const failed = planCanary(observed({ recorded: { ...atStart, phase: 'DataPlane', step: 3 }, rollbackOnFailure: false, dataPlane: { state: 'halted', failures: [], message: 'crash' } }), T0 + MIN)!;
  assert.deepEqual([failed.status.phase, failed.rollout, failed.namespaceRevisions], ['Failed', undefined, { a: NEW, b: OLD, c: OLD }]);
  const after = next(failed, { rollbackOnFailure: false }, T0 + 2 * MIN);
  assert.deepEqual([after.record, after.rollout, after.namespaceRevisions, after.render], [false, undefined, { a: NEW, b: OLD, c: OLD }, [OLD, NEW]]);
});

test('resumable: a pass after a kill decides the same from the record alone (no phase entered twice, the same restart scope)', () => {
  const recorded: UpgradeStatus = { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'DataPlane', step: 3, totalSteps: 7, stepName: 'Canary step 1 of 2', startedAt: '2026-11-27T10:00:00Z', phaseStartedAt: '2026-11-27T10:01:00Z', generation: 2 };
  const first = planCanary(observed({ recorded, dataPlane: { state: 'in-progress', progress: 'batch 1' } }), T0 + 2 * MIN)!;
  const again = planCanary(observed({ recorded, dataPlane: { state: 'in-progress', progress: 'batch 1' } }), T0 + 3 * MIN)!;
  assert.deepEqual([first.record, again.record], [false, false]);
  assert.deepEqual([first.rollout, first.namespaceRevisions], [again.rollout, again.namespaceRevisions]);
  assert.deepEqual(first.events, []);
});

test('only namespaces the operator enrolled are relabelled: a step naming a user-labelled namespace leaves it out', () => {
  const d = planCanary(observed({ steps: [{ namespaces: ['a', 'users-own'] }], enrolled: ['a', 'b'], recorded: { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'ControlPlane', step: 2, startedAt: '2026-11-27T10:00:00Z', generation: 2 }, newRevision: { notReady: [] } }), T0 + MIN)!;
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: OLD });
  assert.deepEqual(d.rollout, { revision: NEW, namespaces: ['a'] });
});

test('no steps: every enrolled namespace moves in one step, named as the plan names it', () => {
  const d = planCanary(observed({ steps: [], recorded: { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'ControlPlane', step: 2, startedAt: '2026-11-27T10:00:00Z', generation: 2 }, newRevision: { notReady: [] } }), T0 + MIN)!;
  assert.deepEqual([d.status.stepName, d.status.totalSteps, d.rollout?.namespaces], ['Canary', 6, ['a', 'b', 'c']]);
});

test('paused mid-step: nothing new starts, the namespaces stay where the record put them', () => {
  const recorded: UpgradeStatus = { from: '1.30.4', to: '1.31.1', strategy: 'Canary', phase: 'DataPlane', step: 3, stepName: 'Canary step 1 of 2', startedAt: '2026-11-27T10:00:00Z', generation: 2 };
  const d = planCanary(observed({ recorded, paused: true, dataPlane: complete }), T0 + MIN)!;
  assert.deepEqual([d.status, d.record, d.rollout, d.condition.reason], [recorded, false, undefined, 'UpgradePaused']);
  assert.deepEqual(d.namespaceRevisions, { a: NEW, b: OLD, c: OLD });
});

test('after the default tag moved, the namespaces following it restart too: their crash loop rolls back, the tag back on the old revision', () => {
  const start = planCanary(observed({ steps: [] }), T0)!;
  const promoting: UpgradeStatus = { ...start.status, phase: 'Promoting', step: 5, totalSteps: 6, stepName: `Remove revision ${OLD}` };
  const halted: RolloutVerdict = { state: 'halted', failures: [], message: 'Deployment legacy/app (CrashLoop)' };
  const d = planCanary(observed({ steps: [], recorded: promoting, dataPlane: halted, use: { ...unused, [OLD]: { namespaces: [], runningPods: 2 } } }), T0 + MIN)!;
  assert.deepEqual([d.status.phase, d.record, d.defaultTag, d.rollout?.revision], ['RollingBack', true, OLD, OLD]);
  assert.match(d.condition.message, /gate DataPlane failed: promotion, after the default tag moved: Deployment legacy\/app \(CrashLoop\)/);
  // Without rollbackOnFailure: Failed, the tag stays where the record left it.
  const failed = planCanary(observed({ steps: [], rollbackOnFailure: false, recorded: promoting, dataPlane: halted, use: unused }), T0 + MIN)!;
  assert.deepEqual([failed.status.phase, failed.defaultTag, failed.rollout], ['Failed', NEW, undefined]);
});
