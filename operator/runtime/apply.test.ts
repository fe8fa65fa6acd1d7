import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOrder, applyStages, deleteOrder, isSubset, needsApply } from './apply.ts';
import type { KubeObject } from './kube.ts';
import type { SchemaNode } from './list-semantics.ts';
import { capturedSchema } from './testdata/openapi/index.ts';

const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };

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

test('without a schema every list is atomic: an element another writer added is drift, order matters', () => {
  assert.equal(isSubset([{ name: 'a', value: '1' }], [{ name: 'b', value: '2' }, { name: 'a', value: '1' }]), false, 'the old guess "shares a name field, so it is a map list" is gone');
  assert.equal(isSubset([{ name: 'a', value: '1' }], [{ name: 'a', value: '1', defaulted: true }]), true, 'fields inside an element are still compared as a subset');
  const inventory = [{ kind: 'ServiceAccount', name: 'controller' }, { kind: 'Deployment', name: 'controller' }];
  assert.equal(isSubset(inventory, structuredClone(inventory)), true);
  assert.equal(isSubset(inventory, [{ kind: 'Deployment', name: 'controller' }, { kind: 'Deployment', name: 'controller' }]), false);
  assert.equal(isSubset(inventory, [...inventory].reverse()), false);
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

// With the schemas the API server publishes (captured in testdata/openapi): each list as server-side apply merges it.
const crbType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' };
const webhookType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' };
const serviceType = { apiVersion: 'v1', kind: 'Service' };

/** `live` as `edit` leaves a copy of it. */
function edited<T>(live: T, edit: (copy: T) => void): T {
  const copy = structuredClone(live);
  edit(copy);
  return copy;
}

/** The pod spec of a test Deployment, loosely typed to add fields to. */
const podSpec = (d: EditableDeployment) => d.spec.template.spec as Record<string, unknown>;

test('RBAC subjects and rules are atomic: an added subject or rule is drift, with the schema and without one', () => {
  const binding = { subjects: [{ kind: 'ServiceAccount', name: 'controller', namespace: 'mesh' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mesh' } };
  const escalated = edited(binding, (b) => b.subjects.push({ kind: 'ServiceAccount', name: 'evil', namespace: 'mesh' }));
  assert.equal(isSubset(binding, escalated, capturedSchema(crbType)), false);
  assert.equal(isSubset(binding, escalated), false, 'an unknown schema is atomic too');
  assert.equal(isSubset(binding, edited(binding, (b) => b.subjects.unshift({ kind: 'User', name: 'evil', namespace: '' }))), false, 'wherever it is added');
  assert.equal(isSubset(binding, structuredClone(binding), capturedSchema(crbType)), true);
  const role = { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] };
  const schema = capturedSchema({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' });
  assert.equal(isSubset(role, edited(role, (r) => r.rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['list'] })), schema), false);
  assert.equal(isSubset(role, edited(role, (r) => r.rules[0]!.verbs.push('delete')), schema), false, 'lists inside an atomic element are whole too');
  assert.equal(isSubset(role, edited(role, (r) => r.rules[0]!.resources.push('secrets')), schema), false);
});

test('the roleRef, a selector and a nodeSelector are atomic maps: a key another writer adds is drift', () => {
  const binding = { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mesh' } };
  assert.equal(isSubset(binding, { roleRef: { ...binding.roleRef, extra: 'x' } }, capturedSchema(crbType)), true, 'a struct field we do not declare may be a default: not compared');
  const service = { spec: { selector: { app: 'istiod' }, ports: [{ port: 15010 }] } };
  assert.equal(isSubset(service, edited(service, (s) => Object.assign(s.spec.selector, { tier: 'hijack' })), capturedSchema(serviceType)), false, 'Service selector: x-kubernetes-map-type atomic');
  const pods = deployment(undefined, []) as EditableDeployment;
  const placed = edited(pods, (d) => Object.assign(podSpec(d), { nodeSelector: { role: 'infra' } }));
  assert.equal(needsApply(placed, edited(placed, (d) => Object.assign(podSpec(d).nodeSelector as object, { zone: 'elsewhere' })), capturedSchema(deploymentType)), true);
  assert.equal(needsApply(placed, structuredClone(placed), capturedSchema(deploymentType)), false);
});

test('Deployment: args and tolerations are atomic; containers, env and ports are map lists by their keys', () => {
  const schema = capturedSchema(deploymentType);
  const desired = deployment(undefined, [{ name: 'A', value: '1' }]) as EditableDeployment;
  const live = edited(desired, (d) => Object.assign(d.spec.template.spec.containers[0]!, { terminationMessagePath: '/dev/termination-log', imagePullPolicy: 'IfNotPresent' }));
  assert.equal(needsApply(desired, live, schema), false, 'defaults inside a container are not ours');
  const container = (d: EditableDeployment) => d.spec.template.spec.containers[0]! as unknown as { args: string[]; env: Array<{ name: string; value: string }> };
  assert.equal(needsApply(desired, edited(live, (d) => container(d).args.push('--evil')), schema), true, 'an extra arg');
  assert.equal(needsApply(desired, edited(live, (d) => container(d).args.reverse()), schema), true, 'args in another order');
  // Not a difference of what we declare: an element with another key is found, and removed, by who
  // wrote it where the object is ours whole (drift-rule.ts's additions), not by comparing values.
  assert.equal(needsApply(desired, edited(live, (d) => container(d).env.push({ name: 'B', value: '2' })), schema), false, 'env is keyed by name');
  assert.equal(needsApply(desired, edited(live, (d) => d.spec.template.spec.containers.unshift({ name: 'sidecar', image: 'x', env: [], ports: [] })), schema), false, 'containers are keyed by name, in any order');
  assert.equal(needsApply(desired, edited(live, (d) => container(d).env.push({ name: 'A', value: 'evil' })), schema), true, 'a second env var of our name hides ours');
  assert.equal(needsApply(desired, edited(live, (d) => { container(d).env[0]!.value = 'evil'; }), schema), true);
  const tolerant = edited(desired, (d) => Object.assign(podSpec(d), { tolerations: [{ key: 'mesh', operator: 'Exists' }] }));
  assert.equal(needsApply(tolerant, edited(tolerant, (d) => (podSpec(d).tolerations as object[]).push({ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' })), schema), true, 'an added toleration');
  const portsOnly = (ports: Array<Record<string, unknown>>) => ({ spec: { template: { spec: { containers: [{ name: 'c', ports }] } } } });
  assert.equal(isSubset(portsOnly([{ containerPort: 53 }, { containerPort: 53, protocol: 'UDP' }]), portsOnly([{ containerPort: 53, protocol: 'UDP' }, { containerPort: 53, protocol: 'TCP' }, { containerPort: 9090, protocol: 'TCP' }]), schema), true, 'ports keyed by containerPort and protocol, an undeclared protocol being its default TCP');
  assert.equal(isSubset(portsOnly([{ containerPort: 53 }]), portsOnly([{ containerPort: 53, protocol: 'UDP' }]), schema), false, 'UDP 53 is another port');
});

test('webhook rules are atomic (the defaulted scope inside a rule is not ours); webhooks are keyed by name; an injected caBundle is not ours', () => {
  const schema = capturedSchema(webhookType);
  const desired = { webhooks: [{ name: 'validation.mesh', admissionReviewVersions: ['v1'], clientConfig: { service: { name: 'istiod', namespace: 'mesh' } }, objectSelector: { matchLabels: { a: 'b' } }, rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] }] };
  const live = edited(desired, (w) => {
    Object.assign(w.webhooks[0]!.rules[0]!, { scope: '*' });
    Object.assign(w.webhooks[0]!.clientConfig, { caBundle: 'Q0E=' });
    Object.assign(w.webhooks[0]!.clientConfig.service, { port: 443 });
    Object.assign(w.webhooks[0]!, { matchPolicy: 'Equivalent', namespaceSelector: {}, timeoutSeconds: 10 });
  });
  assert.equal(isSubset(desired, live, schema), true);
  assert.equal(isSubset(desired, edited(live, (w) => w.webhooks[0]!.rules.push({ apiGroups: ['*'], apiVersions: ['*'], operations: ['CREATE'], resources: ['pods'] })), schema), false, 'an added rule');
  assert.equal(isSubset(desired, edited(live, (w) => w.webhooks[0]!.admissionReviewVersions.push('v1beta1')), schema), false);
  assert.equal(isSubset(desired, edited(live, (w) => Object.assign(w.webhooks[0]!.objectSelector.matchLabels, { c: 'd' })), schema), false, 'a LabelSelector is atomic: its matchLabels hold our keys only');
  assert.equal(isSubset(desired, edited(live, (w) => w.webhooks.push({ ...structuredClone(w.webhooks[0]!), name: 'other.mesh' })), schema), true, 'another webhook is another field (issue 20 takes it over)');
});

test('Service ports are keyed by port and protocol; a port that declares no protocol is the TCP port the API server defaulted', () => {
  const schema = capturedSchema(serviceType);
  assert.ok(isSubset({ spec: { ports: [{ name: 'grpc', port: 8086, targetPort: 8086 }, { name: 'admin', port: 9996 }] } }, { spec: { ports: [{ name: 'admin', port: 9996, protocol: 'TCP' }, { name: 'grpc', port: 8086, protocol: 'TCP', targetPort: 8086 }] } }, schema));
  assert.ok(!isSubset({ spec: { ports: [{ port: 53 }] } }, { spec: { ports: [{ port: 53, protocol: 'UDP' }] } }, schema), 'UDP 53 is another port');
});

test('a set holds each of our values in any order, and values another writer added', () => {
  const set: SchemaNode = { type: 'array', listType: { type: 'set' }, items: { type: 'string' } };
  assert.ok(isSubset(['a', 'b'], ['b', 'c', 'a'], set));
  assert.ok(!isSubset(['a', 'b'], ['b', 'c'], set));
  assert.ok(!isSubset({ s: ['a'], inner: { s: ['a'] } }, { s: ['a'], inner: { s: ['a', 'x'] } }, { type: 'object', mapType: 'atomic', properties: new Map<string, SchemaNode>([['s', set], ['inner', { type: 'object', properties: new Map([['s', set]]) }]]) }), 'inside an atomic map a set is part of the one value');
});
