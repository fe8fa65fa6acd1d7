/**
 * Gateways as their own gated stage of an InPlace upgrade (issue #16, points 2 and 3) on the real
 * control plane: the test mesh at 1.0.0 with a gateway (spec.gateways) and two injected one-pod
 * Deployments, spec.version bumped to 1.1.0. The phases are ControlPlane → Gateways → DataPlane →
 * Succeeded, and status.upgrade names each step as `meshwright plan` numbers and words it. The
 * order of the writes is read from the API server's own revision counter (one etcd: every write's
 * resourceVersion is its place in a single sequence): the new control plane is applied before
 * Gateways is recorded, the gateway moves to the new image only after that record, and no workload
 * is restarted before the gateway has moved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { miType, type RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { assertProxies, NEW, OLD, patchSpec, PhaseRecorder, upgradeWhen, upgrading, upgradeWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];
const GATEWAY = 'ingress';

before(async () => {
  ({ world, workloads } = await upgradeWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '60s', spec: { gateways: [{ name: GATEWAY, kind: 'Ingress' }] } }, 2));
});

after(async () => {
  await world?.tearDown();
});

type Deployment = KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } };

/** The first resourceVersion at which each watched fact held, as a watch shows them. */
class FirstSeen {
  readonly at = new Map<string, number>();

  note(fact: string, object: KubeObject): void {
    if (!this.at.has(fact)) this.at.set(fact, Number(object.metadata.resourceVersion));
  }

  get(fact: string): number {
    const rv = this.at.get(fact);
    assert.ok(rv !== undefined, `seen: ${fact} (${JSON.stringify([...this.at])})`);
    return rv;
  }
}

test('InPlace with a gateway: ControlPlane -> Gateways -> DataPlane -> Succeeded; the gateway moves only after the control plane passed and before any restart; status.upgrade names the plan step', async (t) => {
  const recorder = new PhaseRecorder(world);
  const seen = new FirstSeen();
  const installations = new Informer({ client: world.admin, type: miType, fieldSelector: `metadata.name=${world.name}` });
  installations.on((_type, object) => {
    const phase = (object as KubeObject & { status?: { upgrade?: { phase?: string } } }).status?.upgrade?.phase;
    if (phase) seen.note(`phase ${phase}`, object);
  });
  const deployments = new Informer({ client: world.admin, type: { apiVersion: 'apps/v1', kind: 'Deployment' }, namespace: world.harness.meshNamespace });
  deployments.on((_type, object) => {
    const image = (object as Deployment).spec.template.spec.containers[0]?.image ?? '';
    if (image.endsWith(`:${NEW}`)) seen.note(`${object.metadata.name} on ${NEW}`, object);
  });
  const apps = new Informer({ client: world.admin, type: { apiVersion: 'apps/v1', kind: 'Deployment' }, namespace: world.apps });
  apps.on((_type, object) => {
    const restartedFor = (object as KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }).spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '';
    if (restartedFor.startsWith(`${NEW}-`)) seen.note('a workload restarted', object);
  });
  await Promise.all([recorder.start(), installations.start(), deployments.start(), apps.start()]);
  assert.equal((deployments.get(GATEWAY, world.harness.meshNamespace) as Deployment | undefined)?.spec.template.spec.containers[0]?.image, `registry.example/test-mesh/gateway:${OLD}`);

  const bumpedAt = new Date();
  await patchSpec(world, { version: NEW });
  const done = await upgradeWhen(world, 'the upgrade Succeeded', (u) => u?.phase === 'Succeeded', 'UpgradeSucceeded', 180_000);
  await Promise.all([recorder.stop(), installations.stop(), deployments.stop(), apps.stop()]);
  t.diagnostic(`phases: ${recorder.phases.join(' -> ')}; steps: ${recorder.steps.join(' | ')}; resourceVersions: ${JSON.stringify([...seen.at])}`);

  assert.deepEqual(recorder.phases, ['ControlPlane', 'Gateways', 'DataPlane', 'Succeeded'], 'the phases in order');
  assert.deepEqual(recorder.steps, ['2. Control plane', '3. Gateways', '4. Data plane', '5. Succeeded'], 'the plan\'s steps, numbered and worded as meshwright plan prints them');
  assert.equal(done.status?.upgrade?.totalSteps, 5);

  // The order of the writes, by the API server's revision counter.
  const controlPlaneApplied = seen.get(`controller on ${NEW}`);
  const gatewaysRecorded = seen.get('phase Gateways');
  const gatewayApplied = seen.get(`${GATEWAY} on ${NEW}`);
  const dataPlaneRecorded = seen.get('phase DataPlane');
  assert.ok(controlPlaneApplied < gatewaysRecorded, 'the new control plane was applied before its gate passed');
  assert.ok(gatewaysRecorded < gatewayApplied, 'the gateway kept the old version until the Gateways phase was recorded');
  assert.ok(gatewayApplied < dataPlaneRecorded, 'the gateway moved before its gate passed');
  assert.ok(dataPlaneRecorded < seen.get('a workload restarted'), 'no workload restarted before DataPlane was recorded');

  assert.deepEqual([upgrading(done).status, upgrading(done).reason], ['False', 'UpgradeSucceeded']);
  const writes = world.workloadWrites(bumpedAt);
  assert.deepEqual([...writes.keys()].sort(), workloads.map((w) => w.id).sort(), 'every workload restarted');
  for (const [id, times] of writes) assert.equal(times.length, 1, `${id} restarted once`);
  for (const workload of workloads) await assertProxies(world, workload, NEW);
  for (const reason of ['UpgradeControlPlaneReady', 'UpgradeGatewaysReady']) assert.equal((await world.events(reason)).length, 1, `one ${reason} Event`);
});
