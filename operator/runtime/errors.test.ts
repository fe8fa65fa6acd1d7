import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconcileError, writeError } from './errors.ts';
import { KubeApiError } from './kube.ts';

const istiod = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'istio-system', name: 'istiod' };
const apiError = (status: number, reason: string, message: string) => new KubeApiError(status, reason, `PATCH /apis/apps/v1/namespaces/istio-system/deployments/istiod: ${status} ${reason}: ${message}`, message);

test('a 422 names the object, quotes the API server without the request line, points at overlays, and stalls but is retried', () => {
  const error = writeError('apply', istiod, apiError(422, 'Invalid', 'Deployment.apps "istiod" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'));
  assert.equal(error.reason, 'ObjectInvalid');
  assert.equal(error.message, 'the API server rejected Deployment istio-system/istiod: Deployment.apps "istiod" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0; if an entry of spec.overlays produces this object, fix that entry');
  assert.deepEqual([error.terminal, error.stalls], [false, true]);
  assert.deepEqual(error.subject, istiod);
});

test('403, 409 and anything else are transient and do not stall', () => {
  const forbidden = writeError('delete', { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' }, apiError(403, 'Forbidden', 'configmaps "x" is forbidden: User "system:serviceaccount:m:op" cannot delete resource'));
  assert.equal(forbidden.reason, 'WriteForbidden');
  assert.match(forbidden.message, /^the operator may not delete ConfigMap mesh\/x: configmaps "x" is forbidden: .*grant the operator's ServiceAccount/);
  const conflict = writeError('apply', istiod, apiError(409, 'Conflict', 'the object has been modified'));
  assert.equal(conflict.reason, 'WriteConflict');
  const other = writeError('apply', istiod, apiError(500, 'InternalError', 'etcdserver: request timed out'));
  assert.equal(other.message, 'apply Deployment istio-system/istiod failed with HTTP 500: etcdserver: request timed out');
  const network = writeError('apply', { apiVersion: 'v1', kind: 'Namespace', name: 'mesh' }, new Error('ECONNRESET'));
  assert.equal(network.message, 'apply Namespace mesh failed: ECONNRESET');
  for (const error of [forbidden, conflict, other, network]) assert.deepEqual([error.terminal, error.stalls], [false, false], error.reason);
});

test('terminal implies stalled', () => {
  const error = new ReconcileError('VersionNotInCatalog', 'no', { terminal: true });
  assert.deepEqual([error.terminal, error.stalls], [true, true]);
});
