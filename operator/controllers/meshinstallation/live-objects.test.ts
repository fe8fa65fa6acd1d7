import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refKey, staleObjects, type ObjectRef } from './live-objects.ts';

const cm = (name: string, namespace = 'mesh'): ObjectRef => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
const role = (name: string): ObjectRef => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name });

test('refKey tells kinds, namespaces and scopes apart', () => {
  const keys = [cm('a'), cm('a', 'other'), { ...cm('a'), kind: 'Secret' }, role('a')].map(refKey);
  assert.equal(new Set(keys).size, 4);
  assert.equal(refKey(role('a')), 'rbac.authorization.k8s.io/v1/ClusterRole/a');
});

test('objects in the last inventory but no longer desired are stale, cluster-scoped ones included', () => {
  assert.deepEqual(staleObjects([cm('a')], [cm('a'), cm('b'), role('r')], []), [cm('b'), role('r')]);
});

test('labelled objects the inventory forgot (status lost) are found too, each once', () => {
  assert.deepEqual(staleObjects([cm('a')], [cm('b')], [cm('b'), role('orphan')]), [cm('b'), role('orphan')]);
});

test('nothing desired is ever stale', () => {
  assert.deepEqual(staleObjects([cm('a'), role('r')], [cm('a'), role('r')], [cm('a'), role('r')]), []);
});
