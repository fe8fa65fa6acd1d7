/**
 * planRollout, row by row, on a fixed clock: what is outdated, which batch starts, the health gate
 * (crash loop, not Ready, deadline), halting, opt-out, disabled restarts, recovery from the
 * cluster alone after a lost status write, and bad settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBatch, planRollout, unavailabilityBudget, type ObservedPod, type ObservedWorkload, type RolloutObservation, type RolloutStatus } from './plan.ts';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();
const TARGET = '1.31.1-0a1b2c3d4e5f';
const OLD = '1.30.4-0a1b2c3d4e5f';
const settings = { enabled: true, maxUnavailable: '25%' as number | string, batchInterval: '30s', progressDeadline: '10m' };

const pods = (n: number, state: Partial<ObservedPod> = {}): ObservedPod[] =>
  Array.from({ length: n }, (_, i) => ({ name: `p${i}`, outdated: false, ready: true, crashLooping: false, ...state }));

function workload(name: string, extra: Partial<ObservedWorkload> = {}, kind: ObservedWorkload['kind'] = 'Deployment'): ObservedWorkload {
  return { kind, namespace: 'shop', name, rollout: { state: 'complete' }, pods: pods(1), ...extra };
}
const outdated = (name: string, n = 1, extra: Partial<ObservedWorkload> = {}) => workload(name, { pods: pods(n, { outdated: true }), ...extra });
const restarted = (name: string, restartedAt: string, extra: Partial<ObservedWorkload> = {}) => workload(name, { restartedFor: TARGET, restartedAt, ...extra });

function observe(workloads: ObservedWorkload[], extra: Partial<RolloutObservation> = {}): RolloutObservation {
  return { target: TARGET, settings, workloads, barePods: [], ...extra };
}

function previous(extra: Partial<RolloutStatus>): RolloutStatus {
  return { target: TARGET, phase: 'Restarting', progress: '0/0', workloads: { total: 0, current: 0, outdated: 0, restarting: 0, skipped: 0, failed: 0 }, message: '', ...extra };
}

test('the unavailability budget: a count, a percentage of the pods rounded down but at least 1, and bad input as a message', () => {
  assert.equal(unavailabilityBudget(3, 100), 3);
  assert.equal(unavailabilityBudget('25%', 40), 10);
  assert.equal(unavailabilityBudget('25%', 7), 1, '1.75 rounds down to 1');
  assert.equal(unavailabilityBudget('10%', 3), 1, 'never below 1');
  assert.equal(unavailabilityBudget('100%', 5), 5);
  assert.equal(unavailabilityBudget('2', 5), 2, 'an integer as a string is a count');
  assert.throws(() => unavailabilityBudget('abc', 5), /maxUnavailable "abc" is neither a count/);
  assert.throws(() => unavailabilityBudget(0, 5), /not a count of at least 1/);
  assert.throws(() => unavailabilityBudget('150%', 5), /neither a count/);
});

test('a batch takes workloads in order while their pods fit; one bigger than the whole budget goes alone', () => {
  const names = (batch: ObservedWorkload[]) => batch.map((w) => `${w.namespace}/${w.name}`);
  const shop = [outdated('c', 2), outdated('a', 1), outdated('b', 2)];
  assert.deepEqual(names(nextBatch(shop, 3)), ['shop/a', 'shop/b'], 'a (1) + b (2) = 3; c would exceed');
  assert.deepEqual(names(nextBatch([outdated('big', 10), outdated('small', 1)], 3)), ['shop/big'], 'first in order, too big: alone');
  assert.deepEqual(names(nextBatch([outdated('a', 1), outdated('big', 10)], 3)), ['shop/a'], 'a big one waits for its own batch');
  const mixed = [{ ...outdated('x'), namespace: 'b' }, { ...outdated('y'), kind: 'StatefulSet' as const, namespace: 'a' }, { ...outdated('z'), namespace: 'a' }];
  assert.deepEqual(nextBatch(mixed, 10).map((w) => `${w.kind} ${w.namespace}/${w.name}`), ['Deployment a/z', 'StatefulSet a/y', 'Deployment b/x'], 'namespace, then kind, then name');
});

/** One row: the observation, the previous status, and what the plan must say. */
interface Row {
  name: string;
  workloads: ObservedWorkload[];
  extra?: Partial<RolloutObservation>;
  phase: RolloutStatus['phase'] | 'none';
  restart?: string[];
  counts?: Partial<RolloutStatus['workloads']>;
  failures?: Array<[string, string]>;
  condition?: string | undefined;
  events?: string[];
  wakeAt?: number;
  batch?: number;
  message?: RegExp;
}

const rows: Row[] = [
  { name: 'no injected pod: no rollout at all', workloads: [], phase: 'none' },
  {
    name: 'every pod current: Complete, nothing restarted, no condition of its own',
    workloads: [workload('a'), workload('b', { pods: pods(3) })], phase: 'Complete', restart: [],
    counts: { total: 2, current: 2, outdated: 0 }, condition: undefined, events: [],
  },
  {
    name: 'outdated workloads, first batch: starts at once within 25% of 8 pods (2)',
    workloads: [outdated('a', 1), outdated('b', 1), outdated('c', 2), workload('d', { pods: pods(4) })],
    phase: 'Restarting', restart: ['Deployment shop/a', 'Deployment shop/b'], counts: { total: 4, current: 1, outdated: 1, restarting: 2 },
    condition: 'RolloutInProgress', events: ['RolloutBatchStarted'], batch: 1, wakeAt: NOW + 600_000,
  },
  {
    name: 'a workload restarted for another target is outdated again',
    workloads: [outdated('a', 1, { restartedFor: OLD, restartedAt: at(-3_600_000) })],
    phase: 'Restarting', restart: ['Deployment shop/a'], batch: 1,
  },
  {
    name: 'a batch in flight (restarted for the target, rollout not complete): Restarting, no new batch, wake at its deadline',
    workloads: [restarted('a', at(-60_000), { rollout: { state: 'progressing', message: '0 of 1 updated replicas available' }, pods: pods(1, { ready: false }) }), outdated('b')],
    extra: { previous: previous({ batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-60_000) } }) },
    phase: 'Restarting', restart: [], counts: { restarting: 1, outdated: 1 }, events: [], batch: 1, wakeAt: NOW - 60_000 + 600_000,
  },
  {
    name: 'the batch passed the gate: completed now, the next waits batchInterval',
    workloads: [restarted('a', at(-60_000)), outdated('b')],
    extra: { previous: previous({ batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-60_000) } }) },
    phase: 'Waiting', restart: [], counts: { current: 1, outdated: 1 }, condition: 'RolloutInProgress', events: ['RolloutBatchCompleted'], batch: 1, wakeAt: NOW + 30_000,
  },
  {
    name: 'batchInterval over since the last batch completed: the next batch starts',
    workloads: [restarted('a', at(-60_000)), outdated('b')],
    extra: { previous: previous({ phase: 'Waiting', batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-60_000) }, lastBatchCompletedAt: at(-30_000) }) },
    phase: 'Restarting', restart: ['Deployment shop/b'], events: ['RolloutBatchStarted'], batch: 2,
  },
  {
    name: 'a new pod crash-looping: Halted, CrashLoop, no further batch',
    workloads: [restarted('a', at(-20_000), { rollout: { state: 'progressing', message: '0 of 1 updated replicas available' }, pods: [...pods(1, { outdated: true }), { name: 'new', outdated: false, ready: false, crashLooping: true }] }), outdated('b')],
    extra: { previous: previous({ batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-20_000) } }) },
    phase: 'Halted', restart: [], failures: [['Deployment shop/a', 'CrashLoop']], condition: 'RolloutHalted', events: ['RolloutHalted'], counts: { failed: 1, outdated: 1 },
    message: /fix these workloads .* or roll back/,
  },
  {
    name: 'pods not Ready past the progress deadline: Halted, NotReady',
    workloads: [restarted('a', at(-700_000), { rollout: { state: 'progressing', message: '1 of 2 updated replicas available' }, pods: [...pods(1), { name: 'slow', outdated: false, ready: false, crashLooping: false }] })],
    phase: 'Halted', failures: [['Deployment shop/a', 'NotReady']], condition: 'RolloutHalted',
  },
  {
    name: 'pods Ready but the rollout not complete past the deadline: ProgressDeadlineExceeded',
    workloads: [restarted('a', at(-700_000), { rollout: { state: 'progressing', message: '1 old replicas pending termination' } })],
    phase: 'Halted', failures: [['Deployment shop/a', 'ProgressDeadlineExceeded']],
  },
  {
    name: 'the Deployment\'s own progress deadline exceeded: ProgressDeadlineExceeded before ours',
    workloads: [restarted('a', at(-10_000), { rollout: { state: 'failed', message: 'exceeded its progress deadline' }, pods: pods(1, { ready: false }) })],
    phase: 'Halted', failures: [['Deployment shop/a', 'ProgressDeadlineExceeded']],
  },
  {
    name: 'a halt already reported stays Halted (sticky) without a second Warning while the workload is still on its way',
    workloads: [restarted('a', at(-20_000), { rollout: { state: 'progressing', message: '0 of 1 updated replicas available' }, pods: pods(1, { ready: false }) })],
    extra: { previous: previous({ phase: 'Halted', failures: [{ workload: 'Deployment shop/a', reason: 'CrashLoop', message: 'crash' }], batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-20_000) } }) },
    phase: 'Halted', failures: [['Deployment shop/a', 'CrashLoop']], events: [],
  },
  {
    name: 'a halted workload fixed (passes the gate): the rollout resumes, the batch completes',
    workloads: [restarted('a', at(-20_000)), outdated('b')],
    extra: { settings: { ...settings, batchInterval: '0s' }, previous: previous({ phase: 'Halted', failures: [{ workload: 'Deployment shop/a', reason: 'CrashLoop', message: 'crash' }], batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-20_000) } }) },
    phase: 'Restarting', restart: ['Deployment shop/b'], events: ['RolloutBatchCompleted', 'RolloutBatchStarted'], batch: 2,
  },
  {
    name: 'opted out: skipped; not restartable here: outdated, left to a person; neither restarted, the rest is Complete',
    workloads: [outdated('legacy', 1, { optedOut: true }), outdated('ondelete', 1, { notRestartable: 'updateStrategy OnDelete replaces pods only when they are deleted' }), workload('a')],
    phase: 'Complete', restart: [], counts: { total: 3, current: 1, skipped: 1, outdated: 1 },
    message: /1 workload skipped \(Deployment shop\/legacy: opted out .*; 1 outdated workload left for you to restart \(Deployment shop\/ondelete: updateStrategy OnDelete/,
  },
  {
    name: 'restarts disabled: Disabled, the outdated reported, RestartsDisabled counting pods',
    workloads: [outdated('a', 3), workload('b')],
    extra: { settings: { ...settings, enabled: false } },
    phase: 'Disabled', restart: [], counts: { outdated: 1, current: 1 }, condition: 'RestartsDisabled', message: /restarts are disabled/,
  },
  {
    name: 'restarts disabled with only skipped workloads and bare pods outdated: still Disabled, RestartsDisabled counting their pods',
    workloads: [outdated('legacy', 2, { optedOut: true }), workload('b')],
    extra: { settings: { ...settings, enabled: false }, barePods: ['shop/bare'] },
    phase: 'Disabled', restart: [], condition: 'RestartsDisabled', message: /no workload the operator would restart is outdated/,
  },
  {
    name: 'restarts disabled and nothing outdated: Complete',
    workloads: [workload('a')],
    extra: { settings: { ...settings, enabled: false } },
    phase: 'Complete', restart: [], condition: undefined,
  },
  {
    name: 'a bad maxUnavailable: Halted with a message naming it, nothing restarted',
    workloads: [outdated('a')],
    extra: { settings: { ...settings, maxUnavailable: 'lots' } },
    phase: 'Halted', restart: [], condition: 'RolloutHalted', message: /maxUnavailable "lots"/,
  },
  {
    name: 'held (control plane not ready): Waiting, nothing restarted',
    workloads: [outdated('a')],
    extra: { hold: 'waiting for the control plane' },
    phase: 'Waiting', restart: [], condition: 'RolloutInProgress', message: /held: waiting for the control plane/,
  },
  {
    name: 'bare pods and Job pods only: reported, never restarted',
    workloads: [workload('a')],
    extra: { barePods: ['shop/bare'], otherPods: { total: 2, outdated: 1 } },
    phase: 'Complete', restart: [], message: /1 outdated pod without a controller .*shop\/bare.*; 1 outdated pod of Jobs/,
  },
  {
    name: 'the last batch complete and everything current: Complete, RolloutComplete Event',
    workloads: [restarted('a', at(-60_000)), restarted('b', at(-200_000))],
    extra: { previous: previous({ batch: { number: 2, workloads: ['Deployment shop/a'], startedAt: at(-60_000) }, lastBatchCompletedAt: at(-100_000) }) },
    phase: 'Complete', events: ['RolloutBatchCompleted', 'RolloutComplete'], counts: { current: 2 }, batch: 2,
  },
];

for (const row of rows) {
  test(`plan: ${row.name}`, () => {
    const plan = planRollout(observe(row.workloads, row.extra), NOW);
    if (row.phase === 'none') {
      assert.equal(plan.status, undefined);
      assert.deepEqual(plan.restart, []);
      return;
    }
    assert.equal(plan.phase, row.phase);
    assert.equal(plan.status?.phase, row.phase);
    if (row.restart) assert.deepEqual(plan.restart.map((w) => `${w.kind} ${w.namespace}/${w.name}`), row.restart);
    if (row.counts) for (const [key, value] of Object.entries(row.counts)) assert.equal(plan.status!.workloads[key as keyof RolloutStatus['workloads']], value, key);
    if (row.failures) assert.deepEqual(plan.failures.map((f) => [f.workload, f.reason]), row.failures);
    if ('condition' in row) assert.equal(plan.condition?.reason, row.condition);
    if (row.events) assert.deepEqual(plan.events.map((e) => e.reason), row.events);
    if (row.wakeAt !== undefined) assert.equal(plan.wakeAt, row.wakeAt);
    if (row.batch !== undefined) assert.equal(plan.status?.batch?.number, row.batch);
    if (row.message) assert.match(plan.status!.message, row.message);
    assert.equal(plan.status!.progress, `${plan.status!.workloads.current}/${plan.status!.workloads.total}`);
  });
}

test('a started batch stamps one restartedAt (ms precision) and the status records it as the batch', () => {
  const plan = planRollout(observe([outdated('a'), outdated('b'), workload('c', { pods: pods(6) })]), NOW);
  assert.equal(plan.restartedAt, at(0));
  assert.deepEqual(plan.status?.batch, { number: 1, workloads: ['Deployment shop/a', 'Deployment shop/b'], startedAt: at(0) });
  assert.equal(plan.status?.progress, '1/3');
});

test('killed between the restart patch and the status write: the next plan finds the batch in the cluster and restarts nothing twice', () => {
  // Batch 2 was patched (b at -5 s) but its status never written: status still says batch 1.
  const lost = previous({ phase: 'Waiting', batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-120_000) }, lastBatchCompletedAt: at(-60_000) });
  const cluster = [
    restarted('a', at(-120_000)),
    restarted('b', at(-5_000), { rollout: { state: 'progressing', message: '0 of 1 updated replicas available' }, pods: pods(1, { outdated: true }) }),
    outdated('c'),
  ];
  const plan = planRollout(observe(cluster, { settings: { ...settings, batchInterval: '0s' }, previous: lost }), NOW);
  assert.equal(plan.phase, 'Restarting');
  assert.deepEqual(plan.restart, [], 'b is in flight: c waits, b is not restarted again');
  assert.deepEqual(plan.status?.batch, { number: 2, workloads: ['Deployment shop/b'], startedAt: at(-5_000) });
  assert.equal(plan.wakeAt, NOW - 5_000 + 600_000, 'the deadline counts from the restartedAt annotation');
  // Even with no status at all, a workload restarted for the target is never restarted again.
  const fresh = planRollout(observe([restarted('a', at(-5_000), { pods: pods(1, { outdated: true }), rollout: { state: 'progressing', message: 'x' } })]), NOW);
  assert.deepEqual(fresh.restart, []);
  assert.equal(fresh.status?.batch?.number, 1);
});

test('batchInterval 0s: the pass that records batch 1 complete starts batch 2 at the same instant, and the next pass gates batch 2 instead of starting batch 3', () => {
  const zero = { ...settings, maxUnavailable: 1, batchInterval: '0s' };
  // Pass at T: batch 1 (a) passed its gate; b and c still outdated.
  const first = planRollout(observe([restarted('a', at(-10_000)), outdated('b'), outdated('c')], {
    settings: zero, previous: previous({ batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-10_000) } }),
  }), NOW);
  assert.deepEqual(first.restart.map((w) => w.name), ['b']);
  assert.equal(first.status?.lastBatchCompletedAt, at(0));
  assert.equal(first.restartedAt, at(0), 'batch 2 is stamped with the very instant batch 1 was recorded complete');
  // Next pass, 300 ms later: b's new pod is not Ready yet. Its batch is in flight: c must wait.
  const second = planRollout(observe([
    restarted('a', at(-10_000)),
    restarted('b', at(0), { rollout: { state: 'progressing', message: '0 of 1 updated replicas available' }, pods: pods(1, { ready: false }) }),
    outdated('c'),
  ], { settings: zero, previous: first.status }), NOW + 300);
  assert.deepEqual(second.restart, [], 'batch 3 does not start while batch 2 is not through its gate');
  assert.equal(second.phase, 'Restarting');
  assert.equal(second.status?.batch?.number, 2);
  assert.equal(second.status?.lastBatchCompletedAt, at(0), 'batch 2 is not recorded complete');
});

test('a workload that passed the gate in an earlier batch is not judged again (a later scale-up is not a failure)', () => {
  const plan = planRollout(observe([restarted('a', at(-3_600_000), { rollout: { state: 'progressing', message: '2 of 3 updated replicas available' }, pods: [...pods(2), { name: 'scaled', outdated: false, ready: false, crashLooping: false }] })], {
    previous: previous({ phase: 'Complete', batch: { number: 1, workloads: ['Deployment shop/a'], startedAt: at(-3_600_000) }, lastBatchCompletedAt: at(-3_500_000) }),
  }), NOW);
  assert.equal(plan.phase, 'Complete');
  assert.deepEqual(plan.failures, []);
});

test('a target change starts over: the batch number from 1, the old target\'s failures forgotten', () => {
  const plan = planRollout(observe([outdated('a', 1, { restartedFor: OLD, restartedAt: at(-60_000) })], {
    previous: previous({ target: OLD, phase: 'Halted', failures: [{ workload: 'Deployment shop/a', reason: 'CrashLoop', message: 'x' }], batch: { number: 4, workloads: ['Deployment shop/a'], startedAt: at(-60_000) } }),
  }), NOW);
  assert.equal(plan.phase, 'Restarting');
  assert.equal(plan.status?.batch?.number, 1);
  assert.deepEqual(plan.restart.map((w) => w.name), ['a']);
});

test('a workload restarted for the target with no injected pod in sight (old pods gone, new ones not yet there) keeps its batch in flight', () => {
  const plan = planRollout(observe([restarted('solo', at(-2_000), { rollout: { state: 'progressing', message: '0 of 1 new replicas updated' }, pods: [] }), outdated('next')], {
    settings: { ...settings, batchInterval: '0s' },
    previous: previous({ batch: { number: 1, workloads: ['Deployment shop/solo'], startedAt: at(-2_000) } }),
  }), NOW);
  assert.equal(plan.phase, 'Restarting');
  assert.deepEqual(plan.restart, [], 'the next batch waits for solo');
  assert.equal(plan.status?.workloads.restarting, 1);
  // Alone, too: the rollout is still shown, not dropped as "no proxy runs".
  const alone = planRollout(observe([restarted('solo', at(-2_000), { rollout: { state: 'progressing', message: 'x' }, pods: [] })]), NOW);
  assert.equal(alone.status?.phase, 'Restarting');
});

test('golden: the whole status of a pass that starts batch 2, with a skipped workload and a bare pod', () => {
  const plan = planRollout(observe([
    restarted('api', at(-120_000)),
    outdated('cart', 2),
    outdated('web', 3),
    outdated('legacy', 1, { optedOut: true }),
    workload('db', { kind: 'StatefulSet', pods: pods(2) }),
  ], {
    settings: { ...settings, maxUnavailable: 2 },
    barePods: ['shop/debug'],
    previous: previous({ phase: 'Waiting', batch: { number: 1, workloads: ['Deployment shop/api'], startedAt: at(-120_000) }, lastBatchCompletedAt: at(-60_000) }),
  }), NOW);
  assert.deepEqual(plan.status, {
    target: TARGET,
    phase: 'Restarting',
    progress: '2/5',
    workloads: { total: 5, current: 2, outdated: 1, restarting: 1, skipped: 1, failed: 0 },
    batch: { number: 2, workloads: ['Deployment shop/cart'], startedAt: at(0) },
    lastBatchCompletedAt: at(-60_000),
    skipped: ['Deployment shop/legacy'],
    barePods: ['shop/debug'],
    message: `batch 2 restarting for ${TARGET}: Deployment shop/cart; 1 workload waits for later batches; 2/5 workloads current; 1 workload skipped (Deployment shop/legacy: opted out (meshwright.dev/restart: disabled)); 1 outdated pod without a controller to delete by hand (shop/debug)`,
  });
  assert.deepEqual(plan.condition, { status: 'False', reason: 'RolloutInProgress', message: `data-plane rollout in progress: ${plan.status!.message}` });
  assert.deepEqual(plan.events, [{ type: 'Normal', reason: 'RolloutBatchStarted', message: `batch 2: restarting 1 workload for ${TARGET}: Deployment shop/cart` }]);
  assert.equal(plan.wakeAt, NOW + 600_000);
});
