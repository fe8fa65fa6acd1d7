/**
 * Workloads as the rollout sees them: kubectl's rollout-status rules row by row, pod ownership
 * (through the ReplicaSet for a Deployment), pod health, the trimmed cache views, grouping pods
 * into workloads, the restart patch and the verdict callers read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';
import { KubeApiError } from '../runtime/kube.ts';
import { RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION, RESTART_OPT_OUT_ANNOTATION, rolloutTarget } from './annotations.ts';
import { WorkloadCaches } from './caches.ts';
import { restartPatch, restartWorkloads } from './executor.ts';
import { rolloutVerdict } from './index.ts';
import { observeWorkloads } from './observe.ts';
import { notRestartableBecause, ownerOfPod, podCrashLooping, podReady, replicaSetView, rolloutProgress, troubledContainerStatuses, workloadView } from './workloads.ts';

const object = (kind: string, spec: Record<string, unknown>, status: Record<string, unknown>, generation = 2): KubeObject =>
  ({ apiVersion: 'apps/v1', kind, metadata: { name: 'w', namespace: 'shop', generation }, spec, status });

test('rollout status by kubectl\'s rules, row by row', () => {
  const rows: Array<[string, KubeObject, string]> = [
    ['Deployment: generation not observed', object('Deployment', { replicas: 2 }, { observedGeneration: 1 }), 'progressing'],
    ['Deployment: ProgressDeadlineExceeded', object('Deployment', { replicas: 2 }, { observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }), 'failed'],
    ['Deployment: not all updated', object('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 1, availableReplicas: 2 }), 'progressing'],
    ['Deployment: old replicas pending termination', object('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), 'progressing'],
    ['Deployment: updated not available', object('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }), 'progressing'],
    ['Deployment: complete', object('Deployment', { replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2, conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] }), 'complete'],
    ['Deployment: scaled to zero', object('Deployment', { replicas: 0 }, { observedGeneration: 2 }), 'complete'],
    ['StatefulSet: never observed', object('StatefulSet', { replicas: 1 }, {}), 'progressing'],
    ['StatefulSet: not all ready', object('StatefulSet', { replicas: 3 }, { observedGeneration: 2, readyReplicas: 2, currentRevision: 'a', updateRevision: 'a' }), 'progressing'],
    ['StatefulSet: revisions differ', object('StatefulSet', { replicas: 3 }, { observedGeneration: 2, readyReplicas: 3, currentRevision: 'a', updateRevision: 'b' }), 'progressing'],
    ['StatefulSet: complete', object('StatefulSet', { replicas: 3 }, { observedGeneration: 2, readyReplicas: 3, currentRevision: 'b', updateRevision: 'b' }), 'complete'],
    ['StatefulSet: partitioned, the part updated', object('StatefulSet', { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 2, currentRevision: 'a', updateRevision: 'b' }), 'complete'],
    ['DaemonSet: not all updated', object('DaemonSet', {}, { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3 }), 'progressing'],
    ['DaemonSet: not all available', object('DaemonSet', {}, { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 }), 'progressing'],
    ['DaemonSet: complete', object('DaemonSet', {}, { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 }), 'complete'],
  ];
  for (const [name, workload, state] of rows) assert.equal(rolloutProgress(workload).state, state, name);
  // The views keep what the rules read: judged the same after trimming.
  for (const [name, workload, state] of rows) assert.equal(rolloutProgress(workloadView(structuredClone(workload))).state, state, `${name} (view)`);
});

test('what a template restart cannot replace: OnDelete and a paused Deployment', () => {
  assert.match(notRestartableBecause(object('StatefulSet', { updateStrategy: { type: 'OnDelete' } }, {})) ?? '', /OnDelete/);
  assert.match(notRestartableBecause(object('DaemonSet', { updateStrategy: { type: 'OnDelete' } }, {})) ?? '', /OnDelete/);
  assert.match(notRestartableBecause(object('Deployment', { paused: true }, {})) ?? '', /paused/);
  assert.match(notRestartableBecause(object('StatefulSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, {})) ?? '', /partition \(2\)/);
  assert.equal(notRestartableBecause(object('StatefulSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } }, {})), undefined);
  assert.equal(notRestartableBecause(object('Deployment', {}, {})), undefined);
});

const pod = (name: string, owner?: { kind: string; name: string }, status: Record<string, unknown> = { conditions: [{ type: 'Ready', status: 'True' }] }): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: 'shop', ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'u', controller: true }] } : {}) },
  status,
});
const replicaSets: Record<string, KubeObject> = {
  'web-7d9': { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-7d9', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }] } },
  'argo-5f': { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'argo-5f', namespace: 'shop', ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'argo', uid: 'r', controller: true }] } },
};
const lookupRs = (_ns: string, name: string) => replicaSets[name];

test('a pod\'s workload: the Deployment through its ReplicaSet, StatefulSet, DaemonSet; bare; others left alone', () => {
  assert.deepEqual(ownerOfPod(pod('a', { kind: 'ReplicaSet', name: 'web-7d9' }), lookupRs), { workload: { kind: 'Deployment', namespace: 'shop', name: 'web' } });
  assert.deepEqual(ownerOfPod(pod('b', { kind: 'StatefulSet', name: 'db' }), lookupRs), { workload: { kind: 'StatefulSet', namespace: 'shop', name: 'db' } });
  assert.deepEqual(ownerOfPod(pod('c', { kind: 'DaemonSet', name: 'agent' }), lookupRs), { workload: { kind: 'DaemonSet', namespace: 'shop', name: 'agent' } });
  assert.deepEqual(ownerOfPod(pod('d'), lookupRs), { bare: true });
  assert.deepEqual(ownerOfPod(pod('e', { kind: 'Job', name: 'migrate' }), lookupRs), { other: 'Job' });
  assert.deepEqual(ownerOfPod(pod('f', { kind: 'ReplicaSet', name: 'argo-5f' }), lookupRs), { other: 'ReplicaSet' }, 'a ReplicaSet of an Argo Rollout is not a Deployment\'s');
  assert.deepEqual(ownerOfPod(pod('g', { kind: 'ReplicaSet', name: 'unknown-1' }), lookupRs), { other: 'ReplicaSet' }, 'not in the cache: left alone');
});

test('pod health: Ready, and crash loops as the kubelet and kwok\'s crash-loop stage show them', () => {
  const crashLoop = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }] };
  const restartedNotReady = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', ready: false, restartCount: 3, state: { running: {} } }] };
  const restartedOnceNotReady = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', ready: false, restartCount: 1, state: { running: {} } }] };
  const restartedReady = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, restartCount: 1, state: { running: {} } }] };
  const starting = { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] };
  assert.equal(podCrashLooping(pod('a', undefined, crashLoop)), true);
  assert.equal(podCrashLooping(pod('b', undefined, restartedNotReady)), true, 'restarted 3 times, not Ready');
  assert.equal(podCrashLooping(pod('b1', undefined, restartedOnceNotReady)), false, 'one exit before the proxy was ready is no crash loop');
  assert.equal(podCrashLooping(pod('c', undefined, restartedReady)), false, 'a restart long ago and Ready since is no crash loop');
  assert.equal(podCrashLooping(pod('d', undefined, starting)), false);
  assert.equal(podReady(pod('e', undefined, restartedReady)), true);
  assert.equal(podReady(pod('f', undefined, starting)), false);
  // The pod cache keeps only troubled containers, enough to judge the same.
  assert.deepEqual(troubledContainerStatuses(crashLoop.containerStatuses), [{ name: 'app', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }]);
  assert.deepEqual(troubledContainerStatuses(starting.containerStatuses), []);
});

test('the workload views keep identity, the opt-out, the restart marks and the status the rules read; nothing of the pod template', () => {
  const full: KubeObject = {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', uid: 'u', resourceVersion: '7', generation: 3, labels: { app: 'web' }, annotations: { [RESTART_OPT_OUT_ANNOTATION]: 'disabled', 'deployment.kubernetes.io/revision': '4' }, managedFields: [{}] },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'web' } }, strategy: { type: 'RollingUpdate' },
      template: { metadata: { labels: { app: 'web' }, annotations: { [RESTARTED_AT_ANNOTATION]: '2026-11-27T12:00:00.000Z', [RESTARTED_FOR_ANNOTATION]: 't', other: 'x' } }, spec: { containers: [{ name: 'app', image: 'i' }] } },
    },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2, conditions: [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'long text' }] },
  };
  assert.deepEqual(workloadView(full), {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', uid: 'u', resourceVersion: '7', generation: 3, annotations: { [RESTART_OPT_OUT_ANNOTATION]: 'disabled' } },
    spec: { replicas: 2, template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-11-27T12:00:00.000Z', [RESTARTED_FOR_ANNOTATION]: 't' } } } },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] },
  });
  assert.deepEqual(replicaSetView({ ...replicaSets['web-7d9']!, spec: { template: {} }, status: { replicas: 2 } }), { ...replicaSets['web-7d9']!, metadata: { ...replicaSets['web-7d9']!.metadata, uid: undefined, resourceVersion: undefined } });
});

test('pods grouped into workloads with their marks, opt-out and rollout; bare and Job pods apart; a workload not cached yet is not restartable', () => {
  const deployment = workloadView({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation: 1, annotations: { [RESTART_OPT_OUT_ANNOTATION]: 'disabled' } },
    spec: { replicas: 2, template: { metadata: { annotations: { [RESTARTED_FOR_ANNOTATION]: 'old', [RESTARTED_AT_ANNOTATION]: '2026-01-01T00:00:00Z' } } } },
    status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
  });
  const pods = [pod('web-1', { kind: 'ReplicaSet', name: 'web-7d9' }), pod('web-2', { kind: 'ReplicaSet', name: 'web-7d9' }), pod('db-0', { kind: 'StatefulSet', name: 'db' }), pod('bare'), pod('job-1', { kind: 'Job', name: 'migrate' })];
  const observed = observeWorkloads(pods, (p) => p.metadata.name !== 'web-2', {
    replicaSet: lookupRs,
    workload: (kind, _ns, name) => (kind === 'Deployment' && name === 'web' ? deployment : undefined),
  });
  assert.deepEqual(observed.barePods, ['shop/bare']);
  assert.deepEqual(observed.otherPods, { total: 1, outdated: 1 });
  const [web, db] = observed.workloads;
  assert.deepEqual(web, {
    kind: 'Deployment', namespace: 'shop', name: 'web', restartedFor: 'old', restartedAt: '2026-01-01T00:00:00Z', rollout: { state: 'complete' }, optedOut: true,
    pods: [{ name: 'web-1', outdated: true, ready: true, crashLooping: false }, { name: 'web-2', outdated: false, ready: true, crashLooping: false }],
  });
  assert.equal(db?.kind, 'StatefulSet');
  assert.match(db?.notRestartable ?? '', /not in the operator's cache yet/);
});

test('the restart patch is kubectl\'s annotation plus the target; every workload of the batch is tried, refusals returned', async () => {
  assert.deepEqual(restartPatch('1.31.1-0a1b2c3d4e5f', '2026-11-27T12:00:00.000Z'), {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2026-11-27T12:00:00.000Z', [RESTARTED_FOR_ANNOTATION]: '1.31.1-0a1b2c3d4e5f' } } } },
  });
  const sent: Array<[string, string, unknown, string]> = [];
  const client = {
    async patch(type: { kind: string }, name: string, _ns: string, patch: unknown, kind: string) {
      sent.push([type.kind, name, patch, kind]);
      if (name === 'gone') throw new KubeApiError(404, 'NotFound', 'not found', 'GET');
      if (name === 'denied') throw new KubeApiError(403, 'Forbidden', 'forbidden by policy', 'PATCH');
      return { apiVersion: 'apps/v1', kind: type.kind, metadata: { name, namespace: 'shop' } };
    },
  } as unknown as KubeClient;
  const logged: string[] = [];
  const log = { info: (fields: { workload: string }) => logged.push(fields.workload) } as unknown as Logger;
  const remembered: string[] = [];
  const outcome = await restartWorkloads({
    client, log, target: 't', restartedAt: '2026-11-27T12:00:00.000Z', remember: (o) => remembered.push(o.metadata.name),
    workloads: [{ kind: 'Deployment', namespace: 'shop', name: 'web' }, { kind: 'StatefulSet', namespace: 'shop', name: 'gone' }, { kind: 'DaemonSet', namespace: 'shop', name: 'denied' }],
  });
  assert.deepEqual(outcome.restarted.map((w) => w.name), ['web']);
  assert.deepEqual(outcome.gone.map((w) => w.name), ['gone']);
  assert.deepEqual(outcome.failed.map((f) => f.workload.name), ['denied']);
  assert.deepEqual(sent.map(([kind, name, , patchType]) => `${kind}/${name}/${patchType}`), ['Deployment/web/merge', 'StatefulSet/gone/merge', 'DaemonSet/denied/merge']);
  assert.deepEqual(logged, ['Deployment shop/web', 'StatefulSet shop/gone', 'DaemonSet shop/denied'], 'each restart is logged before it is sent');
  assert.deepEqual(remembered, ['web']);
});

test('our own restart stands in for the cache until the cache shows it', () => {
  let now = 0;
  const caches = new WorkloadCaches({ client: {} as KubeClient, clock: { now: () => now, setTimeout: () => ({ cancel() {} }) } as never });
  const restarted: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', resourceVersion: '9' }, spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: 'T1', [RESTARTED_FOR_ANNOTATION]: 't' } } } } };
  assert.equal(caches.workload('Deployment', 'shop', 'web'), undefined);
  caches.remember(restarted);
  assert.equal((caches.workload('Deployment', 'shop', 'web')?.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations[RESTARTED_FOR_ANNOTATION], 't', 'the cache has not caught up: our write');
  now = 61_000;
  assert.equal(caches.workload('Deployment', 'shop', 'web'), undefined, 'remembered for a bounded time only');
});

test('the target names version, bundle prefix and (Canary) revision; the verdict callers wait on', () => {
  const hash = 'ab'.repeat(32);
  assert.equal(rolloutTarget({ version: '1.24.3', trustBundleSha256: hash }), '1.24.3-abababababab');
  assert.equal(rolloutTarget({ version: '1.24.3', trustBundleSha256: hash, revision: '1-24-3' }), '1.24.3-abababababab@1-24-3');
  assert.equal(rolloutTarget({ version: '2.20' }), '2.20');
  const rollout = (phase: 'Complete' | 'Restarting' | 'Halted' | 'Disabled', target = 't') => ({
    enrolledNamespaces: 1, injectedPods: 3, outdatedPods: 1,
    rollout: { target, phase, progress: '1/2', workloads: { total: 2, current: 1, outdated: 1, restarting: 0, skipped: 0, failed: 0 }, message: 'm', failures: [{ workload: 'Deployment a/b', reason: 'CrashLoop' as const, message: 'x' }] },
  });
  assert.deepEqual(rolloutVerdict({ dataPlane: rollout('Complete') }, 't'), { state: 'complete', outdatedWorkloads: 1, skipped: [], barePods: [] });
  assert.deepEqual(rolloutVerdict({ dataPlane: rollout('Restarting') }, 't'), { state: 'in-progress', progress: '1/2' });
  assert.equal(rolloutVerdict({ dataPlane: rollout('Halted') }, 't').state, 'halted');
  assert.equal(rolloutVerdict({ dataPlane: rollout('Disabled') }, 't').state, 'disabled');
  assert.deepEqual(rolloutVerdict({ dataPlane: rollout('Complete', 'other') }, 't'), { state: 'pending' }, 'complete for another target is not this one');
  assert.deepEqual(rolloutVerdict({ dataPlane: { enrolledNamespaces: 1, injectedPods: 0, outdatedPods: 0 } }, 't'), { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] }, 'no proxy to roll');
  assert.deepEqual(rolloutVerdict(undefined, 't'), { state: 'pending' });
});

test('passes are asked for by restarted workloads while their rollout runs or just finished, not by settled or unrestarted ones', () => {
  const caches = new WorkloadCaches({ client: {} as KubeClient });
  const seen: string[] = [];
  caches.onRestartedWorkloadChange((_type, o) => seen.push(o.metadata.name));
  const deployment = (name: string, marked: boolean, complete: boolean): KubeObject => workloadView({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', generation: 2 },
    spec: { replicas: 1, ...(marked ? { template: { metadata: { annotations: { [RESTARTED_FOR_ANNOTATION]: 't' } } } } : {}) },
    status: { observedGeneration: 2, replicas: 1, updatedReplicas: complete ? 1 : 0, availableReplicas: complete ? 1 : 0 },
  });
  const emit = (object: KubeObject, old?: KubeObject) => (caches.informers.get('Deployment') as unknown as { emit(t: string, o: KubeObject, old?: KubeObject): void }).emit('update', object, old);
  emit(deployment('rolling', true, false));
  emit(deployment('finished', true, true), deployment('finished', true, false));
  emit(deployment('settled', true, true), deployment('settled', true, true));
  emit(deployment('unmarked', false, false));
  assert.deepEqual(seen, ['rolling', 'finished']);
});

test('a workload in a namespace the installation does not serve is not restartable: its new pods would not get the current proxy', () => {
  const deployment = workloadView({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation: 1 }, spec: { replicas: 1 }, status: { observedGeneration: 1 } });
  const lookups = { replicaSet: lookupRs, workload: () => deployment };
  const [served] = observeWorkloads([pod('web-1', { kind: 'ReplicaSet', name: 'web-7d9' })], () => true, { ...lookups, notServed: () => undefined }).workloads;
  assert.equal(served?.notRestartable, undefined);
  const [unserved] = observeWorkloads([pod('web-1', { kind: 'ReplicaSet', name: 'web-7d9' })], () => true, { ...lookups, notServed: (ns) => `namespace ${ns} is not enrolled` }).workloads;
  assert.equal(unserved?.notRestartable, 'namespace shop is not enrolled');
});

test('restarted workloads are found from the caches even with no injected pod, while their rollout runs', () => {
  const caches = new WorkloadCaches({ client: {} as KubeClient });
  const emit = (type: string, object: KubeObject) => (caches.informers.get('Deployment') as unknown as { cache: Map<string, KubeObject>; emit(t: string, o: KubeObject): void }).emit(type, object);
  const marked = (name: string, target: string): KubeObject => workloadView({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', generation: 2 },
    spec: { replicas: 1, template: { metadata: { annotations: { [RESTARTED_FOR_ANNOTATION]: target, [RESTARTED_AT_ANNOTATION]: 'T' } } } }, status: { observedGeneration: 2, replicas: 0, updatedReplicas: 0 },
  });
  for (const object of [marked('solo', 't'), marked('older', 'old')]) {
    (caches.informers.get('Deployment') as unknown as { cache: Map<string, KubeObject> }).cache.set(`shop/${object.metadata.name}`, object);
    emit('add', object);
  }
  assert.deepEqual(caches.restartedFor('t').map((o) => o.metadata.name), ['solo']);
  const observed = observeWorkloads([], () => true, { replicaSet: lookupRs, workload: (kind, ns, name) => caches.workload(kind, ns, name), restartedForTarget: () => caches.restartedFor('t') });
  assert.deepEqual(observed.workloads.map((w) => [w.name, w.pods.length, w.rollout?.state]), [['solo', 0, 'progressing']]);
  emit('delete', marked('solo', 't'));
  assert.deepEqual(caches.restartedFor('t'), []);
});
