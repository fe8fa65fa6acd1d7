import { test } from 'node:test';
import assert from 'node:assert/strict';
import { operatorReadiness, type CacheState } from './readiness.ts';

const cache = (kind: string, state: Partial<CacheState> = {}): CacheState => ({ apiVersion: 'v1', kind, synced: true, notServed: false, ...state });
const healthy = { checked: true };

test('synced caches and a checked election are ready', () => {
  assert.deepEqual(operatorReadiness([cache('ConfigMap'), cache('Secret')], healthy), { ready: true, reasons: [] });
  assert.deepEqual(operatorReadiness([cache('ConfigMap')], undefined), { ready: true, reasons: [] }, 'without leader election, the caches decide');
});

test('a kind that is not served is ready (its cache is complete, empty); unless the operator needs it', () => {
  const peerAuthentication = cache('PeerAuthentication', { apiVersion: 'security.istio.io/v1', synced: false, notServed: true });
  assert.deepEqual(operatorReadiness([cache('ConfigMap'), peerAuthentication], healthy), { ready: true, reasons: [] });
  const ours = cache('MeshInstallation', { apiVersion: 'meshwright.dev/v1alpha1', synced: false, notServed: true, required: true });
  assert.deepEqual(operatorReadiness([ours], healthy), {
    ready: false,
    reasons: ['the API server does not serve MeshInstallation (meshwright.dev/v1alpha1): install its CRD (kubectl apply -f crds/)'],
  });
});

test('a cache that has not listed yet is not ready, and says the last failure', () => {
  const status = operatorReadiness([cache('Deployment', { apiVersion: 'apps/v1', synced: false, lastError: 'deployments.apps is forbidden' }), cache('Service', { synced: false })], healthy);
  assert.deepEqual(status, {
    ready: false,
    reasons: [
      'the cache of Deployment (apps/v1) has not synced yet; last error: deployments.apps is forbidden',
      'the cache of Service (v1) has not synced yet',
    ],
  });
});

test('leader election: not ready before its first answer, nor while a problem blocks it', () => {
  assert.deepEqual(operatorReadiness([cache('ConfigMap')], { checked: false }), { ready: false, reasons: ['leader election has not been answered by the API server yet'] });
  const problem = { reason: 'NamespaceNotFound' as const, message: 'the leader-election namespace "mw" does not exist' };
  assert.deepEqual(operatorReadiness([cache('ConfigMap')], { checked: true, problem }), { ready: false, reasons: [problem.message] });
});
