import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOrder, applyStages, deleteOrder, isSubset, needsApply } from './apply.ts';
import type { KubeObject } from './kube.ts';

/** A Deployment shape loose enough to edit in tests. */
type EditableDeployment = KubeObject & { spec: { replicas?: number; strategy?: unknown; template: { spec: { containers: Array<Record<string, unknown> & { image: string; env: Array<{ name: string; value: string }>; ports: Array<Record<string, unknown>> }> } } }; status?: unknown };

const deployment = (replicas: number | undefined, env: Array<{ name: string; value: string }>): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod', 'meshwright.dev/installation': 'default' } },
  spec: {
    ...(replicas === undefined ? {} : { replicas }),
    template: { spec: { containers: [{ name: 'discovery', image: 'pilot:1', args: ['discovery', '--log'], env, ports: [{ containerPort: 8080, protocol: 'TCP' }] }] } },
  },
});

test('a live object carrying server defaults and status still satisfies the desired one', () => {
  const desired = deployment(2, [{ name: 'A', value: '1' }]);
  const live = structuredClone(desired) as EditableDeployment;
  live.metadata = { ...live.metadata, uid: 'u', resourceVersion: '7', labels: { ...live.metadata.labels, extra: 'x' }, managedFields: [] };
  live.spec.strategy = { type: 'RollingUpdate' };
  live.spec.template.spec.containers[0]!.imagePullPolicy = 'IfNotPresent';
  live.spec.template.spec.containers[0]!.ports[0]!.hostPort = undefined;
  live.status = { replicas: 2 };
  assert.equal(needsApply(desired, live), false);
});

test('a foreign edit of a declared field, a removed label or a missing object needs an apply', () => {
  const desired = deployment(2, [{ name: 'A', value: '1' }]);
  const edited = structuredClone(desired) as EditableDeployment;
  edited.spec.template.spec.containers[0]!.image = 'evil:1';
  assert.equal(needsApply(desired, edited), true);
  const unlabelled = structuredClone(desired);
  delete unlabelled.metadata.labels!.app;
  assert.equal(needsApply(desired, unlabelled), true);
  const envChanged = structuredClone(desired) as EditableDeployment;
  envChanged.spec.template.spec.containers[0]!.env[0]!.value = '2';
  assert.equal(needsApply(desired, envChanged), true);
  assert.equal(needsApply(desired, undefined), true);
});

test('fields we do not declare (HPA-owned replicas) are not fought over', () => {
  const desired = deployment(undefined, []);
  const scaled = structuredClone(desired) as EditableDeployment;
  scaled.spec.replicas = 7;
  assert.equal(needsApply(desired, scaled), false);
});

test('associative lists compare by key; elements another writer added are not ours', () => {
  assert.equal(isSubset([{ name: 'a', value: '1' }], [{ name: 'b', value: '2' }, { name: 'a', value: '1' }]), true);
  assert.equal(isSubset([{ name: 'a', value: '1' }], [{ name: 'a', value: '2' }]), false);
  assert.equal(isSubset([{ port: 80, protocol: 'TCP' }, { port: 80, protocol: 'UDP', name: 'u' }], [{ port: 80, protocol: 'UDP', name: 'u' }, { port: 80, protocol: 'TCP' }]), true, 'ports are keyed by port and protocol');
});

test('a list whose "keys" repeat is compared element for element, not collapsed by key', () => {
  const inventory = [{ kind: 'ServiceAccount', name: 'controller' }, { kind: 'Deployment', name: 'controller' }];
  assert.equal(isSubset(inventory, structuredClone(inventory)), true);
  assert.equal(isSubset(inventory, [{ kind: 'Deployment', name: 'controller' }, { kind: 'Deployment', name: 'controller' }]), false);
});

test('atomic lists (args) must match element for element', () => {
  assert.equal(isSubset(['discovery', '--log'], ['discovery', '--log']), true);
  assert.equal(isSubset(['discovery', '--log'], ['discovery', '--log', '--evil']), false);
  assert.equal(isSubset(['discovery', '--log'], ['--log', 'discovery']), false);
});

test('scalars compare by value; an int-or-string written as a number matches its string form', () => {
  assert.equal(isSubset(8080, '8080'), true);
  assert.equal(isSubset('25%', '25%'), true);
  assert.equal(isSubset(true, 'true'), false);
  assert.equal(isSubset({ a: null }, { b: 1 }), true, 'explicit null means absent');
  assert.equal(isSubset({ a: null }, { a: 1 }), false);
});

test('apply order puts namespaces and CRDs first and webhooks last; delete order starts with webhooks', () => {
  const kinds = ['ValidatingWebhookConfiguration', 'Deployment', 'Namespace', 'PeerAuthentication', 'CustomResourceDefinition', 'ClusterRole', 'Service', 'MutatingWebhookConfiguration'];
  const objects = kinds.map((kind) => ({ apiVersion: 'v1', kind }));
  assert.deepEqual(applyOrder(objects).map((o) => o.kind), ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'Service', 'Deployment', 'PeerAuthentication', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
  assert.deepEqual(deleteOrder(objects).map((o) => o.kind), ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'PeerAuthentication', 'Deployment', 'Service', 'ClusterRole', 'CustomResourceDefinition', 'Namespace']);
});

test('what the API server normalises is not a difference: omitted zero values, canonical quantities', () => {
  assert.ok(isSubset({ env: [{ name: 'A', value: '' }], readOnly: false, port: 0 }, { env: [{ name: 'A' }] }), 'omitempty drops "", false and 0');
  assert.ok(isSubset({ resources: { requests: { memory: '2048Mi', cpu: '0.5' }, limits: { cpu: 2 } } }, { resources: { requests: { memory: '2Gi', cpu: '500m' }, limits: { cpu: '2' } } }));
  assert.ok(!isSubset({ resources: { requests: { memory: '2048Mi' } } }, { resources: { requests: { memory: '2G' } } }), 'Mi and G are different amounts');
  assert.ok(!isSubset({ env: [{ name: 'A', value: '' }] }, { env: [{ name: 'A', value: 'x' }] }), 'a foreign value is still drift');
  assert.ok(!isSubset({ image: 'istio/pilot:1.31.1' }, { image: 'istio/pilot:1.31.10' }));
});

test('only quantity fields compare by amount: "01" and "1" differ in an env var or ConfigMap data, 2048Mi and 2Gi are equal under resources', () => {
  const container = (env: string, memory: string, sizeLimit: string) => ({
    spec: { template: { spec: {
      containers: [{ name: 'c', env: [{ name: 'WORKERS', value: env }], resources: { requests: { memory, 'ephemeral-storage': memory }, limits: { memory } } }],
      volumes: [{ name: 'scratch', emptyDir: { sizeLimit } }],
      overhead: { memory },
    } } },
  });
  assert.ok(isSubset(container('1', '2048Mi', '1024Mi'), container('1', '2Gi', '1Gi')), 'resources, overhead and emptyDir.sizeLimit are quantities');
  assert.ok(!isSubset(container('01', '2Gi', '1Gi'), container('1', '2Gi', '1Gi')), 'an env var value is a string');
  assert.ok(!isSubset(container('1000m', '2Gi', '1Gi'), container('1', '2Gi', '1Gi')), 'even one that looks like a quantity');
  assert.ok(!isSubset(container('1', '2Gi', '1Gi'), container('1', '2G', '1Gi')), 'a different amount under resources is drift');
  assert.ok(!isSubset({ data: { replicas: '01', size: '2048Mi' } }, { data: { replicas: '1', size: '2048Mi' } }), 'ConfigMap data is text');
  assert.ok(!isSubset({ data: { size: '2048Mi' } }, { data: { size: '2Gi' } }), 'ConfigMap data is text');
  assert.ok(!isSubset({ metadata: { annotations: { n: '1e3' } } }, { metadata: { annotations: { n: '1000' } } }));
  assert.ok(isSubset({ spec: { hard: { 'requests.cpu': '1000m' } } }, { spec: { hard: { 'requests.cpu': '1' } } }), 'ResourceQuota hard');
  assert.ok(!isSubset({ spec: { template: { hard: { x: '1000m' } } } }, { spec: { template: { hard: { x: '1' } } } }), '"hard" elsewhere is not a quota');
  assert.ok(isSubset({ env: [{ name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1000m' } } }] }, { env: [{ name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } }] }), 'divisor');
  assert.ok(isSubset({ resources: { limits: { cpu: 0.5 } } }, { resources: { limits: { cpu: '500m' } } }), 'a number under resources');
  assert.ok(!isSubset({ value: 0.5 }, { value: '500m' }), 'a number elsewhere compares by its spelling');
});

test('a port that declares no protocol is the TCP port the API server defaulted', () => {
  assert.ok(isSubset({ ports: [{ name: 'grpc', port: 8086, targetPort: 8086 }, { name: 'admin', port: 9996 }] }, { ports: [{ name: 'admin', port: 9996, protocol: 'TCP' }, { name: 'grpc', port: 8086, protocol: 'TCP', targetPort: 8086 }] }));
  assert.ok(!isSubset({ ports: [{ port: 53 }] }, { ports: [{ port: 53, protocol: 'UDP' }] }), 'UDP 53 is another port');
});

test('apply stages group what may go out together, in dependency order', () => {
  const objects = [
    { apiVersion: 'apps/v1', kind: 'Deployment' }, { apiVersion: 'v1', kind: 'ServiceAccount' }, { apiVersion: 'v1', kind: 'Namespace' },
    { apiVersion: 'v1', kind: 'ConfigMap' }, { apiVersion: 'v1', kind: 'Secret' }, { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
    { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' }, { apiVersion: 'apps/v1', kind: 'Deployment' },
  ];
  assert.deepEqual(applyStages(objects).map((stage) => stage.map((o) => o.kind)), [
    ['Namespace'], ['ServiceAccount'], ['ConfigMap', 'Secret'], ['Deployment', 'Deployment'], ['PeerAuthentication'], ['ValidatingWebhookConfiguration'],
  ]);
});
