import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  additions, culprits, DEFAULT_CONTEST_POLICY, DriftReferee, foreignFields, formatPath, inOwnedWhole, judgeRepair, managedFieldsTransform, OUR_MANAGERS, pointerOf, removalPatch,
  type ContestPolicy, type ContestState, type Culprit,
} from './drift-rule.ts';
import type { KubeObject } from './kube.ts';

/**
 * A Deployment as the API server returned it in the experiment behind the rule (kubectl against
 * the local cluster): applied by `meshwright`, then a JSON patch by `intruder` adding a sidecar,
 * an env var, a privileged securityContext and hostNetwork; kube-controller-manager wrote the
 * revision annotation and status; an HPA set replicas through the scale subresource; `kubectl
 * rollout restart` annotated the template.
 */
function liveDeployment(): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: {
      name: 'istiod', namespace: 'istio-system', resourceVersion: '42',
      annotations: { 'deployment.kubernetes.io/revision': '2' },
      managedFields: [
        { manager: 'meshwright', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:meshwright.dev/installation': {} } }, 'f:spec': { 'f:selector': {}, 'f:template': { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } }, 'f:image': {}, 'f:name': {} } } } } } } },
        { manager: 'intruder', operation: 'Update', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"main"}': { 'f:env': { 'k:{"name":"B"}': { '.': {}, 'f:name': {}, 'f:value': {} } }, 'f:securityContext': { '.': {}, 'f:privileged': {} } }, 'k:{"name":"side"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:resources': {}, 'f:terminationMessagePath': {}, 'f:terminationMessagePolicy': {} } }, 'f:hostNetwork': {} } } } } },
        { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:deployment.kubernetes.io/revision': {} } } } },
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': { 'f:replicas': {} } } },
        { manager: 'hpa', operation: 'Update', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
        { manager: 'kubectl-rollout', operation: 'Update', fieldsV1: { 'f:spec': { 'f:template': { 'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/restartedAt': {} } } } } } },
      ],
    },
    spec: {
      replicas: 5,
      selector: { matchLabels: { app: 'istiod' } },
      template: {
        metadata: { labels: { app: 'istiod' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-27T14:00:00Z' } },
        spec: {
          hostNetwork: true,
          containers: [
            { name: 'main', image: 'x', terminationMessagePath: '/dev/termination-log', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], securityContext: { privileged: true } },
            { name: 'side', image: 'evil', terminationMessagePath: '/dev/termination-log' },
          ],
          securityContext: {},
        },
      },
    },
    status: { replicas: 5 },
  };
}

const desiredDeployment = (): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: 'istio-system' },
  spec: { selector: { matchLabels: { app: 'istiod' } }, template: { metadata: { labels: { app: 'istiod' } }, spec: { containers: [{ name: 'main', image: 'x', env: [{ name: 'A', value: '1' }] }] } } },
});

test('foreign fields: each at its topmost point that is not ours, status and our own managers left out', () => {
  const found = foreignFields(liveDeployment()).map((f) => `${f.manager}: ${formatPath(f.path)}`).sort();
  assert.deepEqual(found, [
    'hpa: spec.replicas',
    'intruder: spec.template.spec.containers[name=main].env[name=B]',
    'intruder: spec.template.spec.containers[name=main].securityContext',
    'intruder: spec.template.spec.containers[name=side]',
    'intruder: spec.template.spec.hostNetwork',
    'kube-controller-manager: metadata.annotations',
    'kubectl-rollout: spec.template.metadata.annotations',
  ]);
});

test('additions: only what others wrote where the object is ours whole; an HPA, a rollout restart, the revision annotation stay', () => {
  assert.deepEqual(additions(liveDeployment()).map((f) => formatPath(f.path)).sort(), [
    'spec.template.spec.containers[name=main].env[name=B]',
    'spec.template.spec.containers[name=main].securityContext',
    'spec.template.spec.containers[name=side]',
    'spec.template.spec.hostNetwork',
  ]);
});

test('a field another manager shares with us (it applied the same value) is ours; one of our managers writing plainly is ours', () => {
  const live = liveDeployment();
  live.metadata.managedFields = [
    { manager: 'meshwright', operation: 'Apply', fieldsV1: { 'f:data': { 'f:a': {} } } },
    { manager: 'other-apply', operation: 'Apply', fieldsV1: { 'f:data': { 'f:a': {} } } },
    { manager: 'meshwright-operator', operation: 'Update', fieldsV1: { 'f:data': { 'f:ca.key': {} } } },
  ];
  const configMap = { ...live, kind: 'ConfigMap' };
  assert.ok(OUR_MANAGERS.has('meshwright-operator'), 'plain writes carry our user agent\'s name');
  assert.deepEqual(additions(configMap), []);
});

test('a field we declare is never an addition, whoever wrote it last (the CA state Secret is created under the client\'s user agent)', () => {
  const live = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'meshwright-ca', managedFields: [{ manager: 'my-test-operator', operation: 'Update', fieldsV1: { 'f:data': { 'f:issuer.key': {}, 'f:extra': {} } } }] }, data: { 'issuer.key': 'a2V5', extra: 'eA==' } };
  const desired = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'meshwright-ca' }, data: { 'issuer.key': 'a2V5' } };
  assert.deepEqual(additions(live, desired).map((f) => formatPath(f.path)), ['data.extra']);
  assert.deepEqual(additions(live).map((f) => formatPath(f.path)), ['data'], 'without a desired object, everything of another manager counts, at its topmost point');
});

test('objects without managedFields (a kind the rule does not cover, or a cache that dropped them) have no additions', () => {
  const live = liveDeployment();
  delete live.metadata.managedFields;
  assert.deepEqual(additions(live), []);
});

test('the rule by kind: what is ours whole, and the exceptions inside it', () => {
  const f = (...names: string[]) => names.map((field) => ({ field }));
  const cases: Array<[string, ReturnType<typeof f>, boolean]> = [
    ['Deployment', f('spec', 'template', 'spec', 'volumes'), true],
    ['Deployment', f('spec', 'template', 'spec', 'nodeSelector'), true],
    ['Deployment', f('spec', 'template', 'spec', 'serviceAccountName'), true],
    ['Deployment', f('spec', 'template', 'metadata', 'annotations'), false],
    ['Deployment', f('spec', 'replicas'), false],
    ['CronJob', f('spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers'), true],
    ['DaemonSet', f('spec', 'template', 'spec', 'hostPID'), true],
    ['ValidatingWebhookConfiguration', f('webhooks'), true],
    ['MutatingWebhookConfiguration', f('webhooks', 'namespaceSelector'), true],
    ['MutatingWebhookConfiguration', f('webhooks', 'clientConfig', 'caBundle'), false],
    ['Service', f('spec', 'ports'), true],
    ['Service', f('spec', 'clusterIP'), false],
    ['ConfigMap', f('data'), true],
    ['Secret', f('data'), true],
    ['ConfigMap', f('metadata', 'labels'), false],
    ['ClusterRoleBinding', f('subjects'), true],
    ['ClusterRole', f('rules'), false],
    ['HorizontalPodAutoscaler', f('spec', 'maxReplicas'), false],
  ];
  for (const [kind, path, expected] of cases) assert.equal(inOwnedWhole(kind, path), expected, `${kind} ${formatPath(path)}`);
});

test('removal patch: list elements pinned by their keys, later indexes first, nothing named twice', () => {
  const live = liveDeployment();
  const patch = removalPatch(live, [...additions(live), { manager: 'x', path: [{ field: 'spec' }, { field: 'template' }, { field: 'spec' }, { field: 'containers' }, { key: { name: 'side' } }, { field: 'image' }] }]);
  assert.deepEqual(patch, [
    { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'main' },
    { op: 'test', path: '/spec/template/spec/containers/0/env/1/name', value: 'B' },
    { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'side' },
    { op: 'remove', path: '/spec/template/spec/hostNetwork' },
    { op: 'remove', path: '/spec/template/spec/containers/1' },
    { op: 'remove', path: '/spec/template/spec/containers/0/securityContext' },
    { op: 'remove', path: '/spec/template/spec/containers/0/env/1' },
  ]);
});

test('removal patch: nothing to remove when the additions are gone already; keys, set values and escapes in pointers', () => {
  assert.equal(removalPatch(desiredDeployment(), additions(liveDeployment())), undefined);
  const object = { apiVersion: 'v1', kind: 'X', metadata: { name: 'x' }, data: { 'a/b~c': '1' }, spec: { ports: [{ port: 80, protocol: 'TCP' }, { port: 81 }], finalizers: ['a', 'b'] } };
  assert.equal(pointerOf(object, [{ field: 'data' }, { field: 'a/b~c' }]), '/data/a~1b~0c');
  assert.equal(pointerOf(object, [{ field: 'spec' }, { field: 'ports' }, { key: { port: 81, protocol: 'TCP' } }]), '/spec/ports/1', 'a key field the element leaves out matches');
  assert.deepEqual(removalPatch(object as KubeObject, [{ manager: 'm', path: [{ field: 'spec' }, { field: 'finalizers' }, { value: 'b' }] }]), [
    { op: 'test', path: '/spec/finalizers/1', value: 'b' },
    { op: 'remove', path: '/spec/finalizers/1' },
  ]);
});

test('culprits: additions, and fields we declare that another manager wrote last (a changed value); not what is theirs', () => {
  const live = liveDeployment();
  (live.metadata.managedFields as Array<{ manager: string; fieldsV1: unknown }>).push({ manager: 'editor', fieldsV1: { 'f:spec': { 'f:selector': {} } } });
  // `meshwright` lost the selector to `editor` (an Update takes ownership of what it changes).
  (live.metadata.managedFields as Array<{ manager: string; fieldsV1: { 'f:spec': Record<string, unknown> } }>)[0]!.fieldsV1['f:spec'] = { 'f:template': (live.metadata.managedFields as Array<{ fieldsV1: { 'f:spec': { 'f:template': unknown } } }>)[0]!.fieldsV1['f:spec']['f:template'] };
  assert.deepEqual(culprits(desiredDeployment(), live).map((c) => ({ ...c, fields: [...c.fields].sort() })), [
    { manager: 'intruder', fields: ['spec.template.spec.containers[name=main].env[name=B]', 'spec.template.spec.containers[name=main].securityContext', 'spec.template.spec.containers[name=side]', 'spec.template.spec.hostNetwork'] },
    { manager: 'editor', fields: ['spec.selector'] },
  ]);
});

test('the cache keeps a compact managedFields only for kinds the rule covers', () => {
  const entry = { manager: 'm', operation: 'Update', apiVersion: 'v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': {} } };
  const configMap = managedFieldsTransform({ apiVersion: 'v1', kind: 'ConfigMap' })({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', managedFields: [entry] } });
  assert.deepEqual(configMap.metadata.managedFields, [{ manager: 'm', fieldsV1: { 'f:data': {} } }]);
  const crd = managedFieldsTransform({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' })({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'c', managedFields: [entry] } });
  assert.equal(crd.metadata.managedFields, undefined);
});

// --- No fights: the referee, on a fixed clock -------------------------------------------------

const policy: ContestPolicy = { maxRepairs: 3, maxRepairsPerManager: 5, windowMs: 60_000, holdMs: 300_000, maxHoldMs: 1_200_000 };
const fighter: Culprit = { manager: 'fighter', fields: ['spec.template.spec.containers[name=main].env'] };

/** Runs judgments in order, each a repair that was written; returns each verdict's action (and the hold's end). */
function replay(steps: Array<{ at: number; culprits: Culprit[] }>, start?: ContestState): string[] {
  let state = start;
  return steps.map(({ at, culprits: blamed }) => {
    const judged = judgeRepair(state, blamed, at, policy);
    state = judged.state;
    const { verdict } = judged;
    return verdict.action === 'repair' ? 'repair' : `hold until ${verdict.until}${verdict.newly ? ' (new)' : ''}`;
  });
}

test('referee: decisions on a fixed clock', () => {
  const other: Culprit = { manager: 'other', fields: ['data.x'] };
  const cases: Array<{ name: string; steps: Array<{ at: number; culprits: Culprit[] }>; expected: string[] }> = [
    {
      name: 'three repairs of one field by one manager within a minute, then a contest of five minutes',
      steps: [0, 1_000, 2_000, 3_000, 4_000].map((at) => ({ at, culprits: [fighter] })),
      expected: ['repair', 'repair', 'repair', 'hold until 303000 (new)', 'hold until 303000'],
    },
    {
      name: 'repairs spread wider than the window never contest',
      steps: [0, 61_000, 122_000, 183_000, 244_000].map((at) => ({ at, culprits: [fighter] })),
      expected: ['repair', 'repair', 'repair', 'repair', 'repair'],
    },
    {
      name: 'after the hold, one probe; undone again at once: contested again, twice as long',
      steps: [0, 1, 2, 3, 303_000, 303_500, 904_000, 904_001].map((at) => ({ at, culprits: [fighter] })),
      expected: ['repair', 'repair', 'repair', 'hold until 300003 (new)', 'repair', 'hold until 903500 (new)', 'repair', 'hold until 2104001 (new)'],
    },
    {
      name: 'a writer that stopped is forgiven a window after the hold ended',
      steps: [0, 1, 2, 3, 300_003 + 60_001, 300_003 + 60_002].map((at) => ({ at, culprits: [fighter] })),
      expected: ['repair', 'repair', 'repair', 'hold until 300003 (new)', 'repair', 'repair'],
    },
    {
      name: 'different managers, or different fields of one manager, are counted apart',
      steps: [0, 1, 2, 3, 4, 5].map((at) => ({ at, culprits: [at % 2 === 0 ? fighter : other] })),
      expected: ['repair', 'repair', 'repair', 'repair', 'repair', 'repair'],
    },
    {
      name: 'a manager adding under ever new names meets the per-manager bound',
      steps: [0, 1, 2, 3, 4, 5].map((at) => ({ at, culprits: [{ manager: 'sprayer', fields: [`data.k${at}`] }] })),
      expected: ['repair', 'repair', 'repair', 'repair', 'repair', 'hold until 300005 (new)'],
    },
    {
      name: 'no culprit (a spec change, a deleted object): never counted',
      steps: [0, 1, 2, 3, 4].map((at) => ({ at, culprits: [] })),
      expected: ['repair', 'repair', 'repair', 'repair', 'repair'],
    },
  ];
  for (const { name, steps, expected } of cases) assert.deepEqual(replay(steps), expected, name);
});

test('referee: the hold doubles up to its cap; a repair counts only once committed', () => {
  const referee = new DriftReferee(policy);
  let now = 0;
  const ends: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (;;) {
      const { verdict, commit } = referee.judge('deploy', [fighter], now);
      if (verdict.action === 'hold') {
        ends.push(verdict.until - now);
        now = verdict.until;
        break;
      }
      commit();
      now += 10;
    }
  }
  assert.deepEqual(ends, [300_000, 600_000, 1_200_000, 1_200_000, 1_200_000]);
  const uncommitted = new DriftReferee(policy);
  for (let i = 0; i < 10; i++) assert.equal(uncommitted.judge('deploy', [fighter], i).verdict.action, 'repair', 'refused writes repaired nothing and count for nothing');
  assert.equal(uncommitted.holdOf('deploy', 10), undefined);
  assert.equal(DEFAULT_CONTEST_POLICY.maxRepairs, 3);
});
