import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import { renderOffline } from '../../cli/render.ts';
import { builtInDistributions } from '../../distributions/built-in.ts';
import { applyOrder } from '../../runtime/apply.ts';
import type { KubeObject, TypeRef } from '../../runtime/kube.ts';
import { applyWaves, customKinds, untilServed, waveOf } from './apply-waves.ts';

const o = (kind: string, name: string, namespace?: string, apiVersion = 'v1'): KubeObject => ({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });

test('applyWaves: a table of kinds → waves, empty waves left out, order within a wave kept', () => {
  const objects = [
    o('ValidatingWebhookConfiguration', 'v', undefined, 'admissionregistration.k8s.io/v1'),
    o('Deployment', 'd', 'ns', 'apps/v1'),
    o('PeerAuthentication', 'p', 'ns', 'security.istio.io/v1'),
    o('RoleBinding', 'rb', 'ns', 'rbac.authorization.k8s.io/v1'),
    o('ConfigMap', 'b', 'ns'),
    o('ConfigMap', 'a', 'ns'),
    o('CustomResourceDefinition', 'crd', undefined, 'apiextensions.k8s.io/v1'),
    o('Namespace', 'ns'),
  ];
  assert.deepEqual(applyWaves(objects).map(({ wave, objects: members }) => [wave, members.map((m) => `${m.kind}/${m.metadata.name}`)]), [
    [0, ['CustomResourceDefinition/crd', 'Namespace/ns']],
    [1, ['ConfigMap/b', 'ConfigMap/a']],
    [2, ['RoleBinding/rb']],
    [3, ['Deployment/d', 'PeerAuthentication/p']],
    [4, ['ValidatingWebhookConfiguration/v']],
  ]);
  assert.deepEqual(applyWaves([]), []);
  assert.deepEqual(applyWaves([o('Secret', 's', 'ns')]).map((w) => w.wave), [1], 'a wave keeps its number when earlier ones are empty');
});

/** What must be applied in an earlier wave than an object of `kind` (see apply-waves.ts). */
const prerequisites: Record<string, (other: KubeObject, object: KubeObject) => boolean> = {
  namespaced: (other, object) => other.kind === 'Namespace' && other.metadata.name === object.metadata.namespace,
  binding: (other, object) => object.kind.endsWith('Binding') && other.kind === object.kind.replace('Binding', ''),
  workload: (other, object) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(object.kind) && ['ServiceAccount', 'ConfigMap', 'Secret', 'Service', 'RoleBinding', 'ClusterRoleBinding', 'Role', 'ClusterRole'].includes(other.kind),
  customResource: (other, object) => !['v1', 'apps/v1'].includes(object.apiVersion) && other.kind === 'CustomResourceDefinition' && object.apiVersion.startsWith(`${(other as { spec?: { group?: string } }).spec?.group}/`),
  webhookLast: (other, object) => object.kind.endsWith('WebhookConfiguration') && !other.kind.endsWith('WebhookConfiguration'),
};

for (const mesh of ['istio', 'linkerd'] as const) {
  test(`applyWaves on ${mesh}'s render: every prerequisite of an object is in an earlier wave, and there are fewer waves than the runtime's apply ranks`, () => {
    const example = parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'examples', `${mesh}-minimal.yaml`), 'utf8')) as { spec: Record<string, unknown> };
    const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'waves' }, spec: withSpecDefaults({ ...example.spec, namespace: 'waves' } as never) } as DefaultedMeshInstallation;
    const objects = renderOffline(installation, builtInDistributions);
    const waves = applyWaves(objects);
    assert.equal(waves.flatMap((w) => w.objects).length, objects.length, 'every object in exactly one wave');
    const waveOfObject = new Map(waves.flatMap(({ wave, objects: members }) => members.map((m) => [m, wave] as const)));
    let checked = 0;
    for (const object of objects) {
      for (const other of objects) {
        for (const [rule, holds] of Object.entries(prerequisites)) {
          if (other === object || !holds(other, object)) continue;
          checked++;
          assert.ok(waveOfObject.get(other)! < waveOfObject.get(object)!, `${rule}: ${other.kind}/${other.metadata.name} (wave ${waveOfObject.get(other)}) before ${object.kind}/${object.metadata.name} (wave ${waveOfObject.get(object)})`);
        }
      }
    }
    assert.ok(checked > objects.length, `the rules applied to this render (${checked} pairs)`);
    const ranks = new Set(applyOrder(objects).map((x) => x.kind)).size;
    assert.ok(waves.length < ranks, `${waves.length} waves instead of ${ranks} kinds one after another`);
  });
}

test('waveOf: custom resources go with the workloads, webhooks last', () => {
  assert.equal(waveOf('PeerAuthentication'), waveOf('Deployment'));
  assert.equal(Math.max(...['Namespace', 'Deployment', 'Server', 'MutatingWebhookConfiguration'].map(waveOf)), waveOf('ValidatingWebhookConfiguration'));
});

test('customKinds: each custom apiVersion/kind once, built-in kinds left out', () => {
  assert.deepEqual(customKinds([o('PeerAuthentication', 'a', 'ns', 'security.istio.io/v1'), o('PeerAuthentication', 'b', 'ns', 'security.istio.io/v1'), o('Deployment', 'd', 'ns', 'apps/v1'), o('Server', 's', 'ns', 'policy.linkerd.io/v1beta3')]),
    [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' }, { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server' }]);
});

test('untilServed: polls while a kind answers 404, returns at once when all are served, gives up at the deadline, and rethrows other errors', async () => {
  let now = 0;
  const sleep = async (ms: number) => { now += ms; };
  const notFound = Object.assign(new Error('not served'), { status: 404 });
  const servedAfter = (ms: number) => async (_kind: TypeRef) => { if (now < ms) throw notFound; };
  const kind = { apiVersion: 'x.io/v1', kind: 'X' };
  await untilServed([kind], servedAfter(120), { intervalMs: 50, timeoutMs: 10_000, now: () => now, sleep });
  assert.equal(now, 150, 'three polls: at 0, 50 and 100 ms still 404, served at 150');
  now = 0;
  await untilServed([kind], servedAfter(0), { now: () => now, sleep });
  assert.equal(now, 0, 'served: no wait');
  now = 0;
  await untilServed([kind], servedAfter(Infinity), { intervalMs: 50, timeoutMs: 1_000, now: () => now, sleep });
  assert.equal(now, 1_000, 'never served: gives up at the deadline (the apply then reports it)');
  await assert.rejects(untilServed([kind], async () => { throw Object.assign(new Error('forbidden'), { status: 403 }); }, { now: () => now, sleep }), /forbidden/);
});
