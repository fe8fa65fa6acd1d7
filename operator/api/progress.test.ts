import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeProgress } from './progress.ts';
import type { Condition, MeshInstallationStatus } from './status.ts';

const at = '2026-03-01T10:00:00Z';
const condition = (type: string, status: Condition['status'], reason: string): Condition =>
  ({ type, status, reason, message: '', observedGeneration: 1, lastTransitionTime: at });

const upgrade = (phase: NonNullable<MeshInstallationStatus['upgrade']>['phase'], extra: Partial<NonNullable<MeshInstallationStatus['upgrade']>> = {}) =>
  ({ upgrade: { from: '1.30.4', to: '1.31.1', strategy: 'InPlace' as const, phase, startedAt: at, ...extra } });

test('an upgrade under way shows versions, phase and counts', () => {
  assert.equal(describeProgress(upgrade('DataPlane', { updatedWorkloads: 12, totalWorkloads: 40 })), 'Upgrading 1.30.4 -> 1.31.1: DataPlane 12/40 workloads');
  assert.equal(describeProgress(upgrade('DataPlane', { strategy: 'Canary', step: 2, totalSteps: 3 })), 'Upgrading 1.30.4 -> 1.31.1: DataPlane step 2/3');
  assert.equal(describeProgress(upgrade('ControlPlane')), 'Upgrading 1.30.4 -> 1.31.1: ControlPlane');
});

test('a finished upgrade no longer shows; a ready mesh is Idle', () => {
  const status: MeshInstallationStatus = { ...upgrade('Succeeded'), conditions: [condition('Ready', 'True', 'Succeeded')] };
  assert.equal(describeProgress(status), 'Idle');
});

test('stalled beats everything, with its reason', () => {
  const status: MeshInstallationStatus = { ...upgrade('DataPlane'), conditions: [condition('Stalled', 'True', 'UnsupportedUpgradePath')] };
  assert.equal(describeProgress(status), 'Stalled: UnsupportedUpgradePath');
});

test('a root rotation shows its phase, alongside an upgrade if both run', () => {
  const rotating: MeshInstallationStatus = { certificateAuthority: { rotation: { phase: 'SwitchingIssuer' } } };
  assert.equal(describeProgress(rotating), 'Rotating root: SwitchingIssuer');
  assert.equal(describeProgress({ ...rotating, ...upgrade('ControlPlane') }), 'Upgrading 1.30.4 -> 1.31.1: ControlPlane; Rotating root: SwitchingIssuer');
  assert.equal(describeProgress({ certificateAuthority: { rotation: { phase: 'Idle' } }, conditions: [condition('Ready', 'True', 'Succeeded')] }), 'Idle');
});

test('paused, reconciling with outdated pods, and nothing known yet', () => {
  assert.equal(describeProgress({}, { paused: true }), 'Paused');
  assert.equal(describeProgress(upgrade('DataPlane'), { paused: true }), 'Paused: Upgrading 1.30.4 -> 1.31.1: DataPlane');
  const restarting: MeshInstallationStatus = {
    conditions: [condition('Reconciling', 'True', 'RestartingWorkloads')],
    dataPlane: { enrolledNamespaces: 3, injectedPods: 20, outdatedPods: 4 },
  };
  assert.equal(describeProgress(restarting), 'RestartingWorkloads: 4 outdated pods');
  const rollout = (phase: 'Restarting' | 'Complete') => ({ target: '1.31.1-0a1b2c3d4e5f', phase, progress: '12/40', workloads: { total: 40, current: 12, outdated: 26, restarting: 2, skipped: 0, failed: 0 }, message: '' });
  const rolling: MeshInstallationStatus = { conditions: [condition('Reconciling', 'True', 'RolloutInProgress')], dataPlane: { enrolledNamespaces: 3, injectedPods: 80, outdatedPods: 50, rollout: rollout('Restarting') } };
  assert.equal(describeProgress(rolling), 'RolloutInProgress: DataPlane 12/40', 'a rollout under way counts workloads');
  assert.equal(describeProgress({ ...rolling, dataPlane: { ...rolling.dataPlane!, rollout: rollout('Complete') } }), 'RolloutInProgress: 50 outdated pods', 'a complete rollout leaves the pod count');
  assert.equal(describeProgress({ conditions: [condition('Reconciling', 'True', 'Progressing')] }), 'Progressing');
  assert.equal(describeProgress({ conditions: [condition('Ready', 'False', 'CrashLooping')] }), 'CrashLooping');
  assert.equal(describeProgress({}), 'Pending');
});

test('waiting on workloads counts them: Installing before anything ran, Updating once a version runs; a failure shows its reason instead', () => {
  const component = (name: string, ready: boolean) => ({ name, kind: 'Deployment', namespace: 'mesh', ready });
  const components = [component('a', true), component('b', false), component('c', true), component('d', false), component('e', true)];
  const waiting = [condition('Reconciling', 'True', 'ComponentsNotAvailable')];
  assert.equal(describeProgress({ conditions: waiting, components }), 'Installing 3/5 components');
  assert.equal(describeProgress({ conditions: waiting, components, version: '1.30.4' }), 'Updating 3/5 components');
  assert.equal(describeProgress({ conditions: [condition('Reconciling', 'True', 'WriteForbidden')], components }), 'WriteForbidden');
  assert.equal(describeProgress({ conditions: waiting, components: components.map((c) => ({ ...c, ready: true })) }), 'ComponentsNotAvailable');
});
