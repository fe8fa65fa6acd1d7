import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConditionType, findCondition, formatConditionTime, mergeConditions, setCondition, summarize,
  withSummary, type ConditionUpdate,
} from './conditions.ts';
import type { Condition } from './status.ts';

/** A fixed clock the test moves by hand; it counts how often it was read. */
function clock(start: string) {
  let current = start;
  let reads = 0;
  const now = () => {
    reads++;
    return new Date(current);
  };
  return Object.assign(now, { set: (time: string) => { current = time; }, reads: () => reads });
}

const T0 = '2026-03-01T10:00:00Z';
const T1 = '2026-03-01T10:05:00Z';
const T2 = '2026-03-01T10:09:00Z';

const update = (type: string, status: ConditionUpdate['status'], reason = 'Because', message = '', observedGeneration = 1): ConditionUpdate =>
  ({ type, status, reason, message, observedGeneration });

const condition = (type: string, status: Condition['status'], observedGeneration = 1, reason = 'Because', message = ''): Condition =>
  ({ type, status, observedGeneration, lastTransitionTime: T0, reason, message });

test('a new condition gets the current time, in whole seconds like metav1.Time', () => {
  const conditions = setCondition(undefined, update('ControlPlaneReady', 'False', 'Installing', 'istiod starting'), () => new Date('2026-03-01T10:00:00.789Z'));
  assert.deepEqual(conditions, [{
    type: 'ControlPlaneReady', status: 'False', observedGeneration: 1,
    lastTransitionTime: '2026-03-01T10:00:00Z', reason: 'Installing', message: 'istiod starting',
  }]);
  assert.equal(formatConditionTime(new Date('2026-03-01T10:00:59.999Z')), '2026-03-01T10:00:59Z');
});

test('lastTransitionTime stays when only reason, message or observedGeneration change', () => {
  const now = clock(T0);
  let conditions = setCondition([], update('Ready', 'False', 'Installing', 'step 1', 1), now);
  now.set(T1);
  conditions = setCondition(conditions, update('Ready', 'False', 'WaitingForGateways', 'step 2', 2), now);
  assert.deepEqual(findCondition(conditions, 'Ready'), {
    type: 'Ready', status: 'False', observedGeneration: 2, lastTransitionTime: T0, reason: 'WaitingForGateways', message: 'step 2',
  });
});

test('lastTransitionTime moves when the status flips, and again when it flips back', () => {
  const now = clock(T0);
  let conditions = setCondition([], update('Ready', 'False'), now);
  now.set(T1);
  conditions = setCondition(conditions, update('Ready', 'True'), now);
  assert.equal(findCondition(conditions, 'Ready')!.lastTransitionTime, T1);
  now.set(T2);
  conditions = setCondition(conditions, update('Ready', 'True', 'Still'), now);
  assert.equal(findCondition(conditions, 'Ready')!.lastTransitionTime, T1, 'no flip, no move');
  conditions = setCondition(conditions, update('Ready', 'Unknown'), now);
  assert.equal(findCondition(conditions, 'Ready')!.lastTransitionTime, T2);
});

test('setCondition keeps order, replaces in place, appends new types, and never mutates its input', () => {
  const input = [condition('Ready', 'False'), condition('Stalled', 'False')];
  const frozen = structuredClone(input);
  const output = setCondition(input, update('Ready', 'True'), () => new Date(T1));
  assert.deepEqual(input, frozen);
  assert.deepEqual(output.map((c) => c.type), ['Ready', 'Stalled']);
  const appended = setCondition(output, update('Upgrading', 'True'), () => new Date(T1));
  assert.deepEqual(appended.map((c) => c.type), ['Ready', 'Stalled', 'Upgrading']);
});

test('an unchanged update yields an identical list, so the operator writes nothing', () => {
  const input = [condition('Ready', 'True', 3, 'Succeeded', 'ok')];
  const now = clock(T2);
  assert.deepEqual(setCondition(input, update('Ready', 'True', 'Succeeded', 'ok', 3), now), input);
  assert.equal(now.reads(), 0, 'no transition, so the clock is not even read');
});

test('mergeConditions applies updates in order', () => {
  const merged = mergeConditions([condition('Ready', 'False')], [update('Ready', 'True'), update('Stalled', 'False'), update('Ready', 'True', 'Final')], () => new Date(T1));
  assert.deepEqual(merged.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]), [['Ready', 'True', 'Final', T1], ['Stalled', 'False', 'Because', T1]]);
});

const healthy = (generation: number) => [
  condition(ConditionType.ControlPlaneReady, 'True', generation),
  condition(ConditionType.CertificateAuthorityReady, 'True', generation),
  condition(ConditionType.DataPlaneReady, 'True', generation),
];

/** The kstatus trio as [type, status, reason] for compact assertions. */
const trio = (updates: ConditionUpdate[]) => updates.map((u) => [u.type, u.status, u.reason]);

test('summarize: all domain conditions True for this generation gives Ready=True, Reconciling=False, Stalled=False', () => {
  const updates = summarize({ generation: 7, conditions: healthy(7) });
  assert.deepEqual(trio(updates), [['Stalled', 'False', 'Succeeded'], ['Reconciling', 'False', 'Succeeded'], ['Ready', 'True', 'Succeeded']]);
  assert.ok(updates.every((u) => u.observedGeneration === 7));
});

test('summarize: domain conditions from an older generation do not count (a new spec is not ready yet)', () => {
  const updates = summarize({ generation: 8, conditions: healthy(7) });
  assert.deepEqual(trio(updates), [['Stalled', 'False', 'Progressing'], ['Reconciling', 'True', 'Progressing'], ['Ready', 'Unknown', 'Progressing']]);
  assert.match(updates[2]!.message, /ControlPlaneReady not yet determined for generation 8/);
});

test('summarize: a False readiness condition makes Ready False with its reason, even if another is merely pending', () => {
  const conditions = [
    condition(ConditionType.ControlPlaneReady, 'Unknown', 2, 'Installing', 'istiod starting'),
    condition(ConditionType.CertificateAuthorityReady, 'True', 2),
    condition(ConditionType.DataPlaneReady, 'False', 2, 'CrashLooping', 'checkout/api: 2 pods in CrashLoopBackOff'),
  ];
  const updates = summarize({ generation: 2, conditions });
  assert.deepEqual(trio(updates), [['Stalled', 'False', 'Progressing'], ['Reconciling', 'True', 'CrashLooping'], ['Ready', 'False', 'CrashLooping']]);
  assert.equal(updates[2]!.message, 'DataPlaneReady: checkout/api: 2 pods in CrashLoopBackOff');
});

test('summarize: an upgrade under way is Reconciling=True and Ready=Unknown even when everything is available', () => {
  const conditions = [...healthy(3), condition(ConditionType.Upgrading, 'True', 3, 'DataPlane', '1.30.4 -> 1.31.1: 12/40 workloads')];
  const updates = summarize({ generation: 3, conditions });
  assert.deepEqual(trio(updates), [['Stalled', 'False', 'Progressing'], ['Reconciling', 'True', 'DataPlane'], ['Ready', 'Unknown', 'DataPlane']]);
  const finished = [...healthy(3), condition(ConditionType.Upgrading, 'False', 3, 'Succeeded')];
  assert.equal(summarize({ generation: 3, conditions: finished })[2]!.status, 'True');
});

test('summarize: a transient failure of the pass is shown while it lasts — Ready=False and Reconciling=True with its reason, not Stalled — even when every component is available', () => {
  const updates = summarize({ generation: 7, conditions: healthy(7), failed: { reason: 'WriteForbidden', message: 'the operator may not apply ConfigMap mesh/x' } });
  assert.deepEqual(trio(updates), [['Stalled', 'False', 'Progressing'], ['Reconciling', 'True', 'WriteForbidden'], ['Ready', 'False', 'WriteForbidden']]);
  assert.equal(updates.find((u) => u.type === 'Reconciling')?.message, 'the operator may not apply ConfigMap mesh/x');
});

test('summarize: stalled wins, and is kstatus-consistent (Stalled=True, Reconciling=False, Ready=False)', () => {
  const updates = summarize({
    generation: 5,
    conditions: healthy(5),
    stalled: { reason: 'UnsupportedVersion', message: 'version 1.99.0 is not in the catalog; supported: 1.30.4, 1.31.1' },
  });
  assert.deepEqual(trio(updates), [['Stalled', 'True', 'UnsupportedVersion'], ['Reconciling', 'False', 'Stalled'], ['Ready', 'False', 'UnsupportedVersion']]);
  assert.match(updates[2]!.message, /supported: 1\.30\.4, 1\.31\.1/);
});

test('summarize: paused stops Reconciling but still reports readiness', () => {
  const pending = summarize({ generation: 2, conditions: healthy(1), paused: true });
  assert.deepEqual(trio(pending), [['Stalled', 'False', 'Paused'], ['Reconciling', 'False', 'Paused'], ['Ready', 'Unknown', 'Progressing']]);
  assert.match(pending[2]!.message, /\(reconciliation paused\)$/);
  const ready = summarize({ generation: 1, conditions: healthy(1), paused: true });
  assert.deepEqual(trio(ready), [['Stalled', 'False', 'Succeeded'], ['Reconciling', 'False', 'Paused'], ['Ready', 'True', 'Succeeded']]);
});

test('withSummary over two reconciles: Ready flips once, its lastTransitionTime records the flip only', () => {
  const now = clock(T1);
  const first = withSummary({ generation: 1, conditions: [condition(ConditionType.ControlPlaneReady, 'False', 1, 'Installing')] }, now);
  assert.deepEqual(first.map((c) => [c.type, c.status, c.lastTransitionTime]), [
    ['ControlPlaneReady', 'False', T0], ['Stalled', 'False', T1], ['Reconciling', 'True', T1], ['Ready', 'False', T1],
  ]);
  now.set(T2);
  const domain = mergeConditions(first, [
    update(ConditionType.ControlPlaneReady, 'True'), update(ConditionType.CertificateAuthorityReady, 'True'), update(ConditionType.DataPlaneReady, 'True'),
  ], now);
  const second = withSummary({ generation: 1, conditions: domain }, now);
  const ready = findCondition(second, 'Ready')!;
  assert.equal(ready.status, 'True');
  assert.equal(ready.lastTransitionTime, T2);
  assert.equal(findCondition(second, 'Stalled')!.lastTransitionTime, T1, 'Stalled stayed False: its time is untouched');
  assert.equal(findCondition(second, 'Reconciling')!.status, 'False');
  assert.equal(findCondition(second, 'Reconciling')!.lastTransitionTime, T2);
});
