/**
 * The benchmarks' smoke mode, part of the test command: every benchmark at a few repetitions, on a
 * throw-away cluster of its own. Not the shared test cluster: Istio's CRDs are cluster-scoped and
 * shared by every Istio installation, so installing meshes there would relabel the objects that
 * e2e/meshes/istio.e2e.test.ts checks, at the same time. Asserts that every figure is produced
 * and sane (present, positive, ordered), and the idle figures that hold at any scale (no writes
 * while idle, one lease renewal per retry period without reads, fewer other reads than renewals);
 * the other targets are for `npm run bench`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openBenchCluster, type BenchCluster } from './support/cluster.ts';
import { describeMachine, formatTable, type SuiteResults } from './support/report.ts';
import { completeResults, runSuite, SMOKE } from './suite.ts';

let cluster: BenchCluster;
let results: SuiteResults;
const log = (line: string) => process.stderr.write(`[bench smoke] ${line}\n`);

before(async () => {
  cluster = await openBenchCluster({ log });
});

after(async () => {
  await cluster?.close();
});

const positive = (value: number, what: string) => assert.ok(Number.isFinite(value) && value > 0, `${what} is a positive number (got ${value})`);

// Longer than npm test's 10 minutes per test: beside the other files the smoke took 9.4 of them
// once, 5 in its cold install (the mesh CRDs' deletion on a loaded API server).
test('every benchmark runs in smoke mode and produces sane figures', { timeout: 900_000 }, async () => {
  results = completeResults(await runSuite(cluster, SMOKE, log));
  log(`\n${formatTable('smoke', describeMachine(cluster.kubernetesVersion), results)}`);
  const { install, drift, idle, memory } = results;

  assert.equal(install.operatorMs.length, SMOKE.installRepetitions);
  assert.equal(install.baselineMs.length, SMOKE.installRepetitions);
  for (const ms of [...install.operatorMs, ...install.baselineMs]) positive(ms, 'an install time');
  positive(install.ratio, 'the install ratio');

  assert.equal(drift.edits.count, SMOKE.driftEdits);
  assert.equal(drift.deletions.count, SMOKE.driftDeletions);
  assert.equal(drift.additions.count, SMOKE.driftAdditions);
  assert.equal(drift.floor.count, SMOKE.driftEdits + SMOKE.driftDeletions + SMOKE.driftAdditions);
  for (const summary of [drift.edits, drift.deletions, drift.additions, drift.all, drift.floor]) {
    positive(summary.p50, 'a drift p50');
    assert.ok(summary.p50 <= summary.p95 && summary.p95 <= summary.p99 && summary.p99 <= summary.max, 'percentiles are ordered');
  }

  assert.equal(idle.perMinute.writes, 0, 'the idle operator writes nothing but its lease');
  if (idle.auditPerMinute) assert.equal(idle.auditPerMinute.writes, 0, 'nor does the audit log show a write');
  // One renewal per retry period: fewer means renewals stall, more means something renews twice.
  const expected = idle.expectedLeaseRenewalsPerMinute;
  positive(expected, 'the expected lease renewals');
  assert.ok(idle.perMinute.leaseWrites >= 0.75 * expected && idle.perMinute.leaseWrites <= 1.2 * expected,
    `lease renewals ${idle.perMinute.leaseWrites}/min, expected about ${expected}/min`);
  assert.equal(idle.perMinute.leaseReads, 0, 'a leader renews the lease it last wrote without reading it first');
  assert.ok(idle.perMinute.reads <= idle.perMinute.leaseWrites, `idle reads ${idle.perMinute.reads}/min exceed lease renewals ${idle.perMinute.leaseWrites}/min (caches, not polling)`);

  positive(memory.idle.rssMb, 'the idle RSS');
  positive(memory.loaded.rssMb, 'the loaded RSS');
  assert.equal(memory.pods, SMOKE.namespaces * SMOKE.podsPerNamespace);
  assert.equal(memory.injectedPods, memory.pods, 'every pod of the enrolled namespaces came back injected');

  const { webhook } = results;
  assert.equal(webhook.created, SMOKE.webhookConcurrent * SMOKE.webhookRounds);
  assert.equal(webhook.injected, webhook.created, 'every pod of the bursts was injected');
  assert.ok(webhook.operator.calls >= webhook.created, `the API server timed each call to the operator's webhook (${webhook.operator.calls} calls for ${webhook.created} pods)`);
  assert.ok(webhook.noop.calls >= SMOKE.webhookConcurrent * SMOKE.webhookRounds, `and to the no-op webhook (${webhook.noop.calls})`);
  for (const ms of [webhook.operator.p50Ms, webhook.operator.p99Ms, webhook.noop.p50Ms, webhook.noop.p99Ms, webhook.operatorOwn.p99Ms]) positive(ms, 'a webhook latency');
  assert.ok(webhook.operator.p50Ms <= webhook.operator.p99Ms && webhook.noop.p50Ms <= webhook.noop.p99Ms, 'percentiles are ordered');

  const { scale } = results;
  assert.deepEqual(scale.steps.map((s) => s.namespaces), SMOKE.scaleSteps, 'one step per N');
  assert.equal(scale.otherInjectedPods, 0, 'no injected pod of another benchmark stayed in the operator\'s cache');
  assert.ok(scale.clearedInjectedPods >= memory.pods, `the memory benchmark's pods were cleared first (${scale.clearedInjectedPods})`);
  for (const step of scale.steps) {
    assert.equal(step.pods, step.namespaces * SMOKE.scalePodsPerNamespace);
    assert.equal(step.injectedPods, step.pods, `every pod at N=${step.namespaces} came back injected`);
    assert.equal(step.podsRunning, step.pods, `kwok ran every pod at N=${step.namespaces}`);
    positive(step.memory.rssMb, 'a scale RSS');
    positive(step.memory.heapUsedMb, 'a scale heap');
    // Each change was waited for by its own pass; the histogram saw at least those.
    assert.equal(step.reconcile.changes, SMOKE.scaleChanges);
    assert.ok(step.reconcile.passes >= step.reconcile.changes, `${step.reconcile.passes} passes for ${step.reconcile.changes} changes`);
    for (const ms of [step.reconcile.p50Ms, step.reconcile.p99Ms, step.reconcile.wallP50Ms, step.reconcile.wallP99Ms]) positive(ms, 'a reconcile time');
    assert.ok(step.reconcile.p50Ms <= step.reconcile.p99Ms && step.reconcile.wallP50Ms <= step.reconcile.wallP99Ms, 'percentiles are ordered');
    assert.equal(step.webhook.created, SMOKE.scaleWebhookBurst);
    assert.equal(step.webhook.injected, step.webhook.created, 'every pod of the burst was injected');
    assert.ok(step.webhook.operator.calls >= step.webhook.created && step.webhook.noop.calls >= SMOKE.scaleWebhookBurst, 'the API server timed both webhooks');
  }
  assert.deepEqual(scale.growth.map((g) => g.figure), ['reconcile p99 (ms)', 'reconcile wall p99 (ms)', 'RSS (MB)', 'heap used (MB)', 'webhook p99 (ms)']);
  for (const g of scale.growth) assert.ok(['flat', 'linear', 'worse'].includes(g.verdict) && Number.isFinite(g.exponent), `growth of ${g.figure}: ${g.verdict}`);
});
