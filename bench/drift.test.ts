/**
 * The drift benchmark's breakdown: read from the operator's own /metrics text (rendered here by
 * the operator's metrics class), the difference between two readings, quantiles within buckets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OperatorMetrics } from '../operator/runtime/metrics.ts';
import { driftBreakdown, histogramQuantile } from './drift.ts';

const repair = (diffedMs: number, path: 'targeted' | 'pass' = 'targeted') => ({ kind: 'ConfigMap', path, queued: 0, waited: 0, diffed: diffedMs / 1000, prepared: 0, responded: 0.004, cached: 0.001 });

test('the breakdown counts only the repairs between the two readings, phase by phase', async () => {
  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.observeDriftRepair(repair(400, 'pass')); // before the run: not counted
  const before = await metrics.render();
  for (let i = 0; i < 9; i++) metrics.observeDriftRepair(repair(0.8));
  metrics.observeDriftRepair(repair(40, 'pass'));
  const breakdown = driftBreakdown(before, await metrics.render());
  assert.deepEqual(breakdown.repairs, { targeted: 9, pass: 1 });
  assert.equal(breakdown.phases.diffed.count, 10);
  assert.equal(breakdown.phases.diffed.meanMs, 4.72, '(9 × 0.8 + 40) / 10');
  assert.ok(breakdown.phases.diffed.p50Ms > 0.5 && breakdown.phases.diffed.p50Ms <= 1, `p50 within the 0.5-1 ms bucket: ${breakdown.phases.diffed.p50Ms}`);
  assert.ok(breakdown.phases.diffed.p99Ms > 30 && breakdown.phases.diffed.p99Ms <= 50, `p99 within the 30-50 ms bucket, not the 400 ms before the run: ${breakdown.phases.diffed.p99Ms}`);
  assert.equal(breakdown.phases.responded.meanMs, 4);
  assert.equal(breakdown.phases.total.meanMs, 8.72, 'event → response: diffed + responded');
});

test('histogram quantiles interpolate within the bucket, and stop at the highest finite bound', () => {
  const histogram = { buckets: new Map([[0.01, 2], [0.02, 4], [Infinity, 5]]), count: 5, sum: 0 };
  assert.equal(histogramQuantile(histogram, 0.2), 0.005);
  assert.equal(histogramQuantile(histogram, 0.6), 0.015);
  assert.equal(histogramQuantile(histogram, 0.99), 0.02);
  assert.ok(Number.isNaN(histogramQuantile({ buckets: new Map(), count: 0, sum: 0 }, 0.5)));
});
