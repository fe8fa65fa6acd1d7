import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ExponentialBackoff } from './backoff.ts';
import { FakeClock } from './clock.ts';
import { Controller, TerminalError, type ReconcileResult } from './controller.ts';

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
    throw new TerminalError('VersionNotInCatalog', 'version 9.9.9 is not supported');
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

test('workers reconcile queued keys, one at a time per key, and stop drains in-flight work', async () => {
  const active = new Set<string>();
  const seen: string[] = [];
  let overlap = false;
  const { controller } = controllerWith(async (key) => {
    if (active.has(key)) overlap = true;
    active.add(key);
    await new Promise((r) => setTimeout(r, 5));
    seen.push(key);
    active.delete(key);
  });
  controller.start();
  for (let i = 0; i < 3; i++) {
    controller.enqueue('a');
    controller.enqueue('b');
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, 50));
  await controller.stop();
  assert.equal(overlap, false, 'never two reconciles of the same key at once');
  assert.ok(seen.includes('a') && seen.includes('b'));
  assert.ok(seen.filter((k) => k === 'a').length <= 3, 'adds during a reconcile are coalesced');
});
