import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../runtime/kube.ts';
import { INSTALLATION_LABEL, ownerAnnotation, releasedLabel } from '../ownership.ts';
import { judge, judgeAll } from './claims.ts';
import { releaseOf } from './prune.ts';

const object = (kind: string, name: string, labels?: Record<string, string>, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: kind === 'CustomResourceDefinition' ? 'apiextensions.k8s.io/v1' : 'v1', kind, metadata: { name, ...(kind === 'ConfigMap' ? { namespace: 'mesh' } : {}), labels, annotations } });
const owned = (by: string) => ({ [INSTALLATION_LABEL]: by });
const context = (inventory: string[] = []) => ({ installation: 'a', inventory: new Set(inventory), isShared: (o: KubeObject) => o.kind === 'CustomResourceDefinition' });

test('judge: absent, ours, released, or ours by inventory with the label stripped: apply', () => {
  const desired = object('ConfigMap', 'istio');
  assert.deepEqual(judge(desired, undefined, context()), { action: 'apply' });
  assert.deepEqual(judge(desired, object('ConfigMap', 'istio', owned('a')), context()), { action: 'apply' });
  assert.deepEqual(judge(desired, object('ConfigMap', 'istio', owned(releasedLabel('gone'))), context()), { action: 'apply' });
  assert.deepEqual(judge(desired, object('ConfigMap', 'istio'), context(['v1/ConfigMap/mesh/istio'])), { action: 'apply' });
});

test('judge: another installation\'s object is a conflict naming it; unless shared, then we co-own while its writer still owns it', () => {
  assert.deepEqual(judge(object('ConfigMap', 'istio'), object('ConfigMap', 'istio', owned('b')), context(['v1/ConfigMap/mesh/istio'])), { action: 'conflict', owner: 'b' }, 'the label wins over our inventory');
  const crd = object('CustomResourceDefinition', 'x.istio.io');
  assert.deepEqual(judge(crd, object('CustomResourceDefinition', 'x.istio.io', owned('b'), { [ownerAnnotation('b')]: 'true' }), context()), { action: 'co-own', writer: 'b' });
  assert.deepEqual(judge(crd, object('CustomResourceDefinition', 'x.istio.io', owned('b')), context()), { action: 'apply' }, 'its writer left it: we take it over');
});

test('judge: what someone outside meshwright created is not ours — a Namespace is used as is, anything else stalls', () => {
  assert.deepEqual(judge(object('Namespace', 'istio-system'), object('Namespace', 'istio-system'), context()), { action: 'use-as-is' });
  assert.deepEqual(judge(object('ConfigMap', 'istio'), object('ConfigMap', 'istio'), context()), { action: 'not-owned' });
});

test('judgeAll groups the verdicts', () => {
  const live = new Map<string, KubeObject>([['istio', object('ConfigMap', 'istio', owned('b'))], ['user', object('Namespace', 'user')]]);
  const verdicts = judgeAll([object('ConfigMap', 'istio'), object('Namespace', 'user'), object('ConfigMap', 'new')], (o) => live.get(o.metadata.name), context());
  assert.deepEqual(verdicts.conflicts, [{ ref: { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mesh', name: 'istio' }, owner: 'b' }]);
  assert.deepEqual(verdicts.useAsIs, [{ apiVersion: 'v1', kind: 'Namespace', name: 'user' }]);
  assert.deepEqual(verdicts.apply.map((o) => o.metadata.name), ['new']);
});

test('releaseOf: ours alone is deleted, kept on delete is released, shared with others is disowned once, anything else is left alone', () => {
  assert.deepEqual(releaseOf('a', object('ConfigMap', 'x', owned('a'))), { action: 'delete' });
  assert.deepEqual(releaseOf('a', object('ConfigMap', 'x', owned('a'), { 'meshwright.dev/keep-on-delete': 'true' })), { action: 'release' });
  const shared = object('CustomResourceDefinition', 'x', owned('a'), { [ownerAnnotation('a')]: 'true', [ownerAnnotation('b')]: 'true' });
  assert.deepEqual(releaseOf('a', shared), { action: 'disown', writer: 'b' }, 'the writer leaves: the next owner writes');
  assert.deepEqual(releaseOf('b', shared), { action: 'disown', writer: 'a' }, 'a co-owner leaves: the writer stays');
  assert.deepEqual(releaseOf('b', object('CustomResourceDefinition', 'x', owned('a'), { [ownerAnnotation('a')]: 'true' })), { action: 'skip' }, 'already disowned');
  assert.deepEqual(releaseOf('a', object('ConfigMap', 'x', owned('b'))), { action: 'skip' }, 'another installation\'s');
  assert.deepEqual(releaseOf('a', object('ConfigMap', 'x')), { action: 'skip' }, 'no label: never deleted on the inventory\'s word');
  assert.deepEqual(releaseOf('a', undefined), { action: 'skip' });
});

test('a released label never names an installation and fits a label value', () => {
  const long = 'x'.repeat(63);
  assert.ok(releasedLabel(long).length <= 63);
  assert.match(releasedLabel('default'), /^released_default$/);
  assert.doesNotMatch(releasedLabel('default'), /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a DNS subdomain name');
});
