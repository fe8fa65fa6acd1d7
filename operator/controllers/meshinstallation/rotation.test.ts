import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS } from '../../distributions/injection.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { gateVerdict, podBundlesOf, withQueuedTrigger } from './rotation.ts';

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
