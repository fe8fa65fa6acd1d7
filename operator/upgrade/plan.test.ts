/**
 * Table tests of the InPlace upgrade machine (plan.ts) on a fixed clock: every transition — start,
 * each gate passing, failing and missing its deadline, rollback against Failed, paused and resumed,
 * a pass after a restart continuing from the recorded phase — and which version a pass serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectorBehind, planUpgrade, upgradeStall, versionToServe, UpgradeReason, type UpgradeObservation, type UpgradeStatus } from './plan.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const MIN = 60_000;

/** An installation at generation 2 asking for 1.31.1 while 1.30.4 was served, InPlace, rollback on, 10m deadline. */
function observed(extra: Partial<UpgradeObservation> = {}): UpgradeObservation {
  return { generation: 2, wanted: '1.31.1', served: '1.30.4', strategy: 'InPlace', rollbackOnFailure: true, progressDeadline: '10m', paused: false, ...extra };
}

function recorded(phase: UpgradeStatus['phase'], extra: Partial<UpgradeStatus> = {}): UpgradeStatus {
  return { from: '1.30.4', to: '1.31.1', strategy: 'InPlace', phase, startedAt: at(0), phaseStartedAt: at(0), generation: 2, message: 'recorded', ...extra };
}

const healthy = { notReady: [] };
const unhealthy = { notReady: ['Deployment istio-system/istiod'] };

test('no upgrade: a first install or an unchanged version plan nothing', () => {
  for (const [name, input] of [
    ['first install', observed({ served: undefined })],
    ['version unchanged', observed({ served: '1.31.1' })],
    ['paused before it started (it starts once resumed)', observed({ paused: true })],
  ] as const) assert.equal(planUpgrade(input, T0), undefined, name);
});

test('start: a new spec.version records ControlPlane (from, to, startedAt, generation) before anything is applied, holds the data plane and says so', () => {
  const decision = planUpgrade(observed(), T0)!;
  assert.equal(decision.record, true);
  assert.deepEqual({ ...decision.status, message: undefined }, { from: '1.30.4', to: '1.31.1', strategy: 'InPlace', phase: 'ControlPlane', step: 2, totalSteps: 5, stepName: 'Control plane', startedAt: at(0), phaseStartedAt: at(0), generation: 2, message: undefined });
  assert.ok(decision.hold);
  assert.deepEqual([decision.condition.status, decision.condition.reason], ['True', UpgradeReason.UpgradeInProgress]);
  assert.deepEqual(decision.events.map((e) => [e.type, e.reason]), [['Normal', 'UpgradeStarted']]);
  assert.match(decision.events[0]!.message, /1\.30\.4 -> 1\.31\.1/);
});

test('a new target replaces an upgrade recorded for another version', () => {
  const decision = planUpgrade(observed({ wanted: '1.32.0', served: '1.31.1', recorded: recorded('Succeeded') }), T0)!;
  assert.deepEqual([decision.status.from, decision.status.to, decision.status.phase, decision.record], ['1.31.1', '1.32.0', 'ControlPlane', true]);
});

test('ControlPlane gate: waiting, passing, failing at the deadline', () => {
  const rows: Array<{ name: string; input: Partial<UpgradeObservation>; now: number; phase: string; record: boolean; hold: boolean; reason: string; events: string[]; message?: RegExp; wakeAt?: number }> = [
    { name: 'not observed yet (the pass stopped before)', input: {}, now: T0 + MIN, phase: 'ControlPlane', record: false, hold: true, reason: 'UpgradeInProgress', events: [], wakeAt: T0 + 10 * MIN },
    { name: 'components not available within the deadline: wait', input: { controlPlane: unhealthy }, now: T0 + 9 * MIN, phase: 'ControlPlane', record: false, hold: true, reason: 'UpgradeInProgress', events: [], message: /istiod not available yet/, wakeAt: T0 + 10 * MIN },
    { name: 'every component available: DataPlane, the rollout may start', input: { controlPlane: healthy }, now: T0 + MIN, phase: 'DataPlane', record: true, hold: false, reason: 'UpgradeInProgress', events: ['UpgradeControlPlaneReady'] },
    { name: 'deadline missed, rollback on: RollingBack naming the gate', input: { controlPlane: unhealthy }, now: T0 + 10 * MIN, phase: 'RollingBack', record: true, hold: true, reason: 'UpgradeRollingBack', events: ['UpgradeRollingBack'], message: /gate ControlPlane failed: Deployment istio-system\/istiod not available within spec.upgrade.progressDeadline \(10m\).*rolling back to 1\.30\.4/ },
    { name: 'deadline missed, rollback off: Failed', input: { controlPlane: unhealthy, rollbackOnFailure: false }, now: T0 + 10 * MIN, phase: 'Failed', record: true, hold: true, reason: 'UpgradeFailed', events: ['UpgradeFailed'], message: /gate ControlPlane failed.*rollbackOnFailure is false/ },
  ];
  for (const row of rows) {
    const d = planUpgrade(observed({ recorded: recorded('ControlPlane'), ...row.input }), row.now)!;
    assert.equal(d.status.phase, row.phase, row.name);
    assert.equal(d.record, row.record, row.name);
    assert.equal(d.hold !== undefined, row.hold, row.name);
    assert.equal(d.condition.reason, row.reason, row.name);
    assert.deepEqual(d.events.map((e) => e.reason), row.events, row.name);
    if (row.message) assert.match(d.condition.message, row.message, row.name);
    if (row.wakeAt !== undefined) assert.equal(d.wakeAt, row.wakeAt, row.name);
    if (row.record && row.phase !== 'Failed') assert.equal(d.status.phaseStartedAt, at(row.now - T0), `${row.name}: the new phase's clock starts now`);
    if (row.phase === 'Failed') assert.equal(d.status.finishedAt, at(row.now - T0), row.name);
  }
});

test('DataPlane gate: the rollout verdict for the new target decides', () => {
  const rows: Array<{ name: string; input: Partial<UpgradeObservation>; phase: string; reason: string; events: string[]; message?: RegExp }> = [
    { name: 'no rollout for the target yet', input: { dataPlane: { state: 'pending' } }, phase: 'DataPlane', reason: 'UpgradeInProgress', events: [] },
    { name: 'batches restarting', input: { dataPlane: { state: 'in-progress', progress: '3/8' }, workloads: { current: 3, total: 8 } }, phase: 'DataPlane', reason: 'UpgradeInProgress', events: [], message: /3\/8/ },
    { name: 'complete', input: { dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] }, workloads: { current: 8, total: 8 } }, phase: 'Succeeded', reason: 'UpgradeSucceeded', events: ['UpgradeSucceeded'] },
    { name: 'complete with opted-out workloads named', input: { dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: ['Deployment a/b'], barePods: ['a/pod'] } }, phase: 'Succeeded', reason: 'UpgradeSucceeded', events: ['UpgradeSucceeded'], message: /not restarted: Deployment a\/b, pod a\/pod/ },
    { name: 'complete with workloads a restart cannot reach', input: { dataPlane: { state: 'complete', outdatedWorkloads: 2, skipped: [], barePods: [] } }, phase: 'Succeeded', reason: 'UpgradeSucceeded', events: ['UpgradeSucceeded'], message: /2 workloads still run an older proxy/ },
    { name: 'restarts disabled: the control plane is upgraded, workloads are left to the user', input: { dataPlane: { state: 'disabled', message: '4 pods outdated' } }, phase: 'Succeeded', reason: 'UpgradeSucceeded', events: ['UpgradeSucceeded'], message: /restarts are disabled/ },
    { name: 'halted (crash loop), rollback on', input: { dataPlane: { state: 'halted', failures: [], message: 'Deployment app/web is crash-looping' } }, phase: 'RollingBack', reason: 'UpgradeRollingBack', events: ['UpgradeRollingBack'], message: /gate DataPlane failed: Deployment app\/web is crash-looping; rolling back to 1\.30\.4/ },
    { name: 'halted, rollback off', input: { rollbackOnFailure: false, dataPlane: { state: 'halted', failures: [], message: 'Deployment app/web missed its deadline' } }, phase: 'Failed', reason: 'UpgradeFailed', events: ['UpgradeFailed'], message: /gate DataPlane failed: Deployment app\/web missed its deadline/ },
  ];
  for (const row of rows) {
    const d = planUpgrade(observed({ recorded: recorded('DataPlane'), controlPlane: healthy, ...row.input }), T0 + MIN)!;
    assert.equal(d.status.phase, row.phase, row.name);
    assert.equal(d.condition.reason, row.reason, row.name);
    assert.deepEqual(d.events.map((e) => e.reason), row.events, row.name);
    assert.equal(d.record, row.phase !== 'DataPlane', row.name);
    if (row.message) assert.match(d.condition.message, row.message, row.name);
    // The data plane stage never holds the rollout it is waiting for; a failure without rollback does.
    assert.equal(d.hold !== undefined, row.phase === 'Failed' || row.phase === 'RollingBack', row.name);
  }
  const counted = planUpgrade(observed({ recorded: recorded('DataPlane'), dataPlane: { state: 'in-progress', progress: '3/8' }, workloads: { current: 3, total: 8 } }), T0)!;
  assert.deepEqual([counted.status.updatedWorkloads, counted.status.totalWorkloads], [3, 8]);
});

test('RollingBack: the previous control plane first, then the rollout back to its proxy; RolledBack keeps naming the failed gate', () => {
  const failedGate = 'gate DataPlane failed: Deployment app/web is crash-looping; rolling back to 1.30.4';
  const base = { recorded: recorded('RollingBack', { message: failedGate }) };
  const rows: Array<{ name: string; input: Partial<UpgradeObservation>; now: number; phase: string; reason: string; hold: boolean; events: string[]; message: RegExp }> = [
    { name: 'old control plane not available yet', input: { controlPlane: unhealthy }, now: T0 + MIN, phase: 'RollingBack', reason: 'UpgradeRollingBack', hold: true, events: [], message: /crash-looping; rolling back to 1\.30\.4: waiting for Deployment istio-system\/istiod/ },
    { name: 'old control plane not available within the deadline: Failed', input: { controlPlane: unhealthy }, now: T0 + 10 * MIN, phase: 'Failed', reason: 'UpgradeFailed', hold: true, events: ['UpgradeFailed'], message: /crash-looping; the rollback failed too/ },
    { name: 'workloads restarting back', input: { controlPlane: healthy, dataPlane: { state: 'in-progress', progress: '1/2' } }, now: T0 + MIN, phase: 'RollingBack', reason: 'UpgradeRollingBack', hold: false, events: [], message: /back onto the 1\.30\.4 proxy: 1\/2/ },
    { name: 'rollout back complete: RolledBack', input: { controlPlane: healthy, dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } }, now: T0 + MIN, phase: 'RolledBack', reason: 'UpgradeRolledBack', hold: false, events: ['UpgradeRolledBack'], message: /^gate DataPlane failed: Deployment app\/web is crash-looping; rolled back to 1\.30\.4: spec.version still says 1\.31\.1/ },
    { name: 'rollout back halted (a bad pod not replaced yet): wait, it resumes by itself', input: { controlPlane: healthy, dataPlane: { state: 'halted', failures: [], message: 'Deployment app/web is crash-looping' } }, now: T0 + MIN, phase: 'RollingBack', reason: 'UpgradeRollingBack', hold: false, events: [], message: /rollout back onto the 1\.30\.4 proxy is halted, waiting for it to pass until 2026-11-27T10:10:00/ },
    { name: 'rollout back still halted at the deadline: Failed', input: { controlPlane: healthy, dataPlane: { state: 'halted', failures: [], message: 'Deployment app/web is crash-looping' } }, now: T0 + 10 * MIN, phase: 'Failed', reason: 'UpgradeFailed', hold: true, events: ['UpgradeFailed'], message: /the rollback failed too: Deployment app\/web is crash-looping/ },
  ];
  for (const row of rows) {
    const d = planUpgrade(observed({ ...base, ...row.input }), row.now)!;
    assert.equal(d.status.phase, row.phase, row.name);
    assert.equal(d.condition.reason, row.reason, row.name);
    assert.equal(d.hold !== undefined, row.hold, row.name);
    assert.deepEqual(d.events.map((e) => e.reason), row.events, row.name);
    assert.match(d.condition.message, row.message, row.name);
    // The recorded message keeps the failed gate for status.upgrade, whatever the pass says.
    assert.match(d.status.message!, /^gate DataPlane failed/, row.name);
  }
});

test('final phases: nothing more happens for the same generation; Failed keeps holding the data plane; a new generation tries again from the same version', () => {
  for (const phase of ['Succeeded', 'RolledBack', 'Failed'] as const) {
    const served = phase === 'Succeeded' || phase === 'Failed' ? '1.31.1' : '1.30.4';
    const d = planUpgrade(observed({ served, recorded: recorded(phase, { message: `was ${phase}` }) }), T0 + MIN)!;
    assert.equal(d.record, false, phase);
    assert.equal(d.status.phase, phase, phase);
    assert.deepEqual(d.events, [], phase);
    assert.equal(d.condition.status, 'False', phase);
    assert.equal(d.condition.message, `was ${phase}`, phase);
    assert.equal(d.hold !== undefined, phase === 'Failed', phase);
  }
  for (const phase of ['RolledBack', 'Failed'] as const) {
    const retry = planUpgrade(observed({ generation: 3, recorded: recorded(phase) }), T0 + MIN)!;
    assert.deepEqual([retry.status.phase, retry.status.from, retry.status.generation, retry.record], ['ControlPlane', '1.30.4', 3, true], phase);
  }
  const succeeded = planUpgrade(observed({ generation: 3, served: '1.31.1', recorded: recorded('Succeeded') }), T0)!;
  assert.equal(succeeded.status.phase, 'Succeeded');
});

test('paused: the phase stays, the data plane is held, nothing is recorded; resumed, the phase clock restarts so the pause does not count against the deadline', () => {
  for (const phase of ['ControlPlane', 'DataPlane', 'RollingBack'] as const) {
    const d = planUpgrade(observed({ paused: true, recorded: recorded(phase), controlPlane: unhealthy }), T0 + 30 * MIN)!;
    assert.deepEqual([d.status.phase, d.record, d.condition.reason, d.condition.status], [phase, false, 'UpgradePaused', 'True'], phase);
    assert.ok(d.hold, phase);
  }
  // Paused 30 minutes in ControlPlane (deadline 10m), then resumed: the gate waits instead of failing.
  const resumed = planUpgrade(observed({ recorded: recorded('ControlPlane'), recordedReason: UpgradeReason.UpgradePaused, controlPlane: unhealthy }), T0 + 30 * MIN)!;
  assert.equal(resumed.status.phase, 'ControlPlane');
  assert.equal(resumed.status.phaseStartedAt, at(30 * MIN));
  assert.equal(resumed.wakeAt, T0 + 40 * MIN);
  const notPaused = planUpgrade(observed({ recorded: recorded('ControlPlane'), recordedReason: UpgradeReason.UpgradeInProgress, controlPlane: unhealthy }), T0 + 30 * MIN)!;
  assert.equal(notPaused.status.phase, 'RollingBack', 'without a pause the same wait misses the deadline');
});

test('after a restart the recorded phase continues from what the cluster shows: no new start, no second event for the same phase', () => {
  // A new process reads status.upgrade as the killed one recorded it, before or after acting.
  const cases: Array<[UpgradeStatus['phase'], Partial<UpgradeObservation>, string]> = [
    ['ControlPlane', { controlPlane: unhealthy, served: '1.31.1' }, 'ControlPlane'],
    ['ControlPlane', { controlPlane: healthy, served: '1.31.1' }, 'DataPlane'],
    ['DataPlane', { controlPlane: healthy, dataPlane: { state: 'in-progress', progress: '2/4' }, served: '1.31.1' }, 'DataPlane'],
    ['RollingBack', { controlPlane: healthy, dataPlane: { state: 'pending' }, served: '1.30.4' }, 'RollingBack'],
  ];
  for (const [phase, input, next] of cases) {
    const d = planUpgrade(observed({ recorded: recorded(phase), ...input }), T0 + MIN)!;
    assert.equal(d.status.phase, next, phase);
    assert.equal(d.status.startedAt, at(0), `${phase}: the upgrade is the same one`);
    assert.ok(!d.events.some((e) => e.reason === 'UpgradeStarted'), phase);
  }
  // A Pending record (another operator version) begins with the control plane, keeping from.
  const pending = planUpgrade(observed({ served: '1.31.1', recorded: recorded('Pending') }), T0)!;
  assert.deepEqual([pending.status.phase, pending.status.from, pending.record], ['ControlPlane', '1.30.4', true]);
});

test('versionToServe: the old version while rolling back or rolled back, spec.version otherwise', () => {
  assert.equal(versionToServe('1.31.1', undefined), '1.31.1');
  for (const phase of ['ControlPlane', 'DataPlane', 'Succeeded', 'Failed'] as const) assert.equal(versionToServe('1.31.1', recorded(phase)), '1.31.1', phase);
  for (const phase of ['RollingBack', 'RolledBack'] as const) assert.equal(versionToServe('1.31.1', recorded(phase)), '1.30.4', phase);
  assert.equal(versionToServe('1.32.0', recorded('RolledBack')), '1.32.0', 'a rollback of another target does not pin this one');
});

test('a progressDeadline the machine cannot read falls back to 10 minutes instead of failing at once', () => {
  const d = planUpgrade(observed({ progressDeadline: 'soon', recorded: recorded('ControlPlane'), controlPlane: unhealthy }), T0 + 5 * MIN)!;
  assert.equal(d.status.phase, 'ControlPlane');
});

test('Gateways: with spec.gateways the control plane\'s gate leads to Gateways (restarts still held), whose own gate leads to DataPlane; step and stepName as meshwright plan words them', () => {
  const gw = { notReady: ['Deployment istio-ingress/istio-ingressgateway'] };
  const toGateways = planUpgrade(observed({ recorded: recorded('ControlPlane'), hasGateways: true, controlPlane: healthy, gateways: gw }), T0 + MIN)!;
  assert.deepEqual([toGateways.status.phase, toGateways.status.step, toGateways.status.stepName, toGateways.record, Boolean(toGateways.hold)], ['Gateways', 3, 'Gateways', true, true]);
  assert.deepEqual(toGateways.events.map((e) => e.reason), ['UpgradeControlPlaneReady']);
  assert.equal(toGateways.status.phaseStartedAt, at(MIN));
  const rows: Array<{ name: string; gateways?: { notReady: string[] }; now: number; phase: string; record: boolean; hold: boolean; events: string[]; message?: RegExp }> = [
    { name: 'not applied yet', now: T0 + 2 * MIN, phase: 'Gateways', record: false, hold: true, events: [], message: /waiting for the gateways to be applied/ },
    { name: 'gateway not available yet', gateways: gw, now: T0 + 9 * MIN, phase: 'Gateways', record: false, hold: true, events: [], message: /istio-ingressgateway not available yet/ },
    { name: 'available: DataPlane, restarts may start', gateways: healthy, now: T0 + 2 * MIN, phase: 'DataPlane', record: true, hold: false, events: ['UpgradeGatewaysReady'] },
    { name: 'deadline missed: RollingBack naming the Gateways gate', gateways: gw, now: T0 + 11 * MIN, phase: 'RollingBack', record: true, hold: true, events: ['UpgradeRollingBack'], message: /gate Gateways failed: Deployment istio-ingress\/istio-ingressgateway not available within spec.upgrade.progressDeadline \(10m\)/ },
  ];
  for (const row of rows) {
    const d = planUpgrade(observed({ recorded: toGateways.status, hasGateways: true, controlPlane: healthy, gateways: row.gateways }), row.now)!;
    assert.equal(d.status.phase, row.phase, row.name);
    assert.equal(d.record, row.record, row.name);
    assert.equal(Boolean(d.hold), row.hold, row.name);
    assert.deepEqual(d.events.map((e) => e.reason), row.events, row.name);
    if (row.message) assert.match(d.status.message!, row.message, row.name);
  }
  const dataPlane = planUpgrade(observed({ recorded: toGateways.status, hasGateways: true, controlPlane: healthy, gateways: healthy }), T0 + 2 * MIN)!;
  assert.deepEqual([dataPlane.status.step, dataPlane.status.stepName], [4, 'Data plane']);
  const done = planUpgrade(observed({ recorded: dataPlane.status, dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } }), T0 + 3 * MIN)!;
  assert.deepEqual([done.status.phase, done.status.step, done.status.totalSteps, done.status.stepName], ['Succeeded', 5, 5, 'Succeeded']);
});

test('without gateways the control plane\'s gate leads straight to DataPlane (the plan\'s Gateways step has nothing to wait for)', () => {
  const d = planUpgrade(observed({ recorded: recorded('ControlPlane'), hasGateways: false, controlPlane: healthy }), T0 + MIN)!;
  assert.deepEqual([d.status.phase, d.status.stepName, d.hold], ['DataPlane', 'Data plane', undefined]);
});

test('rolling back waits for the previous version\'s gateways as well as its control plane; the step says it is a rollback', () => {
  const back = recorded('RollingBack', { message: 'gate DataPlane failed: crash; rolling back to 1.30.4' });
  const waiting = planUpgrade(observed({ recorded: back, controlPlane: healthy, gateways: { notReady: ['Deployment istio-ingress/gw'] } }), T0 + MIN)!;
  assert.equal(waiting.status.phase, 'RollingBack');
  assert.match(waiting.condition.message, /waiting for Deployment istio-ingress\/gw/);
  const done = planUpgrade(observed({ recorded: back, controlPlane: healthy, gateways: healthy, dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } }), T0 + MIN)!;
  assert.deepEqual([done.status.phase, done.status.step, done.status.stepName], ['RolledBack', undefined, 'rolled back to 1.30.4']);
});

test('upgradeStall: a RolledBack or Failed upgrade to the version spec names stalls the installation; a spec naming another version, or an upgrade under way or succeeded, does not', () => {
  const rolledBack = recorded('RolledBack', { message: 'gate DataPlane failed: crash; rolled back to 1.30.4' });
  assert.deepEqual(upgradeStall(rolledBack, '1.31.1'), { reason: 'UpgradeRolledBack', message: 'upgrade 1.30.4 -> 1.31.1 RolledBack: gate DataPlane failed: crash; rolled back to 1.30.4' });
  assert.equal(upgradeStall(recorded('Failed', { message: 'm' }), '1.31.1')?.reason, 'UpgradeFailed');
  for (const [name, upgrade, wanted] of [
    ['spec back on the old version', rolledBack, '1.30.4'],
    ['spec on a newer version', rolledBack, '1.32.0'],
    ['rolling back still (in progress, not stalled)', recorded('RollingBack'), '1.31.1'],
    ['succeeded', recorded('Succeeded'), '1.31.1'],
    ['no upgrade', undefined, '1.31.1'],
  ] as const) assert.equal(upgradeStall(upgrade, wanted), undefined, name);
});

test('injectorBehind: restarts wait while the served spec (what the injection webhook injects) names another version or strategy than the one being served', () => {
  const InPlace = 'InPlace';
  for (const [name, served, serving, behind] of [
    ['the first pass after a kill: 1.31.1 not recorded as served yet', { version: '1.30.4', strategy: InPlace }, { version: '1.31.1', strategy: InPlace }, true],
    ['recorded', { version: '1.31.1', strategy: InPlace }, { version: '1.31.1', strategy: InPlace }, false],
    ['the first pass serving `from` again (rolling back)', { version: '1.31.1', strategy: InPlace }, { version: '1.30.4', strategy: InPlace }, true],
    ['a strategy switch renames the revision', { version: '1.30.4', strategy: InPlace }, { version: '1.30.4', strategy: 'Canary' }, true],
    ['a first install (nothing served, no previous proxy)', undefined, { version: '1.31.1', strategy: InPlace }, false],
  ] as const) assert.equal(injectorBehind(served, serving), behind, name);
});

test('Canary runs the same machine as a canary of one step: the new revision beside the old, then every namespace at once; steps named as meshwright plan names them, the unhonoured canary steps said', () => {
  const revisions = { old: '1-30-4', new: '1-31-1' };
  const start = planUpgrade(observed({ strategy: 'Canary', revisions }), T0)!;
  assert.deepEqual([start.status.strategy, start.status.phase, start.status.step, start.status.totalSteps, start.status.stepName], ['Canary', 'ControlPlane', 2, 6, 'New revision 1-31-1 side by side with 1-30-4']);
  assert.match(start.events[0]!.message, /^Canary upgrade 1\.30\.4 -> 1\.31\.1 started/);
  const moving = planUpgrade(observed({ strategy: 'Canary', revisions, recorded: start.status, controlPlane: healthy }), T0 + MIN)!;
  assert.deepEqual([moving.status.phase, moving.status.step, moving.status.stepName, moving.hold], ['DataPlane', 3, 'Canary', undefined]);
  const done = planUpgrade(observed({ strategy: 'Canary', revisions, recorded: moving.status, dataPlane: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] } }), T0 + 2 * MIN)!;
  assert.deepEqual([done.status.phase, done.status.step, done.status.stepName], ['Succeeded', 6, 'Succeeded']);
  assert.match(done.status.message!, /revision 1-30-4 is removed once no namespace and no running pod uses it/);
  // An InPlace upgrade recorded for the same version is not this one: a strategy change starts anew.
  assert.equal(planUpgrade(observed({ strategy: 'Canary', revisions, recorded: recorded('DataPlane') }), T0)!.status.strategy, 'Canary');
  assert.equal(versionToServe('1.31.1', { ...start.status, phase: 'RollingBack' }), '1.30.4', 'a Canary rollback serves from, whose revision the namespaces go back to');
});
