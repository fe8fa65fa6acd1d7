import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runningVersion } from './status.ts';

test('the running version is the one every workload carries once all are rolled out and available', () => {
  assert.equal(runningVersion([{ ready: true, version: '1.31.1' }, { ready: true, version: '1.31.1' }], undefined), '1.31.1');
  assert.equal(runningVersion([{ ready: true, version: '1.31.1' }, { ready: true, version: '1.31.1' }], '1.30.4'), '1.31.1');
});

test('while a workload is not rolled out (install, upgrade, crash loop), what ran before still runs', () => {
  assert.equal(runningVersion([{ ready: true, version: '1.31.1' }, { ready: false, version: '1.31.1' }], '1.30.4'), '1.30.4');
  assert.equal(runningVersion([{ ready: false, version: '1.31.1' }], undefined), undefined, 'before anything ran, nothing runs');
});

test('mixed versions or a workload without the annotation (applied by an older operator) keep the previous value', () => {
  assert.equal(runningVersion([{ ready: true, version: '1.31.1' }, { ready: true, version: '1.30.4' }], '1.30.4'), '1.30.4');
  assert.equal(runningVersion([{ ready: true, version: '1.31.1' }, { ready: true }], undefined), undefined);
  assert.equal(runningVersion([], '1.30.4'), '1.30.4', 'no workloads: nothing to read a version from');
});
