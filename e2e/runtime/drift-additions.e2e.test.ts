/**
 * Drift covers additions, on the real control plane (issue 20): what another writer adds where an
 * owned object is ours whole — a sidecar, an init container, an env var, a volume, host
 * namespaces, a privileged security context, node placement in a workload's pod template; a
 * webhook; a Service port; a ConfigMap or Secret key — is removed, one addition at a time, each
 * timed. What belongs to others stays: replicas set through the scale subresource (an HPA), the
 * template annotation of `kubectl rollout restart`, annotations and labels, an injected caBundle;
 * a pass after the repairs writes nothing. A writer that keeps re-adding gets `DriftContested`
 * (Event and condition naming its field manager) after a bounded number of writes, counted in the
 * API server's audit log.
 *
 * The first test also shows why removal is not left to server-side apply: the operator's own
 * forced apply leaves an element another manager added to a keyed list in place.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HttpMethod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { Operator } from '../../operator/operator.ts';
import { fieldManager, KubeClient, userAgent, type KubeObject, type TypeRef } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { removeTestMesh, testDistributionWithCa } from '../support/test-distribution.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const name = `da-${run}`;
const namespace = `test-mesh-${run}`;
const operatorClient = new KubeClient(kc);
/** Field managers are named after the user agent's first segment. */
const foreign = new KubeClient(kc, 'e2e-intruder/1.0');
const events: Array<{ type: string; reason: string; note: string }> = [];
let reconciles = 0;
let operator: Operator;

const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const serviceType = { apiVersion: 'v1', kind: 'Service' };
const configMapType = { apiVersion: 'v1', kind: 'ConfigMap' };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const webhookType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' };

type PodSpec = {
  containers: Array<{ name: string; env?: Array<{ name: string }>; volumeMounts?: unknown[]; securityContext?: Record<string, unknown> }>;
  initContainers?: unknown[];
  volumes?: unknown[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  securityContext?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  serviceAccountName?: string;
};
type Workload = KubeObject & { spec: { replicas?: number; template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } } };
type MiStatus = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };

function startOperator(): Promise<void> {
  operator = new Operator({
    client: operatorClient,
    distributions: [testDistributionWithCa],
    log: pino({ level: 'warn' }),
    installationSelector: `meshwright.dev/test-run=${run}`,
    hooks: { onReconciled: () => reconciles++, onEvent: (_mi, type, reason, note) => events.push({ type, reason, note }) },
  });
  return operator.start();
}

/** Enqueues the installation and waits until a pass ran to its end. */
async function passRuns(): Promise<void> {
  const before = reconciles;
  operator.controller.enqueue(name);
  await eventually('a reconcile pass to run', async () => reconciles > before, 10_000, 20);
}

/** Writes the operator sent since `since` to this test's objects (API server audit log). */
function operatorWrites(since: Date, resource?: string) {
  return auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && e.objectRef?.subresource !== 'status'
    && (e.objectRef?.namespace === namespace || (e.objectRef?.name ?? '').includes(run)) && (!resource || e.objectRef?.resource === resource));
}

const workload = () => foreign.get<Workload>(deploymentType, 'controller', namespace);
const podSpec = async () => (await workload()).spec.template.spec;

/** One addition: what another writer sends, and how to tell it is gone. */
interface Addition {
  what: string;
  type: TypeRef;
  object: string;
  patch: unknown[];
  gone: () => Promise<boolean>;
}

const additions: Addition[] = [
  { what: 'a sidecar container', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'sidecar', image: 'registry.example/exfiltrate:1' } }], gone: async () => (await podSpec()).containers.length === 1 },
  { what: 'an init container', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/initContainers', value: [{ name: 'init', image: 'registry.example/init:1' }] }], gone: async () => (await podSpec()).initContainers === undefined },
  { what: 'an env var in our container', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'DEBUG_TOKEN', value: 'x' }] }], gone: async () => (await podSpec()).containers[0]!.env === undefined },
  {
    what: 'a hostPath volume and its mount', type: deploymentType, object: 'controller',
    patch: [{ op: 'add', path: '/spec/template/spec/volumes', value: [{ name: 'host', hostPath: { path: '/' } }] }, { op: 'add', path: '/spec/template/spec/containers/0/volumeMounts', value: [{ name: 'host', mountPath: '/host' }] }],
    gone: async () => { const spec = await podSpec(); return spec.volumes === undefined && spec.containers[0]!.volumeMounts === undefined; },
  },
  { what: 'host namespaces', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/hostNetwork', value: true }, { op: 'add', path: '/spec/template/spec/hostPID', value: true }], gone: async () => { const spec = await podSpec(); return !spec.hostNetwork && !spec.hostPID; } },
  { what: 'a privileged container security context', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { privileged: true } }], gone: async () => (await podSpec()).containers[0]!.securityContext === undefined },
  { what: 'a root pod security context', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/securityContext/runAsUser', value: 0 }], gone: async () => (await podSpec()).securityContext?.runAsUser === undefined },
  { what: 'a nodeSelector', type: deploymentType, object: 'controller', patch: [{ op: 'add', path: '/spec/template/spec/nodeSelector', value: { 'kubernetes.io/hostname': 'attacker-node' } }], gone: async () => (await podSpec()).nodeSelector === undefined },
  {
    what: 'a second webhook', type: webhookType, object: `test-mesh-${name}`,
    patch: [{ op: 'add', path: '/webhooks/-', value: { name: 'steal.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore', clientConfig: { url: 'https://127.0.0.1:2/steal' }, objectSelector: { matchLabels: { 'test-mesh.meshwright.dev/never': 'true' } }, rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['secrets'] }] } }],
    gone: async () => (await foreign.get<KubeObject & { webhooks: unknown[] }>(webhookType, `test-mesh-${name}`)).webhooks.length === 1,
  },
  { what: 'a Service port', type: serviceType, object: 'controller', patch: [{ op: 'add', path: '/spec/ports/-', value: { name: 'debug', port: 6060, targetPort: 6060, protocol: 'TCP' } }], gone: async () => (await foreign.get<KubeObject & { spec: { ports: unknown[] } }>(serviceType, 'controller', namespace)).spec.ports.length === 1 },
  { what: 'a ConfigMap key', type: configMapType, object: 'mesh-config', patch: [{ op: 'add', path: '/data/extraTrustDomain', value: 'attacker.example' }], gone: async () => (await foreign.get<KubeObject & { data: Record<string, string> }>(configMapType, 'mesh-config', namespace)).data.extraTrustDomain === undefined },
  { what: 'a Secret key', type: secretType, object: 'cacerts', patch: [{ op: 'add', path: '/data/extra-root.pem', value: Buffer.from('not a real root').toString('base64') }], gone: async () => (await foreign.get<KubeObject & { data: Record<string, string> }>(secretType, 'cacerts', namespace)).data['extra-root.pem'] === undefined },
];

before(async () => {
  await installMeshInstallationCrd(operatorClient);
  await startOperator();
  await foreign.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace } });
  await eventually('Ready=True', async () => (await foreign.get<MiStatus>(miType, name)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 60_000);
});

after(async () => {
  await operator.stop();
  await removeTestMesh(foreign, name, namespace);
  await operatorClient.close();
  await foreign.close();
});

describe('drift covers additions', () => {
  test('server-side apply alone does not remove an element another manager added to a keyed list (why the rule removes it by a guarded JSON patch)', async () => {
    const experiment = `ssa-alone-${run}`;
    const admin = new KubeClient(kc, 'e2e-admin/1.0');
    const ours = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: experiment, namespace: 'default' }, data: { a: '1' } };
    const probe = { apiVersion: 'v1', kind: 'Service', metadata: { name: experiment, namespace: 'default' }, spec: { selector: { app: experiment }, ports: [{ name: 'a', port: 80, protocol: 'TCP' }] } };
    try {
      for (const object of [ours, probe]) await admin.apply(object, { force: true, manager: fieldManager });
      await foreign.patch(serviceType, experiment, 'default', [{ op: 'add', path: '/spec/ports/-', value: { name: 'b', port: 81, protocol: 'TCP' } }], 'json');
      // Our forced apply, and an apply that first takes the element over and then drops it.
      await admin.apply(probe, { force: true, manager: fieldManager });
      await admin.apply({ ...probe, spec: { ...probe.spec, ports: [...probe.spec.ports, { name: 'b', port: 81, protocol: 'TCP' }] } }, { force: true, manager: fieldManager });
      await admin.apply(probe, { force: true, manager: fieldManager });
      assert.equal((await admin.get<KubeObject & { spec: { ports: unknown[] } }>(serviceType, experiment, 'default')).spec.ports.length, 2, 'the added port is still there');
    } finally {
      await admin.delete(serviceType, experiment, 'default').catch(() => undefined);
      await admin.delete(configMapType, experiment, 'default').catch(() => undefined);
      await admin.close();
    }
  });

  test('each addition where an object is ours whole is removed, and named in a DriftCorrected Event', async () => {
    const timings: string[] = [];
    for (const addition of additions) {
      events.length = 0;
      await foreign.patch(addition.type, addition.object, addition.type.kind.endsWith('WebhookConfiguration') ? undefined : namespace, addition.patch, 'json');
      const started = performance.now();
      await eventually(`${addition.what} to be removed`, addition.gone, 10_000, 10);
      timings.push(`${addition.what}: ${Math.round(performance.now() - started)} ms`);
      await eventually(`a DriftCorrected Event for ${addition.what}`, async () => events.some((e) => e.reason === 'DriftCorrected' && e.note.includes('e2e-intruder')), 5_000, 20);
    }
    process.stderr.write(`[drift-additions] removed within (poll every 10 ms): ${timings.join('; ')}\n`);
    assert.equal((await podSpec()).serviceAccountName, 'controller');
  });

  test('what belongs to others stays: replicas through the scale subresource, a rollout restart, annotations and labels, a caBundle; passes then write nothing', async () => {
    const autoscaler = new KubeClient(kc, 'e2e-autoscaler/1.0');
    const rollout = new KubeClient(kc, 'kubectl-rollout/v1.36.3');
    try {
      await autoscaler.request(HttpMethod.PATCH, `/apis/apps/v1/namespaces/${namespace}/deployments/controller/scale`, { spec: { replicas: 3 } }, 'application/merge-patch+json');
      const restartedAt = new Date().toISOString();
      await rollout.patch(deploymentType, 'controller', namespace, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } }, 'merge');
      await foreign.patch(deploymentType, 'controller', namespace, { metadata: { annotations: { 'example.com/owner': 'platform' }, labels: { 'example.com/team': 'mesh' } } }, 'merge');
      await foreign.patch(webhookType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from('injected bundle').toString('base64') }], 'json');
      await eventually('the operator\'s cache to show the writes', async () => {
        const cached = operator.owned.get('apps/v1/Deployment')!.get('controller', namespace) as Workload | undefined;
        return cached?.metadata.labels?.['example.com/team'] === 'mesh';
      }, 10_000, 20);
      const since = new Date();
      for (let i = 0; i < 3; i++) await passRuns();
      assert.deepEqual(operatorWrites(since).map((e) => `${e.verb} ${e.requestURI}`), []);
      const live = await workload();
      assert.equal(live.spec.replicas, 3);
      assert.equal(live.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], restartedAt);
      assert.equal(live.metadata.annotations?.['example.com/owner'], 'platform');
      assert.equal(live.metadata.labels?.['example.com/team'], 'mesh');
      assert.ok((await foreign.get<KubeObject & { webhooks: Array<{ clientConfig: { caBundle?: string } }> }>(webhookType, `test-mesh-${name}`)).webhooks[0]!.clientConfig.caBundle);
    } finally {
      await autoscaler.close();
      await rollout.close();
    }
  });

  test('a writer that keeps re-adding gets DriftContested naming its field manager, after a bounded number of writes', async () => {
    const fighter = new KubeClient(kc, 'e2e-fighter/1.0');
    const since = new Date();
    let stop = false;
    let readditions = 0;
    // Re-adds its env var whenever it is gone, as fast as it can see it.
    const fight = (async () => {
      while (!stop) {
        const spec = (await fighter.get<Workload>(deploymentType, 'controller', namespace)).spec.template.spec;
        if (!spec.containers[0]!.env?.some((e) => e.name === 'FIGHT')) {
          await fighter.patch(deploymentType, 'controller', namespace, [{ op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'FIGHT', value: 'on' }] }], 'json').catch(() => undefined);
          readditions++;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      const condition = await eventually('condition DriftContested=True', async () => (await foreign.get<MiStatus>(miType, name)).status?.conditions?.find((c) => c.type === 'DriftContested' && c.status === 'True'), 30_000, 50);
      assert.match(condition.message, /e2e-fighter/);
      assert.match(condition.message, /Deployment/);
      assert.ok(events.some((e) => e.type === 'Warning' && e.reason === 'DriftContested' && e.note.includes('"e2e-fighter"')), 'a Warning Event names the field manager');
      // The fight goes on a while longer: the operator keeps out of it.
      const contestedAfter = readditions;
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.ok(readditions <= contestedAfter + 1, `the fighter found nothing more to re-add (${readditions} re-additions)`);
    } finally {
      stop = true;
      await fight;
      await fighter.close();
    }
    // Every write counts, a refused one too (the API server's answer is shown): a write the operator should not have sent is one too many.
    const writes = operatorWrites(since, 'deployments');
    assert.ok(writes.length >= 1 && writes.length <= 3, `repairs against the fighter are bounded (3 a minute): ${writes.length} writes:\n${writes.map((e) => `  ${e.stageTimestamp} ${e.verb} ${e.requestURI} -> ${e.responseStatus?.code}`).join('\n')}`);
    const env = (await podSpec()).containers[0]!.env ?? [];
    assert.ok(env.some((e) => e.name === 'FIGHT'), 'while contested, the fighter\'s env var is left in place and reported');
  });
});
