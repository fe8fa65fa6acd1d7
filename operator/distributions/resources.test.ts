import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnsupportedSpecError } from './distribution.ts';
import { mergeResources, mergeResourcesWithinLimits, quantitiesAsStrings } from './resources.ts';

const profile = { requests: { cpu: '100m', memory: '20Mi' }, limits: { cpu: '1', memory: '250Mi' } };

test('spec resources merge over the profile quantity by quantity', () => {
  assert.deepEqual(mergeResources(profile, { requests: { memory: '64Mi' } }), { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '250Mi' } }, 'a request alone keeps the limits and the other request');
  assert.deepEqual(mergeResources(profile, { limits: { cpu: 2 } }), { requests: { cpu: '100m', memory: '20Mi' }, limits: { cpu: '2', memory: '250Mi' } }, 'numbers become strings');
  assert.deepEqual(mergeResources(profile, { requests: { 'ephemeral-storage': '1Gi' } })?.requests, { cpu: '100m', memory: '20Mi', 'ephemeral-storage': '1Gi' });
  assert.deepEqual(mergeResources(undefined, { requests: { cpu: '1' } }), { requests: { cpu: '1' } });
  assert.deepEqual(mergeResources(profile, undefined), profile);
  assert.equal(mergeResources(undefined, undefined), undefined);
  assert.deepEqual(mergeResources({}, {}), {}, 'no empty sections');
});

test('merging is pure: the inputs are untouched and the result shares nothing with them', () => {
  const base = structuredClone(profile);
  const override = { requests: { cpu: '1' } };
  const merged = mergeResources(base, override)!;
  merged.limits!.memory = '1Ti';
  assert.deepEqual(base, profile);
  assert.deepEqual(override, { requests: { cpu: '1' } });
});

test('spec quantities as strings keep only the sections the spec has', () => {
  assert.deepEqual(quantitiesAsStrings({ requests: { cpu: 1, memory: '1Gi' } }), { requests: { cpu: '1', memory: '1Gi' } });
  assert.equal(quantitiesAsStrings(undefined), undefined);
});

test('a merge whose request exceeds its limit is refused, naming both values and where each comes from', () => {
  const origin = { field: 'meshConfig.proxy.resources', profile: 'ha' };
  const refused = (override: Parameters<typeof mergeResources>[1], message: RegExp) => assert.throws(
    () => mergeResourcesWithinLimits(profile, override, origin),
    (e: unknown) => e instanceof UnsupportedSpecError && e.reason === 'ResourceRequestAboveLimit' && message.test(e.message),
    String(message),
  );
  refused({ requests: { memory: '512Mi' } }, /^meshConfig\.proxy\.resources\.requests\.memory \(512Mi\) exceeds the limit of profile ha \(memory: 250Mi\): set meshConfig\.proxy\.resources\.limits\.memory too, or request at most 250Mi\. The API server refuses/);
  refused({ limits: { memory: '16Mi' } }, /^the request of profile ha \(memory: 20Mi\) exceeds meshConfig\.proxy\.resources\.limits\.memory \(16Mi\): set meshConfig\.proxy\.resources\.requests\.memory too, or allow at least 20Mi/);
  refused({ requests: { cpu: 2 }, limits: { cpu: '1500m' } }, /requests\.cpu \(2\) exceeds meshConfig\.proxy\.resources\.limits\.cpu \(1500m\): lower .*requests\.cpu or raise .*limits\.cpu/);
  refused({ requests: { cpu: '2', memory: '1Gi' } }, /requests\.cpu \(2\) exceeds the limit of profile ha \(cpu: 1\).*\. meshConfig\.proxy\.resources\.requests\.memory \(1Gi\) exceeds/);
  // Equal is allowed (Guaranteed QoS), and so are spellings of the same amount.
  assert.deepEqual(mergeResourcesWithinLimits(profile, { requests: { memory: '256000Ki', cpu: '1000m' } }, origin), { requests: { cpu: '1000m', memory: '256000Ki' }, limits: { cpu: '1', memory: '250Mi' } });
  assert.deepEqual(mergeResourcesWithinLimits(profile, { requests: { memory: '64Mi' } }, origin)?.requests, { cpu: '100m', memory: '64Mi' });
  assert.equal(mergeResourcesWithinLimits(undefined, undefined, origin), undefined);
});
