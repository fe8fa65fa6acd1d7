import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advancePhase, annotationPhaseStore, statusPhaseStore, type PhaseDecision, type PhaseStore } from './phased-work.ts';
import type { KubeClient } from './kube.ts';

type Phase = 'Generate' | 'Publish' | 'Done';

/** A durable record (what the API server holds) and a log of what happened, in order. */
function world() {
  const log: string[] = [];
  let durable: Phase | undefined;
  let failWrite = false;
  const store = (): PhaseStore<Phase> => ({
    read: () => durable,
    async write(phase) {
      if (failWrite) throw new Error('API server unavailable');
      log.push(`record ${phase}`);
      durable = phase;
    },
  });
  return { log, store, get durable() { return durable; }, failWrites(on: boolean) { failWrite = on; } };
}

/** A two-step machine that observes its effects in `cluster` (never in memory). */
function machine(cluster: { generated: boolean; published: boolean }, log: string[], crashIn?: Phase) {
  return (recorded: Phase | undefined): PhaseDecision<Phase> => {
    if (!cluster.generated) {
      return { phase: 'Generate', action: async () => {
        log.push('act Generate');
        if (crashIn === 'Generate') throw new Error('killed');
        cluster.generated = true;
      } };
    }
    if (!cluster.published) {
      return { phase: 'Publish', action: async () => {
        log.push(`act Publish (recorded ${recorded})`);
        if (crashIn === 'Publish') throw new Error('killed');
        cluster.published = true;
      } };
    }
    return { phase: 'Done' };
  };
}

test('the phase is recorded before its action runs, and only when it changes', async () => {
  const w = world();
  const cluster = { generated: false, published: false };
  const steps = [];
  for (let i = 0; i < 4; i++) steps.push(await advancePhase(w.store(), machine(cluster, w.log)));
  assert.deepEqual(w.log, ['record Generate', 'act Generate', 'record Publish', 'act Publish (recorded Generate)', 'record Done']);
  assert.deepEqual(steps.map((s) => [s.from, s.phase, s.recorded, s.acted]), [
    [undefined, 'Generate', true, true], ['Generate', 'Publish', true, true], ['Publish', 'Done', true, false], ['Done', 'Done', false, false],
  ]);
});

test('a kill during an action leaves its phase recorded; the next pass (a new process) resumes that phase', async () => {
  const w = world();
  const cluster = { generated: false, published: false };
  await advancePhase(w.store(), machine(cluster, w.log));
  await assert.rejects(advancePhase(w.store(), machine(cluster, w.log, 'Publish')), /killed/);
  assert.equal(w.durable, 'Publish', 'the record says which action may have partly run');
  // A restarted process has no memory: only the record and the cluster.
  const step = await advancePhase(w.store(), machine(cluster, w.log));
  assert.deepEqual([step.from, step.phase, step.recorded, step.acted], ['Publish', 'Publish', false, true]);
  assert.equal(cluster.published, true);
  assert.deepEqual(w.log.slice(-1), ['act Publish (recorded Publish)']);
});

test('when the phase cannot be recorded, no action runs', async () => {
  const w = world();
  const cluster = { generated: false, published: false };
  w.failWrites(true);
  await assert.rejects(advancePhase(w.store(), machine(cluster, w.log)), /unavailable/);
  assert.deepEqual(w.log, []);
  assert.equal(cluster.generated, false);
});

/** A client that records patches; only `patch` is used by the stores. */
function recordingClient() {
  const patches: Array<{ name: string; namespace?: string; body: unknown; kind: string; subresource?: string }> = [];
  const client = {
    async patch(_type: unknown, name: string, namespace: string | undefined, body: unknown, kind: string, subresource?: string) {
      patches.push({ name, namespace, body, kind, ...(subresource ? { subresource } : {}) });
      return {};
    },
  } as unknown as KubeClient;
  return { client, patches };
}

test('status store: reads the nested field from the cache, writes a merge patch of the status subresource, then reads its own write', async () => {
  const { client, patches } = recordingClient();
  const cached = { status: { upgrade: { phase: 'ControlPlane', from: '1.30.0' } } };
  const store = statusPhaseStore<string>(client, { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', name: 'default' }, ['upgrade', 'phase'], () => cached);
  assert.equal(store.read(), 'ControlPlane');
  await store.write('DataPlane');
  assert.deepEqual(patches, [{ name: 'default', namespace: undefined, body: { status: { upgrade: { phase: 'DataPlane' } } }, kind: 'merge', subresource: 'status' }]);
  assert.equal(store.read(), 'DataPlane', 'the cache still says ControlPlane; the store knows better');
});

test('annotation store: one annotation by merge patch; absent annotation reads as no phase', async () => {
  const { client, patches } = recordingClient();
  const store = annotationPhaseStore<string>(client, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }, 'meshwright.dev/restart-phase', () => ({ metadata: { annotations: { other: 'x' } } }));
  assert.equal(store.read(), undefined);
  await store.write('Restarting');
  assert.deepEqual(patches, [{ name: 'web', namespace: 'shop', body: { metadata: { annotations: { 'meshwright.dev/restart-phase': 'Restarting' } } }, kind: 'merge' }]);
  assert.equal(store.read(), 'Restarting');
});
