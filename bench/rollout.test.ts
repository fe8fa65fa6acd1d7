/**
 * The rollout benchmark's grouping of restarts into batches by the health gate, and the bound a
 * maxUnavailable setting gives (pure; the benchmark itself runs in bench.test.ts's smoke mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unavailabilityBound } from '../e2e/rollout/unavailability.ts';
import { batchesByGate } from './rollout.ts';

test('restarts before every workload of the current batch is Ready belong to it; the first one after opens the next', () => {
  const batches = batchesByGate([
    { restartAt: 1010, readyAt: 2600 }, { restartAt: 1000, readyAt: 2500 }, { restartAt: 1020, readyAt: 3000 },
    { restartAt: 3050, readyAt: 4000 }, { restartAt: 3060, readyAt: 4100 },
    { restartAt: 4150, readyAt: 5000 },
  ]);
  assert.deepEqual(batches.map((b) => b.map((w) => w.restartAt)), [[1000, 1010, 1020], [3050, 3060], [4150]]);
});

test('a restart while a workload of the batch is still not Ready joins the batch (a gate not waited for shows as one big batch)', () => {
  const batches = batchesByGate([{ restartAt: 0, readyAt: 2000 }, { restartAt: 500, readyAt: 600 }, { restartAt: 1500, readyAt: 2500 }]);
  assert.equal(batches.length, 1);
});

test('maxUnavailable: a count as is, a percentage of the pods rounded down, at least 1', () => {
  assert.equal(unavailabilityBound(3, 40), 3);
  assert.equal(unavailabilityBound('3', 40), 3);
  assert.equal(unavailabilityBound('10%', 500), 50);
  assert.equal(unavailabilityBound('25%', 18), 4);
  assert.equal(unavailabilityBound('1%', 20), 1);
});
