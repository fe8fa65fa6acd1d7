import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { UnsupportedSpecError } from './distribution.ts';
import { istioDistribution } from './istio/index.ts';
import { applyJsonPatch, JsonPatchError } from './json-patch.ts';
import { applyOverlays, renderInstallation } from './render.ts';

const deployment = (): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } },
  spec: { template: { spec: { containers: [{ name: 'discovery', env: [{ name: 'A', value: '1' }] }] } } },
});

test('JSON Patch: each operation of RFC 6902, on a copy', () => {
  const doc = { a: { b: [1, 2, 3] }, 'x/y': { '~k': 1 } };
  const patched = applyJsonPatch(doc, [
    { op: 'add', path: '/a/b/1', value: 9 },
    { op: 'add', path: '/a/b/-', value: 4 },
    { op: 'remove', path: '/a/b/0' },
    { op: 'replace', path: '/x~1y/~0k', value: 2 },
    { op: 'copy', from: '/a/b', path: '/c' },
    { op: 'move', from: '/c', path: '/d' },
    { op: 'test', path: '/d', value: [9, 2, 3, 4] },
  ]);
  assert.deepEqual(patched, { a: { b: [9, 2, 3, 4] }, 'x/y': { '~k': 2 }, d: [9, 2, 3, 4] });
  assert.deepEqual(doc, { a: { b: [1, 2, 3] }, 'x/y': { '~k': 1 } }, 'input untouched');
});

test('JSON Patch: failures name the operation and the reason', () => {
  const cases: Array<[Parameters<typeof applyJsonPatch>[1], RegExp]> = [
    [[{ op: 'replace', path: '/nope', value: 1 }], /op replace at \/nope: path \/nope does not exist/],
    [[{ op: 'add', path: '/a/b/7', value: 1 }], /index 7 is out of bounds/],
    [[{ op: 'test', path: '/a/b/0', value: 2 }], /test failed: \/a\/b\/0 is 1, not 2/],
    [[{ op: 'add', path: '/a/x' }], /needs a value/],
    [[{ op: 'move', from: '/a', path: '/a/c' }], /into its own child/],
  ];
  for (const [ops, message] of cases) {
    assert.throws(() => applyJsonPatch({ a: { b: [1] } }, ops), (e: unknown) => e instanceof JsonPatchError && message.test(e.message), String(message));
  }
});

test('overlays patch the named rendered object, last and in order', () => {
  const [patched] = applyOverlays([deployment()], [
    { apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system', patches: [{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'B', value: '2' } }] },
    { apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system', patches: [{ op: 'replace', path: '/spec/template/spec/containers/0/env/1/value', value: '3' }] },
  ]);
  assert.deepEqual((patched!.spec as { template: { spec: { containers: Array<{ env: unknown[] }> } } }).template.spec.containers[0]!.env, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }]);
});

test('an overlay whose target is not rendered, or whose patch fails, stalls the spec with a message naming it', () => {
  assert.throws(
    () => applyOverlays([deployment()], [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiodd', namespace: 'istio-system', patches: [{ op: 'remove', path: '/spec' }] }]),
    (e: unknown) => e instanceof UnsupportedSpecError && e.reason === 'OverlayTargetNotFound' && e.message.includes('spec.overlays[0] targets apps/v1 Deployment istio-system/istiodd') && e.message.includes('rendered Deployment objects: istio-system/istiod'),
  );
  assert.throws(
    () => applyOverlays([deployment()], [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system', patches: [{ op: 'test', path: '/metadata/labels/app', value: 'x' }] }]),
    (e: unknown) => e instanceof UnsupportedSpecError && e.reason === 'OverlayInvalid' && /patches\[0\]: op test at \/metadata\/labels\/app: test failed/.test(e.message),
  );
  assert.throws(
    () => applyOverlays([deployment()], [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system', patches: [{ op: 'replace', path: '/metadata/name', value: 'other' }] }]),
    (e: unknown) => e instanceof UnsupportedSpecError && /identity/.test(e.message),
  );
});

test('an overlay on an object holding private keys is refused, naming it and quoting nothing: declared by the mesh (also where not rendered, offline), or found carrying a key', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
  const probe = { op: 'test' as const, path: '/data/ca-key.pem', value: 'guess' };
  const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', overlays: [{ apiVersion: 'v1', kind: 'Secret', name: 'cacerts', namespace: 'istio-system', patches: [probe] }] }) } as DefaultedMeshInstallation;
  const refusal = (e: unknown) => e instanceof UnsupportedSpecError && e.reason === 'OverlayTargetHoldsKeys' && e.terminal
    && /^spec.overlays\[0\] targets v1 Secret istio-system\/cacerts, which holds private key material: overlays on such objects are refused/.test(e.message) && !/guess|MIGH/.test(e.message);
  // Offline there is no CA material, so cacerts is not rendered: the mesh's declaration still refuses it.
  assert.throws(() => renderInstallation(istioDistribution, { installation, resolved: istioDistribution.resolve(installation) }), refusal);
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data: { 'ca-key.pem': Buffer.from(key).toString('base64') } } as KubeObject;
  assert.throws(() => applyOverlays([secret], [{ apiVersion: 'v1', kind: 'Secret', name: 'cacerts', namespace: 'istio-system', patches: [probe] }]), refusal, 'undeclared, but it carries a key');
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'roots', namespace: 'istio-system' }, data: { 'root-cert.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } } as KubeObject;
  assert.deepEqual(applyOverlays([configMap], [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'roots', namespace: 'istio-system', patches: [{ op: 'add', path: '/data/x', value: 'y' }] }])[0]!.metadata.name, 'roots', 'certificates are public: overlays on them are allowed');
});
