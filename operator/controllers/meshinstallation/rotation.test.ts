import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS } from '../../distributions/injection.ts';
import { TRUST_ANCHORS_ANNOTATION } from '../../distributions/istio/istiod.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../rollout/index.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { gateVerdict, identityObservation, podBundlesOf, withQueuedTrigger } from './rotation.ts';

const pod = (name: string, hash: string | undefined, extra: { installation?: string; terminating?: boolean; phase?: string } = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name, namespace: 'apps', labels: { [INJECTED_BY_LABEL]: extra.installation ?? 'mesh' },
    annotations: hash ? { [RECORD_ANNOTATIONS.trustBundleSha256]: hash, [RECORD_ANNOTATIONS.proxyVersion]: '1.0.0' } : {},
    ...(extra.terminating ? { deletionTimestamp: '2026-11-27T12:00:00Z' } : {}),
  },
  status: extra.phase ? { phase: extra.phase } : {},
});

test('withQueuedTrigger: a trigger changed during a rotation is shown queued until the rotation completes, and never on Idle', () => {
  const table: Array<[string, Parameters<typeof withQueuedTrigger>, ReturnType<typeof withQueuedTrigger>]> = [
    ['rotating, trigger unchanged', [{ phase: 'SwitchingIssuer', lastTrigger: '2' }, '2'], { phase: 'SwitchingIssuer', lastTrigger: '2' }],
    ['rotating, trigger bumped', [{ phase: 'SwitchingIssuer', lastTrigger: '2' }, '3'], { phase: 'SwitchingIssuer', lastTrigger: '2', queuedTrigger: '3' }],
    ['automatic rotation, a trigger set', [{ phase: 'ExtendingTrustBundle' }, '1'], { phase: 'ExtendingTrustBundle', queuedTrigger: '1' }],
    ['rotating, trigger removed from spec: nothing queued', [{ phase: 'DroppingOldRoot', lastTrigger: '2', queuedTrigger: '3' }, undefined], { phase: 'DroppingOldRoot', lastTrigger: '2' }],
    ['completed: the queue leaves the record (the next rotation starts from the trigger)', [{ phase: 'Idle', lastTrigger: '2', queuedTrigger: '3', completedAt: '2026-11-27T12:00:00Z' }, '3'], { phase: 'Idle', lastTrigger: '2', completedAt: '2026-11-27T12:00:00Z' }],
    ['the next rotation started for it', [{ phase: 'ExtendingTrustBundle', lastTrigger: '3', queuedTrigger: '3' }, '3'], { phase: 'ExtendingTrustBundle', lastTrigger: '3' }],
  ];
  for (const [name, args, expected] of table) assert.deepEqual(withQueuedTrigger(...args), expected, name);
});

test('podBundlesOf: this installation\'s running pods by recorded bundle, terminating ones counted and marked, finished and foreign ones left out', () => {
  const { bundles, terminating } = podBundlesOf([
    pod('a', 'h1'), pod('b', 'h1', { terminating: true }), pod('c', 'h2'), pod('d', undefined),
    pod('e', 'h1', { phase: 'Succeeded' }), pod('f', 'h1', { installation: 'other' }),
  ], 'mesh');
  assert.deepEqual(bundles, { h1: 2, h2: 1, unknown: 1 });
  assert.deepEqual(terminating, { h1: 1 });
});

test('gateVerdict: a complete rollout with only terminating pods behind is waiting, not stuck; live pods behind stay complete (the planner pauses)', () => {
  const complete = { state: 'complete' as const, outdatedWorkloads: 0, skipped: [], barePods: [] };
  assert.deepEqual(gateVerdict(complete, { new: 3, old: 2 }, { old: 2 }, 'new'), { state: 'in-progress', progress: '2 terminating pod(s) still hold the previous trust bundle' });
  assert.deepEqual(gateVerdict(complete, { new: 3, old: 2 }, { old: 1 }, 'new'), complete, 'a live pod behind: the rollout restarts no more of it');
  assert.deepEqual(gateVerdict(complete, { new: 3 }, {}, 'new'), complete, 'nothing behind');
  const halted = { state: 'halted' as const, failures: [], message: 'batch 1 failed' };
  assert.deepEqual(gateVerdict(halted, { old: 1 }, { old: 1 }, 'new'), halted, 'only complete is reinterpreted');
});

/** An identity Deployment carrying istiod's anchors annotation `anchors`; with `status`, as the live object shows it. */
const istiod = (anchors: string, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'istiod', namespace: 'istio-system', generation: 2 },
  spec: { replicas: 1, template: { metadata: { annotations: { [TRUST_ANCHORS_ANNOTATION]: anchors } } } },
  ...(status ? { status } : {}),
});
const rolledOut = (completedAt?: string) => ({
  observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1,
  conditions: completedAt ? [{ type: 'Available', status: 'True', lastUpdateTime: '2026-11-27T11:00:00Z' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: completedAt }] : [],
});
const created = (object: KubeObject, at: string, restartedFor?: string): KubeObject => ({
  ...object, metadata: { ...object.metadata, creationTimestamp: at, annotations: { ...object.metadata.annotations, ...(restartedFor ? { [RESTARTED_FOR_ANNOTATION]: restartedFor } : {}) } },
});

test('identityObservation: istiod on the rendered anchors and rolled out gives the rollout\'s completion time; the pods on the current bundle with their creation and restart mark', () => {
  const NOW = Date.parse('2026-11-27T12:00:00Z');
  const desired = [istiod('new'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istiod' } }];
  const pods = [
    created(pod('window', 'h-new'), '2026-11-27T11:30:00Z'),
    created(pod('restarted', 'h-new'), '2026-11-27T11:31:00Z', 'target-1'),
    created(pod('old-bundle', 'h-old'), '2026-11-27T10:00:00Z'),
    created(pod('foreign', 'h-new', { installation: 'other' }), '2026-11-27T10:00:00Z'),
    created(pod('done', 'h-new', { phase: 'Succeeded' }), '2026-11-27T10:00:00Z'),
  ];
  const live = istiod('new', rolledOut('2026-11-27T11:30:30Z'));
  assert.deepEqual(identityObservation(desired, () => live, pods, 'mesh', 'h-new', 'target-1', NOW), {
    onNewIssuerSince: Date.parse('2026-11-27T11:30:30Z'),
    currentPods: [{ createdAt: Date.parse('2026-11-27T11:30:00Z'), restartedForTarget: false }, { createdAt: Date.parse('2026-11-27T11:31:00Z'), restartedForTarget: true }],
  });
});

test('identityObservation: not on the new issuer while the live template carries the previous anchors, the rollout is under way or the Deployment is missing; now when no completion is recorded; none without an identity workload', () => {
  const NOW = Date.parse('2026-11-27T12:00:00Z');
  const desired = [istiod('new')];
  const pods = [created(pod('p', 'h-new'), '2026-11-27T11:30:00Z')];
  const at = (live: KubeObject | undefined) => identityObservation(desired, () => live, pods, 'mesh', 'h-new', 't', NOW)?.onNewIssuerSince;
  assert.equal(at(istiod('old', rolledOut('2026-11-27T11:00:00Z'))), undefined, 'the live template still loads the previous anchors (the old issuer)');
  assert.equal(at(istiod('new', { ...rolledOut('2026-11-27T11:00:00Z'), observedGeneration: 1 })), undefined, 'the new template not observed yet');
  assert.equal(at(istiod('new', { ...rolledOut('2026-11-27T11:00:00Z'), replicas: 2 })), undefined, 'an old pod still runs (rollout status not complete)');
  assert.equal(at(istiod('new', { ...rolledOut('2026-11-27T11:00:00Z'), availableReplicas: 0 })), undefined, 'the new pod not available');
  assert.equal(at(undefined), undefined, 'not in the cluster');
  assert.equal(at(istiod('new', rolledOut())), NOW, 'rolled out with no completion recorded: now, the safe side');
  // Linkerd's control plane follows linkerd.io/trust-root-sha256 the same way.
  const linkerd: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'linkerd-identity', namespace: 'linkerd', generation: 2 }, spec: { replicas: 1, template: { metadata: { annotations: { 'linkerd.io/trust-root-sha256': 'new' } } } } };
  assert.equal(identityObservation([linkerd], () => ({ ...linkerd, spec: { replicas: 1, template: { metadata: { annotations: { 'linkerd.io/trust-root-sha256': 'old' } } } }, status: rolledOut('2026-11-27T11:00:00Z') }), pods, 'mesh', 'h-new', 't', NOW)?.onNewIssuerSince, undefined);
  assert.equal(identityObservation([linkerd], () => ({ ...linkerd, status: rolledOut('2026-11-27T11:00:00Z') }), pods, 'mesh', 'h-new', 't', NOW)?.onNewIssuerSince, Date.parse('2026-11-27T11:00:00Z'));
  // A mesh without an identity workload that follows the anchors (the test mesh's controller): no identity gate.
  assert.equal(identityObservation([{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'controller' }, spec: { template: { metadata: { annotations: {} } } } }], () => undefined, pods, 'mesh', 'h-new', 't', NOW), undefined);
});
