import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { compareResourceVersions, LiveObjects, refKey, staleObjects, type ObjectRef } from './live-objects.ts';

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
    /** A watch event delivering version `rv` (cached, then the handlers). */
    updated(rv: string) {
      objects.set('mesh/x', version(rv));
      for (const handler of handlers) handler('update', version(rv));
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

test('read your writes: a version another writer wrote between the one we read and our write is older than ours, not trusted over it', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]));
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' };
  cm.cache('10');
  // We read 10 and wrote 12; someone else wrote 11 in between (a workload's status), and the lagging watch delivers it only now.
  live.remember(cm.version('10'), cm.version('12'));
  cm.cache('11');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '12', '11 predates our write: what it shows, our write already changed');
  cm.cache('12');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '12');
  cm.cache('9');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '9', 'once the cache showed our write, it is trusted again');
  // Versions compare as numbers of any length, not as strings.
  live.remember(cm.version('9'), cm.version('100'));
  cm.cache('99');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '100');
  cm.cache('101');
  assert.equal(live.get(ref)?.metadata.resourceVersion, '101');
});

test('read your writes: resource versions that are not positive integers are judged by the versions we know only', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]));
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' };
  cm.cache('a');
  live.remember(cm.version('a'), cm.version('c'));
  assert.equal(live.get(ref)?.metadata.resourceVersion, 'c');
  cm.cache('b');
  assert.equal(live.get(ref)?.metadata.resourceVersion, 'b', 'not comparable: a version never seen ends the override');
});

test('compareResourceVersions orders positive integers of any length and refuses anything else', () => {
  assert.ok(compareResourceVersions('9', '10')! < 0);
  assert.ok(compareResourceVersions('100', '99')! > 0);
  assert.equal(compareResourceVersions('42', '42'), 0);
  assert.ok(compareResourceVersions('123456789012345678901', '123456789012345678902')! < 0);
  for (const [a, b] of [['', '1'], ['0', '1'], ['01', '2'], ['1', 'x'], ['-1', '2']] as const) assert.equal(compareResourceVersions(a, b), undefined, `${a} vs ${b}`);
});

test('own writes: a version one of our writes returned is ours when its watch event comes, whatever came between; others\' versions are not', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]));
  cm.cache('10');
  live.remember(cm.version('10'), cm.version('11'));
  assert.equal(live.isOwnWrite(cm.version('11')), true);
  assert.equal(live.isOwnWrite(cm.version('10')), false, 'the version our write replaced is not ours');
  cm.updated('11');
  live.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'x' });
  assert.equal(live.isOwnWrite(cm.version('11')), true, 'still ours once the cache caught up');
  cm.updated('12');
  assert.equal(live.isOwnWrite(cm.version('12')), false, 'another writer\'s next version');
});

test('whenCached: the write\'s watch event time, also when the event came before the write\'s response was read; never for another version', () => {
  const cm = fakeInformer('v1', 'ConfigMap');
  let now = 0;
  const live = new LiveObjects(fakeInformer('meshwright.dev/v1alpha1', 'MeshInstallation').informer, new Map([['v1/ConfigMap', cm.informer]]), () => now);
  const seen: number[] = [];
  now = 5;
  live.whenCached(cm.version('11'), (at) => seen.push(at));
  now = 7;
  cm.updated('10');
  assert.equal(seen.length, 0, 'an older version is not the write');
  now = 9;
  cm.updated('11');
  assert.deepEqual(seen, [9]);
  now = 12;
  cm.updated('12');
  now = 20;
  live.whenCached(cm.version('12'), (at) => seen.push(at));
  assert.deepEqual(seen, [9, 12], 'delivered before the waiter was registered: its arrival time');
});
