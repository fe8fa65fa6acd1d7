/**
 * The rollout step of a pass over fake caches and a fake client: the batch is patched, the plan
 * recorded for status, Events recorded once the patches went out, a timed pass asked for; a
 * refused patch fails the pass without claiming a batch started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDistributionWithInjector, TEST_INJECT_LABEL } from '../../../e2e/support/test-distribution.ts';
import { withSpecDefaults } from '../../api/defaults.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS } from '../../distributions/injection.ts';
import { RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION } from '../../rollout/annotations.ts';
import { WorkloadCaches } from '../../rollout/caches.ts';
import { replicaSetView, workloadView } from '../../rollout/workloads.ts';
import type { Informer } from '../../runtime/informer.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../runtime/kube.ts';
import { ReconcileError } from '../../runtime/errors.ts';
import type { PassContext } from './context.ts';
import { rollOutDataPlane } from './rollout.ts';
import { newPassScope, type InstallationObject } from './scope.ts';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const clock = { now: () => NOW, setTimeout: () => ({ cancel() {} }) } as never;

function installation(): InstallationObject {
  return { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh', generation: 1 }, spec: withSpecDefaults({ mesh: 'istio', version: '1.1.0', namespace: 'mesh-system' } as never) } as InstallationObject;
}

function pod(name: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, namespace: 'shop', labels: { [INJECTED_BY_LABEL]: 'mesh' },
      annotations: { [RECORD_ANNOTATIONS.mesh]: 'istio', [RECORD_ANNOTATIONS.revision]: '1-0-0', [RECORD_ANNOTATIONS.proxyVersion]: '1.0.0' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs', controller: true }],
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** A pass's scope and context with one outdated Deployment (web, 2 pods) in an enrolled namespace. */
function world(patch: (kind: string, name: string, body: unknown) => KubeObject) {
  const caches = new WorkloadCaches({ client: {} as KubeClient, clock });
  const put = (kind: string, object: KubeObject) => (caches.informers.get(kind) as unknown as { cache: Map<string, KubeObject> }).cache.set(`shop/${object.metadata.name}`, object);
  put('ReplicaSet', replicaSetView({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-1', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }] } }));
  put('Deployment', workloadView({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } }));
  const events: Array<[string, string, string]> = [];
  const sent: Array<[string, string, unknown]> = [];
  const context = {
    client: { patch: async (type: { kind: string }, name: string, _ns: string, body: unknown) => { sent.push([type.kind, name, body]); return patch(type.kind, name, body); } } as unknown as KubeClient,
    pods: { list: () => [pod('web-1-a'), pod('web-1-b')] } as unknown as Informer,
    namespaces: { get: (name: string) => (name === 'shop' ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [TEST_INJECT_LABEL]: 'mesh' } } } : undefined) } as unknown as Informer,
    workloads: caches,
    hooks: { onEvent: (_o: KubeObject, type: string, reason: string, note: string) => events.push([type, reason, note]) },
    live: { get: () => undefined },
    webhookEndpoint: () => ({ url: 'https://127.0.0.1:9443', caBundlePem: 'ca' }),
  } as unknown as PassContext;
  const scope = newPassScope(installation(), pino({ level: 'silent' }), clock);
  scope.target = { distribution: testDistributionWithInjector, resolved: { version: '1.1.0', revision: '1-1-0', images: {} } };
  scope.desired = [];
  return { scope, context, events, sent, caches };
}

test('a pass restarts the batch, records the plan for status and the Event, and asks to come back at the health deadline', async () => {
  const { scope, context, events, sent, caches } = world((kind, name, body) => ({ apiVersion: 'apps/v1', kind, metadata: { name, namespace: 'shop', generation: 2 }, ...(body as object) }));
  await rollOutDataPlane(scope, context);
  const stamp = new Date(NOW).toISOString();
  assert.deepEqual(sent, [['Deployment', 'web', { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: stamp, [RESTARTED_FOR_ANNOTATION]: '1.1.0' } } } } }]]);
  assert.equal(scope.rollout?.phase, 'Restarting');
  assert.deepEqual(scope.rollout?.status?.batch, { number: 1, workloads: ['Deployment shop/web'], startedAt: stamp });
  assert.deepEqual(events.map(([type, reason]) => [type, reason]), [['Normal', 'RolloutBatchStarted']]);
  assert.equal(scope.wakeAt, NOW + 600_000, 'spec.upgrade.progressDeadline (10m) from the restart');
  // A second pass before the watch shows the restart: our write stands in, nothing is restarted twice.
  assert.equal((caches.workload('Deployment', 'shop', 'web')?.spec as { template?: unknown }).template !== undefined, true);
  const again = world(() => assert.fail('restarted twice'));
  (again.context as { workloads: WorkloadCaches }).workloads = caches;
  again.scope.installation.status = { dataPlane: { enrolledNamespaces: 1, injectedPods: 2, outdatedPods: 2, rollout: scope.rollout!.status! } };
  await rollOutDataPlane(again.scope, again.context);
  assert.deepEqual(again.sent, []);
  assert.equal(again.scope.rollout?.phase, 'Restarting');
});

test('a refused restart fails the pass (retried) naming the workload and the API\'s answer; no batch is claimed, no Event', async () => {
  const { scope, context, events } = world(() => {
    throw new KubeApiError(403, 'Forbidden', 'deployments.apps "web" is forbidden', 'deployments.apps "web" is forbidden');
  });
  await assert.rejects(rollOutDataPlane(scope, context), (error: unknown) => error instanceof ReconcileError && error.reason === 'WorkloadRestartFailed' && /Deployment shop\/web: .*forbidden/.test(error.message));
  assert.equal(scope.rollout?.status?.batch, undefined);
  assert.deepEqual(events, []);
});

test('without the injection webhook no batch starts (restarted pods would come up without the proxy): Waiting, held, said why', async () => {
  const { scope, context, sent } = world(() => assert.fail('restarted without a webhook'));
  (context as { webhookEndpoint?: unknown }).webhookEndpoint = () => undefined;
  await rollOutDataPlane(scope, context);
  assert.deepEqual(sent, []);
  assert.equal(scope.rollout?.phase, 'Waiting');
  assert.match(scope.rollout?.status?.message ?? '', /held: the injection webhook is not served by this operator/);
});
