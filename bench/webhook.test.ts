/**
 * The webhook benchmark's arithmetic on the API server's histogram: bucket deltas between two
 * scrapes and quantiles interpolated within buckets as Prometheus' `histogram_quantile` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketDelta, histogramBuckets, histogramQuantile } from './webhook.ts';

const scrape = (a: number[], b: number[]) => [
  '# HELP apiserver_admission_webhook_admission_duration_seconds x',
  ...[0.005, 0.025, 0.1, '+Inf'].map((le, i) => `apiserver_admission_webhook_admission_duration_seconds_bucket{name="ours.example",operation="CREATE",rejected="false",type="admit",le="${le}"} ${a[i]}`),
  ...[0.005, 0.025, 0.1, '+Inf'].map((le, i) => `apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example",operation="CREATE",rejected="false",type="admit",le="${le}"} ${b[i]}`),
  'apiserver_admission_webhook_admission_duration_seconds_count{name="ours.example",operation="CREATE",rejected="false",type="admit"} 1',
].join('\n');

const ours = (labels: string) => labels.includes('name="ours.example"');

test('buckets are read for the selected webhooks only, and differenced between scrapes', () => {
  const before = histogramBuckets(scrape([10, 10, 10, 10], [5, 5, 5, 5]), 'apiserver_admission_webhook_admission_duration_seconds', ours);
  const after = histogramBuckets(scrape([108, 110, 110, 110], [50, 90, 95, 99]), 'apiserver_admission_webhook_admission_duration_seconds', ours);
  assert.deepEqual([...before], [[0.005, 10], [0.025, 10], [0.1, 10], [Infinity, 10]]);
  assert.deepEqual([...bucketDelta(after, before)], [[0.005, 98], [0.025, 100], [0.1, 100], [Infinity, 100]]);
});

test('quantiles interpolate within the bucket they fall in, from 0 for the first', () => {
  const delta = new Map([[0.005, 98], [0.025, 100], [0.1, 100], [Infinity, 100]]);
  assert.equal(histogramQuantile(0.5, delta), 0.005 * (50 / 98));
  // The 99th observation lies in (5 ms, 25 ms]: 1 of its 2 observations in.
  assert.equal(histogramQuantile(0.99, delta), 0.005 + 0.02 * (1 / 2));
  assert.ok(Number.isNaN(histogramQuantile(0.99, new Map([[0.005, 0], [Infinity, 0]]))), 'no observations, no quantile');
  // Beyond the last finite bound the quantile is that bound (as histogram_quantile).
  assert.equal(histogramQuantile(0.99, new Map([[0.005, 0], [0.025, 0], [Infinity, 10]])), 0.025);
});
