/**
 * Table tests of where namespaces and pods stand during a stepped canary (canary-namespaces.ts):
 * steps resolved among enrolled namespaces, where the default tag points from the record, which
 * revision a namespace's labels and a pod's own label choose, and which namespaces a step's
 * rollout may restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canaryRolloutScope, defaultTagRevision, injectionRevision, namespaceRevision, resolveCanarySteps, type EnrolledNamespace } from './canary-namespaces.ts';

const enrolled: EnrolledNamespace[] = [
  { name: 'a', personLabels: { team: 'web' } },
  { name: 'b', personLabels: { wave: 'two' } },
  { name: 'c', personLabels: {} },
];

test('steps resolve by name and by selector among enrolled namespaces only', () => {
  const rows: Array<[string, Parameters<typeof resolveCanarySteps>[0], ReturnType<typeof resolveCanarySteps>]> = [
    ['no steps', undefined, []],
    ['by name, sorted; a name not enrolled dropped', [{ namespaces: ['c', 'a', 'x'] }], [{ namespaces: ['a', 'c'] }]],
    ['by selector on the person\'s labels', [{ namespaceSelector: { matchLabels: { wave: 'two' } }, pause: '5m' }], [{ namespaces: ['b'], pause: '5m' }]],
    ['a selector matching none', [{ namespaceSelector: { matchLabels: { wave: 'three' } } }], [{ namespaces: [] }]],
    ['by expression', [{ namespaceSelector: { matchExpressions: [{ key: 'wave', operator: 'DoesNotExist' }] } }], [{ namespaces: ['a', 'c'] }]],
  ];
  for (const [name, steps, want] of rows) assert.deepEqual(resolveCanarySteps(steps, enrolled), want, name);
});

test('the default tag moves with the record: the promotion\'s Remove step or Succeeded; back while rolling back', () => {
  const revisions = { old: '1-30', new: '1-31' };
  const rows: Array<[string, Parameters<typeof defaultTagRevision>[0], string]> = [
    ['no upgrade: the current revision', undefined, '1-31'],
    ['ControlPlane', { phase: 'ControlPlane', step: 2, totalSteps: 7 }, '1-30'],
    ['a step', { phase: 'DataPlane', step: 4, totalSteps: 7 }, '1-30'],
    ['AwaitingPromotion', { phase: 'AwaitingPromotion', step: 5, totalSteps: 7 }, '1-30'],
    ['Promoting before the tag', { phase: 'Promoting', step: 5, totalSteps: 7 }, '1-30'],
    ['Promoting, tag moved', { phase: 'Promoting', step: 6, totalSteps: 7 }, '1-31'],
    ['Succeeded', { phase: 'Succeeded', step: 7, totalSteps: 7 }, '1-31'],
    ['RollingBack after the tag moved', { phase: 'RollingBack' }, '1-30'],
    ['RolledBack', { phase: 'RolledBack' }, '1-30'],
    ['Failed after the tag moved', { phase: 'Failed', step: 6, totalSteps: 7 }, '1-31'],
    ['Failed in a step', { phase: 'Failed', step: 3, totalSteps: 7 }, '1-30'],
  ];
  for (const [name, upgrade, want] of rows) assert.equal(defaultTagRevision(upgrade, revisions), want, name);
});

test('a namespace points at the revision its labels name; istio-injection follows the tag and wins', () => {
  const istio = [{ revision: '1-30', label: { key: 'istio.io/rev', value: '1-30' } }, { revision: '1-31', label: { key: 'istio.io/rev', value: '1-31' } }];
  const injection = { key: 'istio-injection', value: 'enabled' };
  // The test mesh: revisions and the default share one key.
  const shared = [{ revision: '1-0-0', label: { key: 'mesh', value: 'mi-1-0-0' } }, { revision: '1-1-0', label: { key: 'mesh', value: 'mi-1-1-0' } }];
  const rows: Array<[string, Record<string, string> | undefined, typeof istio, { key: string; value: string }, string | undefined]> = [
    ['istio.io/rev=old', { 'istio.io/rev': '1-30' }, istio, injection, '1-30'],
    ['istio.io/rev=new', { 'istio.io/rev': '1-31' }, istio, injection, '1-31'],
    ['istio-injection=enabled: the tag', { 'istio-injection': 'enabled' }, istio, injection, '1-31'],
    ['istio-injection wins over istio.io/rev', { 'istio-injection': 'enabled', 'istio.io/rev': '1-30' }, istio, injection, '1-31'],
    ['istio-injection=disabled: none', { 'istio-injection': 'disabled', 'istio.io/rev': '1-30' }, istio, injection, undefined],
    ['an unknown revision', { 'istio.io/rev': '1-29' }, istio, injection, undefined],
    ['no labels', undefined, istio, injection, undefined],
    ['shared key, a revision value', { mesh: 'mi-1-0-0' }, shared, { key: 'mesh', value: 'mi' }, '1-0-0'],
    ['shared key, the default value: the tag', { mesh: 'mi' }, shared, { key: 'mesh', value: 'mi' }, '1-31'],
  ];
  for (const [name, labels, revisions, defaultLabel, want] of rows) assert.equal(namespaceRevision(labels, revisions, defaultLabel, '1-31'), want, name);
});

test('a pod gets its namespace\'s revision; its own istio.io/rev only in a namespace naming none', () => {
  const known = ['1-30', '1-31'];
  const rows: Array<[string, Parameters<typeof injectionRevision>[0], string | undefined]> = [
    ['the namespace\'s', { namespaceRevision: '1-30', podLabels: { 'istio.io/rev': '1-31' }, known, defaultTag: '1-31' }, '1-30'],
    ['the pod\'s own in a namespace naming none', { podLabels: { 'istio.io/rev': '1-30' }, known, defaultTag: '1-31' }, '1-30'],
    ['the pod names the default tag', { podLabels: { 'istio.io/rev': 'default' }, known, defaultTag: '1-30' }, '1-30'],
    ['an unknown revision: none', { podLabels: { 'istio.io/rev': '1-20' }, known, defaultTag: '1-31' }, undefined],
    ['nothing names one', { known, defaultTag: '1-31' }, undefined],
  ];
  for (const [name, input, want] of rows) assert.equal(injectionRevision(input), want, name);
});

test('a step\'s rollout covers its namespaces, the tag\'s once the tag points at the revision, and waits for labels not moved yet', () => {
  const labels: Record<string, string> = { a: 'new', b: 'old', legacy: 'old', tagged: 'new' };
  const pointsAt = (ns: string) => labels[ns];
  assert.deepEqual(canaryRolloutScope({ revision: 'new', namespaces: ['a'], defaultTag: 'old', tagged: ['tagged'], pointsAt }), { namespaces: ['a'], waitingFor: [] });
  assert.deepEqual(canaryRolloutScope({ revision: 'new', namespaces: ['b', 'a'], defaultTag: 'old', tagged: ['tagged'], pointsAt }), { namespaces: ['a', 'b'], waitingFor: ['b'] });
  assert.deepEqual(canaryRolloutScope({ revision: 'new', namespaces: ['a'], defaultTag: 'new', tagged: ['tagged'], pointsAt }), { namespaces: ['a', 'tagged'], waitingFor: [] });
  // Rolling back: every enrolled namespace toward the old revision; a still on the new label is waited for.
  assert.deepEqual(canaryRolloutScope({ revision: 'old', namespaces: ['a', 'b'], defaultTag: 'old', tagged: [], pointsAt }), { namespaces: ['a', 'b'], waitingFor: ['a'] });
});
