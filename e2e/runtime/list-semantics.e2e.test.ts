/**
 * Drift detection by each field's real merge semantics, on the real control plane: an element
 * another writer adds to a list the operator owns whole (RBAC subjects and rules, webhook rules,
 * container args) or a key added to a map it owns whole (a Service's selector) is drift, and the
 * server-side apply that repairs it removes the addition — across an operator restart too, and
 * with `kubectl auth can-i` as the judge of the privilege an added subject would have kept. What
 * others legitimately add (annotations, a caBundle, elements of map lists) is still left alone, and
 * a pass after the repairs writes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { MeshDistribution } from '../../operator/distributions/distribution.ts';
import { Operator } from '../../operator/operator.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { listSemantics } from '../../operator/runtime/list-semantics.ts';
import { ensureToolchain } from '../cluster/local-cluster.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { testDistribution } from '../support/test-distribution.ts';

const execFileAsync = promisify(execFile);
const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const name = `ls-${run}`;
const namespace = `test-mesh-${run}`;
const operatorClient = new KubeClient(kc);
const foreign = new KubeClient(kc, 'meshwright-e2e-foreign-writer');
const drift: string[] = [];
let reconciles = 0;
let operator: Operator;

const miType = { apiVersion: API_VERSION, kind: KIND };
const bindingType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' };
const roleType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' };
const webhookType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const serviceType = { apiVersion: 'v1', kind: 'Service' };
const ourRules = [{ apiGroups: [''], resources: ['pods', 'services', 'secrets'], verbs: ['get', 'list', 'watch'] }];

/**
 * The test mesh whose controller, like istiod, reads Secrets cluster-wide: the privilege a subject
 * added to its ClusterRoleBinding would gain.
 */
const distribution: MeshDistribution = {
  ...testDistribution,
  render: (input) => testDistribution.render(input).map((object) => (object.kind === 'ClusterRole' ? { ...object, rules: ourRules } : object)),
};

type Binding = KubeObject & { subjects: Array<{ kind: string; name: string; namespace?: string }> };
type Role = KubeObject & { rules: unknown[] };
type Webhooks = KubeObject & { webhooks: Array<{ rules: unknown[]; clientConfig: { caBundle?: string } }> };
type Workload = KubeObject & { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
type Service = KubeObject & { spec: { selector: Record<string, string> } };

function startOperator(): Promise<void> {
  operator = new Operator({
    client: operatorClient,
    distributions: [distribution],
    log: pino({ level: 'warn' }),
    installationSelector: `meshwright.dev/test-run=${run}`,
    hooks: { onDriftCorrected: (kind) => drift.push(kind), onReconciled: () => reconciles++ },
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
function operatorWrites(since: Date) {
  return auditEvents(since, (e) => e.userAgent === userAgent && writeVerbs.has(e.verb) && (e.objectRef?.namespace === namespace || (e.objectRef?.name ?? '').includes(run)));
}

/** `kubectl auth can-i <verb> <resource> -A --as=<user>`: true for yes (kubectl exits 1 for no). */
async function canI(verb: string, resource: string, user: string): Promise<boolean> {
  const kubectl = join(ensureToolchain(), 'kubectl');
  // A URL path is not a namespaced resource: no -A.
  const scope = resource.startsWith('/') ? [] : ['-A'];
  try {
    const { stdout } = await execFileAsync(kubectl, ['auth', 'can-i', verb, resource, ...scope, `--as=${user}`], { env: { ...process.env } });
    return stdout.trim() === 'yes';
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    if (stdout?.trim() === 'no') return false;
    throw error;
  }
}

/** The user name of the ServiceAccount `account` in the test namespace, for `--as`. */
const serviceAccount = (account: string) => `system:serviceaccount:${namespace}:${account}`;

/**
 * What an attacker with write access to our objects adds: the ServiceAccount `intruder` as a
 * subject, a rule, a webhook rule, an argument, a selector key.
 */
async function addForeignElements(intruder: string): Promise<void> {
  await foreign.patch(bindingType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/subjects/-', value: { kind: 'ServiceAccount', name: intruder, namespace } }], 'json');
  await foreign.patch(roleType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/rules/-', value: { apiGroups: [''], resources: ['configmaps'], verbs: ['*'] } }], 'json');
  await foreign.patch(webhookType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/webhooks/0/rules/-', value: { apiGroups: ['*'], apiVersions: ['*'], operations: ['CREATE'], resources: ['pods'] } }], 'json');
  await foreign.patch(deploymentType, 'controller', namespace, [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--debug-endpoints=0.0.0.0:6060' }], 'json');
  await foreign.patch(serviceType, 'controller', namespace, { spec: { selector: { hijacked: 'true' } } }, 'merge');
}

/** Waits until every addition of {@link addForeignElements} is gone from the API server's objects. */
async function additionsRemoved(): Promise<void> {
  await eventually('the added subject to be removed', async () => {
    const binding = await foreign.get<Binding>(bindingType, `test-mesh-${name}`);
    return isDeepStrictEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'controller', namespace }]);
  }, 10_000, 50);
  await eventually('the added ClusterRole rule to be removed', async () => isDeepStrictEqual((await foreign.get<Role>(roleType, `test-mesh-${name}`)).rules, ourRules), 10_000, 50);
  await eventually('the added webhook rule to be removed', async () => (await foreign.get<Webhooks>(webhookType, `test-mesh-${name}`)).webhooks[0]!.rules.length === 1, 10_000, 50);
  await eventually('the added container argument to be removed', async () => (await foreign.get<Workload>(deploymentType, 'controller', namespace)).spec.template.spec.containers[0]!.args.join(' ') === 'discovery --log-level=info', 10_000, 50);
  await eventually('the added selector key to be removed', async () => isDeepStrictEqual((await foreign.get<Service>(serviceType, 'controller', namespace)).spec.selector, { app: 'test-mesh-controller' }), 10_000, 50);
}

before(async () => {
  await installMeshInstallationCrd(operatorClient);
  await startOperator();
  await foreign.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace } });
  await eventually('Ready=True', async () => {
    const mi = await foreign.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(miType, name);
    return mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }, 60_000);
});

after(async () => {
  await operator.stop();
  await foreign.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
  await foreign.delete(miType, name).catch(() => undefined);
  await foreign.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
  for (const type of [roleType, bindingType, webhookType]) await foreign.delete(type, `test-mesh-${name}`).catch(() => undefined);
  await operatorClient.close();
  await foreign.close();
});

describe('drift by list semantics', () => {
  test('the operator knows how each owned list merges from the API server, which lets any account read its OpenAPI (no RBAC of ours)', async () => {
    assert.equal(await canI('get', '/openapi/v3/apis/rbac.authorization.k8s.io/v1', serviceAccount('anyone')), true);
    const known = (type: { apiVersion: string; kind: string }, path: string) => listSemantics(operator.schemas.schemaOf(type) ?? assert.fail(`no schema for ${type.kind}`), path.split('.'));
    assert.deepEqual(known(bindingType, 'subjects'), { type: 'atomic' });
    assert.deepEqual(known(webhookType, 'webhooks.rules'), { type: 'atomic' });
    assert.deepEqual(known(deploymentType, 'spec.template.spec.containers'), { type: 'map', keys: ['name'] });
    assert.deepEqual(known(serviceType, 'spec.ports'), { type: 'map', keys: ['port', 'protocol'] });
  });

  test('the test is meaningful: the controller our binding names can list Secrets everywhere, an unknown account cannot', async () => {
    assert.equal(await canI('list', 'secrets', serviceAccount('controller')), true);
    assert.equal(await canI('list', 'secrets', serviceAccount('intruder')), false);
  });

  test('a subject added to our ClusterRoleBinding, a rule added to our ClusterRole and webhook, an extra container argument and selector key are removed', async () => {
    const since = new Date();
    drift.length = 0;
    await addForeignElements('intruder');
    await additionsRemoved();
    assert.equal(await canI('list', 'secrets', serviceAccount('intruder')), false, 'the added subject lost what it gained');
    for (const kind of ['ClusterRoleBinding', 'ClusterRole', 'ValidatingWebhookConfiguration', 'Deployment', 'Service']) assert.ok(drift.includes(kind), `${kind} counted as drift: ${drift.join(',')}`);
    assert.ok(operatorWrites(since).every((e) => e.verb === 'patch'), 'repairs are server-side applies');
  });

  test('additions made while the operator is down are removed by the restarted operator', async () => {
    await operator.stop();
    // Another account than the first test's, so that this one fails on its own if restarts forget.
    await addForeignElements('intruder-while-down');
    assert.equal(await canI('list', 'secrets', serviceAccount('intruder-while-down')), true, 'while nobody repairs, the added subject can list Secrets');
    await startOperator();
    await additionsRemoved();
    assert.equal(await canI('list', 'secrets', serviceAccount('intruder-while-down')), false);
  });

  test('after the repairs a pass writes nothing; what others legitimately add (an annotation, a caBundle) is not fought over', async () => {
    await foreign.patch(bindingType, `test-mesh-${name}`, undefined, { metadata: { annotations: { 'example.com/reviewed-by': 'security' } } }, 'merge');
    await foreign.patch(webhookType, `test-mesh-${name}`, undefined, [{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from('not a real bundle').toString('base64') }], 'json');
    await eventually('the operator\'s cache to show the caBundle', async () => !!(operator.owned.get(`${webhookType.apiVersion}/${webhookType.kind}`)!.get(`test-mesh-${name}`) as Webhooks | undefined)?.webhooks[0]?.clientConfig.caBundle, 10_000, 20);
    // The repairs above changed the controller's pod template: its rollout moves the Deployment's
    // status for a while, and the status a pass writes follows it. Judge once it has settled and a
    // pass has recorded that.
    await eventually('the controller rolled out', async () => {
      const d = await foreign.get<KubeObject & { spec: { replicas?: number }; status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number } }>(deploymentType, 'controller', namespace);
      const st = d.status ?? {};
      const want = d.spec.replicas ?? 1;
      return (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && st.replicas === want && st.updatedReplicas === want && st.availableReplicas === want;
    }, 60_000, 100);
    await passRuns();
    const since = new Date();
    for (let i = 0; i < 3; i++) await passRuns();
    assert.deepEqual(operatorWrites(since).map((e) => `${e.verb} ${e.requestURI}`), []);
    assert.equal((await foreign.get(bindingType, `test-mesh-${name}`)).metadata.annotations?.['example.com/reviewed-by'], 'security');
  });
});
