/**
 * An External root change follows the overlap path (issue #17, point 3): the test mesh on the
 * user's CA Secret (cert-manager's layout) with three injected Deployments; the user puts a new
 * root and an issuer signed by it into the Secret. Instead of a hard switch, the operator keeps
 * publishing the root in use, adds the new one, restarts the data plane, switches to the user's
 * issuer, restarts, drops the old root and restarts — the sampler finding no instant, every
 * 100 ms, where a pod's bundle lacks the live issuer's root — and ends on the user's material.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertEveryPhaseOnce, assertRotation, RotationPhases, rotationWhen, TrustSampler, testMeshSource, userCa } from './support.ts';

const world = new RolloutWorld({ maxUnavailable: 2, batchInterval: '0s', progressDeadline: '60s' });
const workloads: TestWorkload[] = [];

before(async () => {
  await world.setUp();
  await world.admin.delete({ apiVersion: 'v1', kind: 'Pod' }, 'bare', world.apps);
  for (let i = 1; i <= 3; i++) workloads.push(await world.workload('Deployment', `web-${i}`, { replicas: 2, readyDelayMs: 300 }));
  await world.settled();
  await world.rolloutWhen('every workload current', (r) => r?.workloads.total === 3 && r.workloads.current === 3, 60_000);
});

after(async () => {
  await world.tearDown();
});

test('a new root in the user\'s Secret is taken with an overlap, never a hard switch: no trust gap at any 100 ms sample, ending on the user\'s CA', async (t) => {
  await rotationWhen(world, 'Idle', (r) => r?.phase === 'Idle');
  const phases = new RotationPhases(world);
  await phases.start();
  const sampler = new TrustSampler(testMeshSource(world));
  await sampler.start();
  const ca = await userCa('new user');
  await world.admin.patch({ apiVersion: 'v1', kind: 'Secret' }, `rollout-ca-${world.harness.run}`, 'default', { data: ca.data }, 'merge');
  await rotationWhen(world, 'the External rotation completed', (r) => r?.phase === 'Idle' && r.completedAt !== undefined, 180_000);
  const report = await sampler.stop();
  await phases.stop();
  t.diagnostic(`${report.samples.length} samples, max gap ${report.maxGapMs} ms; phases ${phases.phases.join(' -> ')}`);
  assertEveryPhaseOnce(phases);
  assertRotation(report, { selfSigned: false });
  const started = await world.events('RootRotationStarted');
  assert.equal(started.length, 1);
  assert.match(started[0]!.note ?? '', /External Secret holds a new root/);
  const cacerts = await world.admin.get<{ data: Record<string, string> } & Parameters<typeof world.admin.create>[0]>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', world.harness.meshNamespace);
  assert.equal(Buffer.from(cacerts.data['root-cert.pem']!, 'base64').toString('utf8').trim(), ca.rootPem.trim(), 'the user\'s root alone is published');
  assert.equal(Buffer.from(cacerts.data['ca-cert.pem']!, 'base64').toString('utf8').trim(), ca.issuerPem.trim(), 'the user\'s issuer signs');
  const hash = await world.publishedHash();
  for (const workload of workloads) await world.assertPodsRecord(workload, hash);
});
