/**
 * The data plane end to end with the operator as it ships: a `meshwright run` process
 * authenticated as its own ServiceAccount with the generated RBAC (so enrolment's namespace patches
 * and the pod informer's list/watch are shown to be granted), serving the injection webhook the
 * API server calls. The operator enrols the namespace spec.injection names, the sample app of
 * `npm start` (e2e/cluster/sample-app.ts) is deployed into it and injected through the webhook,
 * and status.dataPlane counts exactly the pods that carry the proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { ENROLLED_BY_ANNOTATION } from '../../operator/controllers/meshinstallation/enrolment.ts';
import { INJECTED_BY_LABEL } from '../../operator/distributions/injection.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { deploySampleApp } from '../cluster/sample-app.ts';
import { InjectionHarness } from '../injection/harness.ts';
import { eventually } from '../support/kube.ts';
import { TEST_INJECT_LABEL, TEST_PROXY_CONTAINER } from '../support/test-distribution.ts';

const harness = new InjectionHarness();
const { admin, name } = harness;
const miType = { apiVersion: API_VERSION, kind: KIND };
const nsType = { apiVersion: 'v1', kind: 'Namespace' };
const apps = `dp-apps-${harness.run}`;

type Condition = { type: string; status: string; reason: string; message: string };
type DataPlane = { enrolledNamespaces: number; injectedPods: number; outdatedPods: number; proxyVersions?: Record<string, number> };
type Installation = KubeObject & { status?: { conditions?: Condition[]; dataPlane?: DataPlane } };

/** Pods of the sample app that run, and those of them carrying the test proxy. */
async function samplePods(): Promise<{ all: KubeObject[]; injected: KubeObject[] }> {
  const all = (await admin.list({ apiVersion: 'v1', kind: 'Pod' }, { namespace: apps, labelSelector: 'part-of=sample-app' })).items.filter((p) => !p.metadata.deletionTimestamp);
  const injected = all.filter((p) => (p.spec as { containers: Array<{ name: string }> }).containers.some((c) => c.name === TEST_PROXY_CONTAINER) && p.metadata.labels?.[INJECTED_BY_LABEL] === name);
  return { all, injected };
}

/** status.dataPlane and DataPlaneReady once `check` holds. */
async function dataPlaneWhen(description: string, check: (d: DataPlane | undefined, c: Condition | undefined) => boolean): Promise<{ dataPlane: DataPlane; condition: Condition }> {
  return eventually(description, async () => {
    const mi = await admin.get<Installation>(miType, name);
    const condition = mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady');
    return check(mi.status?.dataPlane, condition) ? { dataPlane: mi.status!.dataPlane!, condition: condition! } : undefined;
  }, 60_000, 200);
}

before(async () => {
  await harness.setUp();
  await harness.startOperator();
  await harness.install();
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: apps, labels: { team: 'apps' } } });
});

after(async () => {
  await harness.tearDown();
  await admin.delete(nsType, apps).catch(() => undefined);
});

describe('the operator as its own ServiceAccount: enrolment, injection and status.dataPlane', () => {
  test('the named namespace is enrolled, the sample app\'s pods are injected through the webhook, and status.dataPlane counts exactly them', async () => {
    await admin.patch(miType, name, undefined, { spec: { injection: { namespaces: [apps] } } }, 'merge');
    const installation = await admin.get(miType, name);
    const report = await deploySampleApp(admin, installation, () => undefined, 90_000);
    const ns = await admin.get(nsType, apps);
    assert.equal(ns.metadata.labels?.[TEST_INJECT_LABEL], name, 'enrolled by the operator\'s own patch');
    assert.equal(ns.metadata.annotations?.[ENROLLED_BY_ANNOTATION], name);
    assert.equal(ns.metadata.labels?.team, 'apps');
    assert.deepEqual(report.failures, []);
    assert.equal(report.pods.length, 5, 'frontend 2, api 2, db 1');
    assert.deepEqual(report.pods.filter((p) => !p.injected).map((p) => p.name), [], 'every sample pod went through the webhook');

    const pods = await samplePods();
    assert.equal(pods.injected.length, 5);
    // The harness's own enrolled namespace (labelled by a person) counts too; it holds no pods.
    const { dataPlane, condition } = await dataPlaneWhen('5 injected pods counted', (d) => d?.injectedPods === 5);
    const { rollout, ...counted } = dataPlane as typeof dataPlane & { rollout?: { target: string; phase: string; progress: string } };
    assert.deepEqual(counted, { enrolledNamespaces: 2, injectedPods: 5, outdatedPods: 0, proxyVersions: { '1.1.0': 5 } });
    // The sample's three Deployments, found through their ReplicaSets with the generated RBAC; a mesh without a CA: the target is the version.
    assert.deepEqual(rollout && { target: rollout.target, phase: rollout.phase, progress: rollout.progress }, { target: '1.1.0', phase: 'Complete', progress: '3/3' });
    assert.equal(condition.status, 'True');
    assert.equal(condition.reason, 'ProxiesCurrent');
    assert.match(condition.message, /^5 pods in 2 enrolled namespaces run proxy 1\.1\.0$/);
  });

  test('more replicas are counted as they come; pods gone are not', async () => {
    await admin.patch({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'frontend', apps, { spec: { replicas: 4 } }, 'merge');
    await eventually('7 injected sample pods', async () => (await samplePods()).injected.length === 7);
    await dataPlaneWhen('7 injected pods counted', (d) => d?.injectedPods === 7 && d.proxyVersions?.['1.1.0'] === 7);
    await admin.patch({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'frontend', apps, { spec: { replicas: 1 } }, 'merge');
    await dataPlaneWhen('4 injected pods counted', (d) => d?.injectedPods === 4);
    assert.equal((await samplePods()).injected.length, 4, 'the count is the pods\'');
  });

  test('leaving the selection unenrols the namespace (its label and annotation only); its running pods keep their proxies and are still counted', async () => {
    await admin.patch(miType, name, undefined, { spec: { injection: { namespaces: null } } }, 'merge');
    await eventually(`${apps} unenrolled`, async () => (await admin.get(nsType, apps)).metadata.labels?.[TEST_INJECT_LABEL] === undefined);
    const ns = await admin.get(nsType, apps);
    assert.equal(ns.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
    assert.equal(ns.metadata.labels?.team, 'apps');
    const { dataPlane } = await dataPlaneWhen('1 enrolled namespace', (d) => d?.enrolledNamespaces === 1);
    assert.equal(dataPlane.injectedPods, 4);
  });
});
