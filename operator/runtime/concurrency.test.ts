import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimited } from './concurrency.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('mapLimited keeps at most `limit` tasks in flight and returns results in input order', async () => {
  let inFlight = 0;
  let most = 0;
  const results = await mapLimited([5, 1, 4, 2, 3, 6, 7], 3, async (n) => {
    most = Math.max(most, ++inFlight);
    for (let i = 0; i < n; i++) await tick();
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(results, [50, 10, 40, 20, 30, 60, 70]);
  assert.equal(most, 3);
});

test('mapLimited: the first failure rejects after the started tasks settle, and no further task starts', async () => {
  const started: number[] = [];
  const settled: number[] = [];
  await assert.rejects(mapLimited([1, 2, 3, 4, 5, 6], 2, async (n) => {
    started.push(n);
    await tick();
    if (n === 2) throw new Error('boom 2');
    await tick();
    settled.push(n);
  }), /boom 2/);
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(settled, [1], 'the task started beside the failing one ran to its end');
});

test('mapLimited over nothing resolves to nothing', async () => {
  assert.deepEqual(await mapLimited([], 4, async () => 1), []);
});
