import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceView } from './operator.ts';

test('the namespace cache keeps name, labels, annotations, uid, resourceVersion and a deletion mark; nothing else', () => {
  const full = {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: {
      name: 'shop', uid: 'u1', resourceVersion: '42', labels: { 'istio-injection': 'enabled' }, annotations: { note: 'x' }, deletionTimestamp: '2026-11-27T00:00:00Z',
      managedFields: [{ manager: 'kubectl' }], creationTimestamp: '2026-11-01T00:00:00Z', finalizers: ['f'],
    },
    spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
  };
  assert.deepEqual(namespaceView(full), {
    apiVersion: 'v1', kind: 'Namespace',
    metadata: { name: 'shop', uid: 'u1', resourceVersion: '42', labels: { 'istio-injection': 'enabled' }, annotations: { note: 'x' }, deletionTimestamp: '2026-11-27T00:00:00Z' },
  });
  // A list item comes without apiVersion/kind, and a namespace may have no labels or annotations.
  assert.deepEqual(namespaceView({ metadata: { name: 'bare', resourceVersion: '1' } } as never), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bare', resourceVersion: '1', uid: undefined } });
});
