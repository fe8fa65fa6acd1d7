import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ExponentialBackoff } from './backoff.ts';
import { FakeClock } from './clock.ts';
import { Controller, MAX_TRIGGER_EVENTS, type PassTrigger, type ReconcileResult } from './controller.ts';
import type { Informer } from './informer.ts';
import type { KubeObject } from './kube.ts';
import { ReconcileError } from './errors.ts';

function controllerWith(reconcile: (key: string) => Promise<ReconcileResult | void>) {
  const clock = new FakeClock();
  const outcomes: string[] = [];
  const controller = new Controller({
    name: 'test', reconciler: { reconcile }, log: pino({ level: 'silent' }), clock,
    backoff: new ExponentialBackoff({ baseMs: 100, maxMs: 1000 }),
    onReconciled: (outcome) => outcomes.push(outcome),
  });
  return { controller, clock, outcomes };
}

test('a transient error is retried with growing backoff; success forgets the failures', async () => {
  let calls = 0;
  const { controller, clock, outcomes } = controllerWith(async () => {
    calls++;
    if (calls <= 2) throw new Error('API server unavailable');
  });
  assert.equal(await controller.processKey('k'), 'transient_error');
  assert.equal(controller.queue.len(), 0);
  clock.advance(99);
  assert.equal(controller.queue.len(), 0, 'not before the first backoff delay');
  clock.advance(1);
  assert.equal(controller.queue.len(), 1);
  assert.equal(await controller.queue.get(), 'k');
  controller.queue.done('k');
  assert.equal(await controller.processKey('k'), 'transient_error');
  clock.advance(199);
  assert.equal(controller.queue.len(), 0, 'the second delay is twice the first');
  clock.advance(1);
  assert.equal(controller.queue.len(), 1);
  await controller.queue.get();
  controller.queue.done('k');
  assert.equal(await controller.processKey('k'), 'success');
  assert.equal(controller.queue.backoff.attempts('k'), 0);
  assert.deepEqual(outcomes, ['transient_error', 'transient_error', 'success']);
});

test('a terminal error is not retried', async () => {
  const { controller, clock } = controllerWith(async () => {
    throw new ReconcileError('VersionNotInCatalog', 'version 9.9.9 is not supported', { terminal: true });
  });
  assert.equal(await controller.processKey('k'), 'terminal_error');
  clock.advance(3_600_000);
  assert.equal(controller.queue.len(), 0);
  assert.equal(clock.pendingTimers(), 0);
});

test('requeueAfter brings the key back after the delay', async () => {
  const { controller, clock } = controllerWith(async () => ({ requeueAfterMs: 30_000 }));
  assert.equal(await controller.processKey('k'), 'requeue');
  clock.advance(29_999);
  assert.equal(controller.queue.len(), 0);
  clock.advance(1);
  assert.equal(controller.queue.len(), 1);
});

/** Lets the workers' promise chains run (an event-loop turn, not a wait for time to pass). */
const settle = async () => { for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve)); };

/** A reconciler whose passes end only when the test says so. */
function heldReconciler() {
  const started: string[] = [];
  const running = new Map<string, () => void>();
  let overlap = false;
  const reconcile = (key: string) => {
    if (running.has(key)) overlap = true;
    started.push(key);
    return new Promise<void>((resolve) => running.set(key, resolve));
  };
  const finish = (key: string) => {
    const resolve = running.get(key);
    assert.ok(resolve, `no pass of ${key} is running`);
    running.delete(key);
    resolve();
  };
  return { reconcile, started, finish, overlap: () => overlap };
}

test('adds while a key is reconciled coalesce into exactly one more pass, never a second pass at once', async () => {
  const held = heldReconciler();
  const { controller, outcomes } = controllerWith(held.reconcile);
  controller.start();
  controller.queue.add('a');
  await settle();
  assert.deepEqual(held.started, ['a']);

  for (let i = 0; i < 3; i++) controller.queue.add('a');
  controller.queue.add('b');
  await settle();
  assert.deepEqual(held.started, ['a', 'b'], 'the idle worker takes b; a is not started while its pass runs');
  assert.equal(controller.queue.len(), 0, 'a waits for its pass to end, outside the queue');

  held.finish('a');
  await settle();
  assert.deepEqual(held.started, ['a', 'b', 'a'], 'three adds during the pass: one more pass');
  held.finish('a');
  held.finish('b');
  await settle();
  assert.deepEqual(held.started, ['a', 'b', 'a'], 'and no more');
  assert.equal(held.overlap(), false);
  assert.deepEqual(outcomes, ['success', 'success', 'success']);
  await controller.stop();
});

test('stop() waits for the passes in flight and hands out no more keys', async () => {
  const held = heldReconciler();
  const { controller } = controllerWith(held.reconcile);
  controller.start();
  controller.queue.add('a');
  await settle();
  let stopped = false;
  const stopping = controller.stop().then(() => void (stopped = true));
  controller.queue.add('b');
  await settle();
  assert.equal(stopped, false, 'the pass of a is still running');
  held.finish('a');
  await stopping;
  assert.deepEqual(held.started, ['a'], 'b, added during shutdown, never ran');
});

test('coalesced enqueues: a lone event is answered at once; a storm after a pass makes one queued key, due a window after that pass started', async () => {
  const { controller, clock } = controllerWith(async () => undefined);
  controller.enqueue('mesh', 500);
  assert.equal(controller.queue.len(), 1, 'no pass yet: queued at once');
  assert.equal(await controller.queue.get(), 'mesh');
  await controller.processKey('mesh');
  controller.queue.done('mesh');
  for (let i = 0; i < 100; i++) {
    controller.enqueue('mesh', 500);
    clock.advance(4);
  }
  // 400 ms of events right after the pass: nothing queued yet, and later events did not push the pass further out.
  assert.equal(controller.queue.len(), 0);
  clock.advance(99);
  assert.equal(controller.queue.len(), 0);
  clock.advance(1);
  assert.equal(controller.queue.len(), 1);
  clock.advance(10_000);
  assert.equal(controller.queue.len(), 1, 'one pass for the whole storm');
  // Without a window the key is queued at once.
  controller.enqueue('other');
  assert.equal(controller.queue.len(), 2);
  // An event long after the last pass is answered at once too.
  const { controller: later, clock: laterClock } = controllerWith(async () => undefined);
  await later.processKey('mesh');
  laterClock.advance(501);
  later.enqueue('mesh', 500);
  assert.equal(later.queue.len(), 1);
});

test('the trigger of a pass: the watch events since the previous pass started, with their times; anything else is "other"', async () => {
  let now = 0;
  const triggers: Array<PassTrigger | undefined> = [];
  const handlers: Array<(type: 'add' | 'update' | 'delete', object: KubeObject) => void> = [];
  const informer = { type: { apiVersion: 'v1', kind: 'ConfigMap' }, on: (handler: (typeof handlers)[number]) => void handlers.push(handler) } as unknown as Informer;
  const controller = new Controller({
    name: 'test', reconciler: { reconcile: async (_key, trigger) => void triggers.push(trigger) }, log: pino({ level: 'silent' }), clock: new FakeClock(), stopwatch: () => now,
  });
  controller.watch(informer, (object) => [object.metadata.labels?.owner ?? 'none']);
  const cm = (rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', resourceVersion: rv, labels: { owner: 'mesh' } } });
  now = 10;
  handlers[0]!('update', cm('1'));
  now = 12;
  handlers[0]!('delete', cm('2'));
  now = 15;
  assert.equal(await controller.queue.get(), 'mesh');
  now = 20;
  await controller.processKey('mesh');
  controller.queue.done('mesh');
  assert.deepEqual(triggers[0], {
    events: [
      { source: { apiVersion: 'v1', kind: 'ConfigMap' }, type: 'update', object: cm('1'), at: 10 },
      { source: { apiVersion: 'v1', kind: 'ConfigMap' }, type: 'delete', object: cm('2'), at: 12 },
    ],
    other: false, since: 10, queuedAt: 10, startedAt: 20,
  });
  // A direct enqueue (no event) is "other"; so is a timed requeue, which brings no recorded cause.
  now = 30;
  controller.enqueue('mesh');
  await controller.queue.get();
  await controller.processKey('mesh');
  controller.queue.done('mesh');
  assert.equal(triggers[1]?.other, true);
  assert.deepEqual(triggers[1]?.events, []);
  await controller.processKey('mesh');
  assert.equal(triggers[2]?.other, true, 'nothing recorded: a timer or a retry');
  // A storm: beyond MAX_TRIGGER_EVENTS events the pass is "other", the first events kept.
  for (let i = 0; i < MAX_TRIGGER_EVENTS + 5; i++) handlers[0]!('update', cm(String(100 + i)));
  await controller.processKey('mesh');
  assert.equal(triggers[3]?.events.length, MAX_TRIGGER_EVENTS);
  assert.equal(triggers[3]?.other, true);
});

test('a skipped pass keeps the timed one: the retry\'s backoff goes on growing, and a requeue an earlier event\'s timer replaced is armed again', async () => {
  const results: Array<ReconcileResult | Error> = [new Error('API server unavailable'), { skipped: true }, new Error('still unavailable')];
  const { controller, clock } = controllerWith(async () => {
    const next = results.shift();
    if (next instanceof Error) throw next;
    return next;
  });
  assert.equal(await controller.processKey('k'), 'transient_error');
  // An echo of the failed pass's own write: a pass that is skipped.
  controller.enqueue('k');
  await controller.queue.get();
  await controller.processKey('k');
  controller.queue.done('k');
  assert.equal(controller.queue.backoff.attempts('k'), 1, 'the skip did not forget the failure');
  clock.advance(100);
  assert.equal(controller.queue.len(), 1, 'the retry comes when its backoff said');
  await controller.queue.get();
  assert.equal(await controller.processKey('k'), 'transient_error');
  controller.queue.done('k');
  clock.advance(199);
  assert.equal(controller.queue.len(), 0, 'the second delay is still twice the first');
  clock.advance(1);
  assert.equal(controller.queue.len(), 1);
  await controller.queue.get();
  controller.queue.done('k');

  // A requeue in 30 s; a coalesced event's timer (earlier) replaces the queue's timer; its pass is skipped.
  const answers: ReconcileResult[] = [{ requeueAfterMs: 30_000 }, { skipped: true }, {}];
  const timed = controllerWith(async () => answers.shift());
  assert.equal(await timed.controller.processKey('k'), 'requeue');
  timed.controller.enqueue('k', 500);
  timed.clock.advance(500);
  await timed.controller.queue.get();
  await timed.controller.processKey('k');
  timed.controller.queue.done('k');
  timed.clock.advance(29_498);
  assert.equal(timed.controller.queue.len(), 0);
  timed.clock.advance(2);
  assert.equal(timed.controller.queue.len(), 1, 'the requeue came back at its time');
});

test('a timed pass falling due with events makes the trigger "other" (the timer asked too); events before it do not', async () => {
  const configMap = (rv: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', resourceVersion: rv } });
  const watched = (requeueAfterMs: number) => {
    const triggers: Array<PassTrigger | undefined> = [];
    const clock = new FakeClock();
    const controller = new Controller({
      name: 'test', log: pino({ level: 'silent' }), clock, stopwatch: () => clock.now(),
      reconciler: { reconcile: async (_key, trigger) => { triggers.push(trigger); return triggers.length === 1 ? { requeueAfterMs } : undefined; } },
    });
    const handlers: Array<(type: 'add' | 'update' | 'delete', object: KubeObject) => void> = [];
    controller.watch({ type: { apiVersion: 'v1', kind: 'ConfigMap' }, on: (h: (typeof handlers)[number]) => void handlers.push(h) } as unknown as Informer, () => ['k'], { coalesceMs: 5_000 });
    return { controller, clock, triggers, event: (rv: string) => handlers[0]!('update', configMap(rv)) };
  };
  const cases = [
    // The requeue (1 s) falls due before the event's window ends (5 s): one pass for both.
    { name: 'due', requeueAfterMs: 1_000, advanceMs: 1_000, other: true },
    // The requeue (60 s) is not due when the event's pass runs (at the window's end): events alone.
    { name: 'not due', requeueAfterMs: 60_000, advanceMs: 5_000, other: false },
  ];
  for (const { name, requeueAfterMs, advanceMs, other } of cases) {
    const world = watched(requeueAfterMs);
    await world.controller.processKey('k');
    world.event('1');
    world.clock.advance(advanceMs);
    assert.equal(await world.controller.queue.get(), 'k', name);
    await world.controller.processKey('k');
    assert.deepEqual({ other: world.triggers[1]?.other, events: world.triggers[1]?.events.length }, { other, events: 1 }, name);
  }
});
