import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { OperatorMetrics } from './metrics.ts';

test('every operator metric is exported with its labels', async () => {
  const metrics = new OperatorMetrics();
  metrics.observeReconcile('meshinstallation', 'success', 0.02);
  metrics.observeReconcile('meshinstallation', 'transient_error', 3);
  metrics.setWorkqueueDepth('meshinstallation', 4);
  metrics.incDriftCorrection('Deployment');
  metrics.setManagedObjects('default', 42);
  metrics.incError('meshinstallation', 'conflict');
  metrics.setLeader('pod-a', true);
  const text = await metrics.render();
  for (const line of [
    'meshwright_reconcile_total{controller="meshinstallation",result="success"} 1',
    'meshwright_reconcile_total{controller="meshinstallation",result="transient_error"} 1',
    'meshwright_reconcile_duration_seconds_bucket{le="0.025",controller="meshinstallation"} 1',
    'meshwright_reconcile_duration_seconds_bucket{le="5",controller="meshinstallation"} 2',
    'meshwright_reconcile_duration_seconds_count{controller="meshinstallation"} 2',
    'meshwright_workqueue_depth{queue="meshinstallation"} 4',
    'meshwright_drift_corrections_total{kind="Deployment"} 1',
    'meshwright_managed_objects{installation="default"} 42',
    'meshwright_errors_total{controller="meshinstallation",kind="conflict"} 1',
    'meshwright_leader{identity="pod-a"} 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing line: ${line}`);
  }
  assert.match(text, /^# TYPE meshwright_reconcile_duration_seconds histogram$/m);
  assert.match(text, /^# HELP meshwright_drift_corrections_total /m);
  // Default process metrics come along.
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
});

test('two instances are isolated from each other and from the global registry', async () => {
  const a = new OperatorMetrics({ processMetrics: false });
  const b = new OperatorMetrics({ processMetrics: false });
  a.incDriftCorrection('Service');
  a.incDriftCorrection('Service');
  assert.equal(await a.value('meshwright_drift_corrections_total', { kind: 'Service' }), 2);
  assert.equal(await b.value('meshwright_drift_corrections_total', { kind: 'Service' }), 0);
  assert.equal(globalRegistry.getSingleMetric('meshwright_drift_corrections_total'), undefined);
  assert.doesNotMatch(await a.render(), /process_cpu/);
});

test('value() reads counters and histogram sums and counts by their series name', async () => {
  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.observeReconcile('gateway', 'requeue', 1.5);
  assert.equal(await metrics.value('meshwright_reconcile_total', { controller: 'gateway', result: 'requeue' }), 1);
  assert.equal(await metrics.value('meshwright_reconcile_duration_seconds_sum', { controller: 'gateway' }), 1.5);
  assert.equal(await metrics.value('meshwright_reconcile_duration_seconds_count', { controller: 'gateway' }), 1);
});

test('leader and managed-object gauges go down as well as up', async () => {
  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.setLeader('pod-a', true);
  metrics.setLeader('pod-a', false);
  assert.equal(await metrics.value('meshwright_leader', { identity: 'pod-a' }), 0);
  assert.match(await metrics.render(), /^meshwright_leader\{identity="pod-a"\} 0$/m);
  metrics.setManagedObjects('default', 7);
  metrics.forgetInstallation('default');
  assert.doesNotMatch(await metrics.render(), /meshwright_managed_objects\{/);
  await assert.rejects(metrics.value('meshwright_nope'), /no metric named meshwright_nope/);
});

test('a drift repair is recorded phase by phase, with its total from the event to the response, and counted by path', async () => {
  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.observeDriftRepair({ kind: 'ConfigMap', path: 'targeted', queued: 0.0001, waited: 0.0002, diffed: 0.0007, prepared: 0.0001, responded: 0.004, cached: 0.001 });
  metrics.observeDriftRepair({ kind: 'Service', path: 'pass', queued: 0.03, waited: 0, diffed: 0.04, prepared: 0, responded: 0.005, cached: 0.002 });
  const text = await metrics.render();
  for (const line of [
    'meshwright_drift_repair_phase_seconds_bucket{le="0.001",phase="diffed"} 1',
    'meshwright_drift_repair_phase_seconds_bucket{le="0.05",phase="diffed"} 2',
    'meshwright_drift_repair_phase_seconds_bucket{le="0.005",phase="total"} 0',
    'meshwright_drift_repair_phase_seconds_bucket{le="0.0075",phase="total"} 1',
    'meshwright_drift_repair_phase_seconds_count{phase="cached"} 2',
    'meshwright_drift_repairs_timed_total{path="targeted"} 1',
    'meshwright_drift_repairs_timed_total{path="pass"} 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing line: ${line}`);
  }
  assert.equal(Math.round(await metrics.value('meshwright_drift_repair_phase_seconds_sum', { phase: 'total' }) * 1e6), 5100 + 75_000);
});
