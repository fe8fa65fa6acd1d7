import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExponentialBackoff } from './backoff.ts';
import { FakeClock } from './clock.ts';
import { WorkQueue } from './workqueue.ts';

test('adding a queued key again does not queue it twice', async () => {
  const q = new WorkQueue({ name: 't' });
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
});

test('a key added while in flight is handed out again only after done()', async () => {
  const q = new WorkQueue({ name: 't' });
  q.add('a');
  const key = await q.get();
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'not queued while a worker holds it');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await Promise.resolve();
  assert.equal(second, undefined, 'a second worker does not get the same key concurrently');
  q.done(key!);
  await Promise.resolve();
  assert.equal(second, 'a', 're-queued exactly once after done');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('a waiting get() receives the next added key', async () => {
  const q = new WorkQueue({ name: 't' });
  const pending = q.get();
  q.add('x');
  assert.equal(await pending, 'x');
});

test('addAfter queues the key when the delay passes; the earliest pending delay wins', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 't', clock });
  q.addAfter('a', 1000);
  q.addAfter('a', 5000);
  clock.advance(999);
  assert.equal(q.len(), 0);
  clock.advance(1);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  clock.advance(10_000);
  assert.equal(q.len(), 0, 'the later delay was dropped in favour of the earlier one');
  q.addAfter('b', 5000);
  q.addAfter('b', 100);
  clock.advance(100);
  assert.equal(q.len(), 1, 'a shorter delay replaces a longer one');
});

test('addRateLimited backs off exponentially per key, forget resets it', () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 't', clock, backoff: new ExponentialBackoff({ baseMs: 100, maxMs: 1000 }) });
  assert.deepEqual([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')], [100, 200, 400, 800, 1000]);
  assert.equal(q.addRateLimited('b'), 100, 'keys back off independently');
  q.forget('a');
  assert.equal(q.addRateLimited('a'), 100);
});

test('backoff never overflows for a key that fails for a long time', () => {
  const b = new ExponentialBackoff({ baseMs: 5, maxMs: 60_000 });
  let last = 0;
  for (let i = 0; i < 5000; i++) last = b.next('k');
  assert.equal(last, 60_000);
  assert.equal(b.attempts('k'), 5000);
});

test('shutDown releases waiting workers and drops delayed keys', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 't', clock });
  const waiting = q.get();
  q.addAfter('later', 1000);
  q.shutDown();
  assert.equal(await waiting, undefined);
  clock.advance(2000);
  assert.equal(q.len(), 0);
  q.add('ignored');
  assert.equal(await q.get(), undefined);
});

test('depth and add callbacks follow the queue', async () => {
  const depths: number[] = [];
  let adds = 0;
  const q = new WorkQueue({ name: 't', onDepthChange: (d) => depths.push(d), onAdd: () => adds++ });
  q.add('a');
  q.add('a');
  q.add('b');
  await q.get();
  assert.deepEqual(depths, [1, 2, 1]);
  assert.equal(adds, 2);
});

test('queuedAt: when a handed-out key entered the ready queue (after a pass of it in flight ended), forgotten at done()', async () => {
  let now = 100;
  const q = new WorkQueue({ name: 't', stopwatch: () => now });
  q.add('a');
  now = 130;
  assert.equal(await q.get(), 'a');
  assert.equal(q.queuedAt('a'), 100, 'queued at 100, taken at 130');
  now = 140;
  q.add('a'); // while in flight: queued again only when done
  now = 170;
  q.done('a');
  assert.equal(q.queuedAt('a'), undefined, 'not handed out');
  now = 200;
  assert.equal(await q.get(), 'a');
  assert.equal(q.queuedAt('a'), 170, 'entered the ready queue when the pass in flight ended, not at the add');
  q.done('a');
  assert.equal(q.queuedAt('a'), undefined);
});
