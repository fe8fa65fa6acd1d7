import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { LiveObjects, refKey, staleObjects, type ObjectRef } from './live-objects.ts';

const cm = (name: string, namespace = 'mesh'): ObjectRef => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
const role = (name: string): ObjectRef => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name });

test('refKey tells kinds, namespaces and scopes apart', () => {
  const keys = [cm('a'), cm('a', 'other'), { ...cm('a'), kind: 'Secret' }, role('a')].map(refKey);
  assert.equal(new Set(keys).size, 4);
  assert.equal(refKey(role('a')), 'rbac.authorization.k8s.io/v1/ClusterRole/a');
});

test('objects in the last inventory but no longer desired are stale, cluster-scoped ones included, each once', () => {
  assert.deepEqual(staleObjects([cm('a')], [cm('a'), cm('b'), role('r'), cm('b')]), [cm('b'), role('r')]);
});

test('nothing desired is ever stale', () => {
  assert.deepEqual(staleObjects([cm('a'), role('r')], [cm('a'), role('r')]), []);
});

/** A cache of one kind whose content the test sets, with the informer surface LiveObjects uses. */
function fakeInformer(apiVersion: string, kind: string) {
  const objects = new Map<string, KubeObject>();
  const handlers: Array<(type: 'add' | 'update' | 'delete', object: KubeObject) => void> = [];
  const informer = {
    type: { apiVersion, kind },
    get: (name: string, namespace?: string) => objects.get(`${namespace ?? ''}/${name}`),
    list: () => [...objects.values()],
    on: (handler: (typeof handlers)[number]) => void handlers.push(handler),
    hasSynced: () => true,
    isNotServed: () => false,
    retryNow: () => undefined,
  };
  const version = (rv: string): KubeObject => ({ apiVersion, kind, metadata: { name: 'x', namespace: 'mesh', resourceVersion: rv } });
  return {
    informer: informer as unknown as Informer,
    version,
    cache(rv: string | undefined) {
      if (rv === undefined) objects.delete('mesh/x');
      else objects.set('mesh/x', version(rv));
    },
    deleted(rv: string) {
      objects.delete('mesh/x');
      for (const handler of handlers) handler('delete', version(rv));
    },
  };
}

test('read your writes: our write wins while the cache holds a version it replaced, including an earlier write of ours', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]));
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' };
  cm.cache('10');
  live.remember(cm.version('10'), cm.version('11'));
  // A second write based on our first one, before the cache saw either.
  live.remember(cm.version('11'), cm.version('12'));
  assert.equal(live.get(ref)?.metadata.resourceVersion, '12', 'the cache still holds 10');
  cm.cache('11');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '12', 'the cache caught up with our first write only');
  cm.cache('12');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '12');
  cm.cache('13');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '13', 'a version we never wrote is newer than ours: the cache is trusted');
});

test('read your writes: a created object is ours until the cache has it; a version never seen ends the override; a delete forgets', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]));
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' };
  live.remember(undefined, cm.version('5'));
  assert.equal(live.get(ref)?.metadata.resourceVersion, '5', 'created, not cached yet');
  cm.cache('7');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '7', 'someone wrote after us');
  live.remember(cm.version('7'), cm.version('8'));
  cm.deleted('8');
  assert.equal(live.get(ref), undefined, 'deleted: nothing of ours lingers');
});
