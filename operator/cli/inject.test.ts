/**
 * `meshwright inject` (inject.ts): every workload kind gets its pod injected in place through the
 * mesh's injector, objects without pods pass through, and every kind of bad input is a clear error
 * (exit code 2 from the command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { testDistributionWithCa } from '../../e2e/support/test-distribution.ts';
import { OFFLINE_TRUST_ANCHORS_PLACEHOLDER, type MeshDistribution } from '../distributions/distribution.ts';
import { INJECTED_BY_LABEL, InjectionError, RECORD_ANNOTATIONS, trustBundleSha256, withInjectionRecord, type InjectionOutcome, type SidecarInjector } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { injectCommand, InjectInputError, type ClusterReader } from './inject.ts';

/**
 * A small injector standing in for a mesh's: adds a `proxy` container carrying the trust anchors
 * it was given, honours an opt-out annotation, refuses an invalid one, and records as every
 * injector does. It also checks the namespace it is shown is enrolled, as a webhook only ever
 * sees enrolled namespaces.
 */
const stubInjector: SidecarInjector = {
  enrolmentLabel: () => ({ key: 'stub-injection', value: 'enabled' }),
  webhookConfigurations: () => [],
  inject({ pod, namespace, installation, resolved, trustAnchorsPem }): InjectionOutcome {
    if (namespace.labels['stub-injection'] !== 'enabled') return { injected: false, reason: 'NamespaceNotEnrolled', message: `namespace ${namespace.name} is not enrolled` };
    const ask = pod.metadata.annotations?.['stub/inject'];
    if (ask === 'false') return { injected: false, reason: 'OptedOut', message: 'the pod opts out with stub/inject=false' };
    if (ask !== undefined && ask !== 'true') throw new InjectionError(`annotation stub/inject: invalid value "${ask}" (want true or false)`);
    const injected = structuredClone(pod);
    injected.spec.containers.push({ name: 'proxy', image: `registry.example/proxy:${resolved.version}`, env: [{ name: 'TRUST', value: trustAnchorsPem }, { name: 'NS', value: namespace.name }] });
    const record = { mesh: 'istio' as const, installation: installation.metadata.name!, revision: resolved.revision, proxyVersion: resolved.version, trustBundleSha256: trustBundleSha256(trustAnchorsPem) };
    return {
      injected: true, record,
      pod: withInjectionRecord(injected, record),
      ...(namespace.annotations['stub/warn'] ? { warnings: [namespace.annotations['stub/warn']] } : {}),
    };
  },
};
const distributions: MeshDistribution[] = [{ ...testDistributionWithCa, injector: stubInjector }];

const container = '{containers: [{name: app, image: registry.example/app:1}]}';
const template = `{metadata: {labels: {app: web}}, spec: ${container}}`;
const files: Record<string, string> = {
  'mi.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: mesh}\nspec: {mesh: istio, version: "1.1.0", namespace: mesh-system}\n',
  'two-mi.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: a}\nspec: {mesh: istio, version: "1.1.0", namespace: a-system}\n---\napiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: b}\nspec: {mesh: istio, version: "1.0.0", namespace: b-system}\n',
  'bad-version-mi.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: mesh}\nspec: {mesh: istio, version: "1.9.9", namespace: mesh-system}\n',
  'pod.yaml': `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: ${container}\n`,
  'deployment.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 2, selector: {matchLabels: {app: web}}, template: ${template}}\n`,
  'statefulset.yaml': `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec: {serviceName: web, selector: {matchLabels: {app: web}}, template: ${template}}\n`,
  'daemonset.yaml': `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: ${template}}\n`,
  'replicaset.yaml': `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: ${template}}\n`,
  'job.yaml': `apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\nspec: {template: ${template}}\n`,
  'cronjob.yaml': `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web}\nspec: {schedule: "* * * * *", jobTemplate: {spec: {template: ${template}}}}\n`,
  'list.yaml': `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 80}]}}\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {selector: {matchLabels: {app: web}}, template: ${template}}}\n`,
  'multi.yaml': `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: ${template}}\n---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: solo}\nspec: ${container}\n`,
  'opted-out.yaml': `apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: {stub/inject: "false"}}\nspec: ${container}\n`,
  'invalid-annotation.yaml': `apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: {stub/inject: "maybe"}}\nspec: ${container}\n`,
  'not-yaml.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n',
  'scalar.yaml': 'just a string\n',
  'unknown-kind.yaml': 'apiVersion: example.com/v1\nkind: Rollout\nmetadata: {name: web}\nspec: {}\n',
  'no-kind.yaml': 'apiVersion: v1\nmetadata: {name: web}\n',
  'no-template.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n',
  'no-containers.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {metadata: {labels: {app: web}}, spec: {}}}\n',
  'pod-no-containers.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {}\n',
  'cronjob-no-template.yaml': 'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web}\nspec: {schedule: "* * * * *"}\n',
  'empty.yaml': '---\n',
};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error('ENOENT: no such file or directory');
  return text;
};
const offline = (filename: string, extra: Record<string, unknown> = {}) => injectCommand({ filename, installation: 'mi.yaml', ...extra }, { distributions, readFile });

/** The pod spec of the (only) injected pod of an object, wherever its kind keeps it. */
type PodLike = { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Array<{ name: string; image: string; env?: Array<{ name: string; value: string }> }> } };
/** A parsed workload, loosely typed as the tests walk it. */
type Workload = { kind: string; spec: { template: PodLike; jobTemplate: { spec: { template?: PodLike } } } };
function podOf(object: unknown): PodLike {
  const workload = object as Workload;
  switch (workload.kind) {
    case 'Pod': return object as PodLike;
    case 'CronJob': return workload.spec.jobTemplate.spec.template!;
    default: return workload.spec.template;
  }
}

function assertInjected(pod: PodLike, where: string, trust = OFFLINE_TRUST_ANCHORS_PLACEHOLDER): void {
  assert.deepEqual(pod.spec.containers.map((c) => c.name), ['app', 'proxy'], where);
  assert.equal(pod.spec.containers[1]!.image, 'registry.example/proxy:1.1.0', where);
  assert.equal(pod.spec.containers[1]!.env?.find((e) => e.name === 'TRUST')?.value, trust, where);
  assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], 'mesh', where);
  assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], '1.1.0', where);
  assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], trustBundleSha256(trust), where);
}

test('every workload kind: the pod or pod template is injected in place, the rest of the object unchanged', async () => {
  for (const file of ['pod.yaml', 'deployment.yaml', 'statefulset.yaml', 'daemonset.yaml', 'replicaset.yaml', 'job.yaml', 'cronjob.yaml']) {
    const input = parse(files[file]!);
    const { stdout } = await offline(file);
    const output = parse(stdout);
    assert.equal(output.kind, input.kind, file);
    assert.deepEqual(output.metadata, input.kind === 'Pod' ? { ...input.metadata, labels: { ...input.metadata.labels, [INJECTED_BY_LABEL]: 'mesh' }, annotations: output.metadata.annotations } : input.metadata, `${file}: the object's own metadata`);
    assertInjected(podOf(output), file);
    if (input.kind !== 'Pod') {
      const pod = podOf(output);
      assert.equal(pod.metadata.labels?.app, 'web', `${file}: the template keeps its labels`);
      assert.ok(!('namespace' in pod.metadata) && !('generateName' in pod.metadata) && !('name' in pod.metadata), `${file}: no pod identity leaks into the template`);
      // Everything beside the template is as it was.
      const strip = (o: unknown) => {
        const copy = structuredClone(o) as { kind: string; spec: { template?: PodLike; jobTemplate: { spec: { template?: PodLike } } } };
        if (copy.kind === 'CronJob') delete copy.spec.jobTemplate.spec.template;
        else delete copy.spec.template;
        return copy;
      };
      assert.deepEqual(strip(output), strip(input), `${file}: the rest of the object`);
    }
  }
});

test('the namespace the webhook would see: the object\'s own, else -n, else default', async () => {
  const ns = (stdout: string) => podOf(parse(stdout)).spec.containers[1]!.env!.find((e) => e.name === 'NS')!.value;
  assert.equal(ns((await offline('pod.yaml')).stdout), 'shop');
  assert.equal(ns((await offline('job.yaml')).stdout), 'default');
  assert.equal(ns((await offline('job.yaml', { namespace: 'team-a' })).stdout), 'team-a');
});

test('a List has its items injected; a multi-document file every document; objects without pods pass through', async () => {
  const list = parse((await offline('list.yaml')).stdout);
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items[0], parse(files['list.yaml']!).items[0], 'the Service as it was');
  assertInjected(podOf(list.items[1]), 'list item 2');

  const documents = parseAllDocuments((await offline('multi.yaml')).stdout).map((d) => d.toJS());
  assert.deepEqual(documents.map((d) => d.kind), ['Service', 'Deployment', 'Pod'], 'the empty document is dropped');
  assert.deepEqual(documents[0], parse(files['multi.yaml']!.split('---\n')[0]!));
  assertInjected(podOf(documents[1]), 'document 2');
  assertInjected(podOf(documents[2]), 'document 4');

  const json = JSON.parse((await offline('multi.yaml', { output: 'json' })).stdout);
  assert.equal(json.kind, 'List');
  assert.equal(json.items.length, 3);
  assert.equal(JSON.parse((await offline('pod.yaml', { output: 'json' })).stdout).kind, 'Pod', 'one document prints as itself');
});

test('offline, the placeholder trust anchors are said; a pod that opts out is printed as it is, with a note', async () => {
  const { notes } = await offline('pod.yaml');
  assert.match(notes[0]!, /offline: the trust anchors are a placeholder.*--from-cluster/);
  const out = await offline('opted-out.yaml');
  assert.deepEqual(parse(out.stdout), parse(files['opted-out.yaml']!));
  assert.match(out.notes[1]!, /^opted-out\.yaml \(Pod web\): left as it is \(OptedOut\): the pod opts out with stub\/inject=false$/);
});

test('bad input: each a clear error naming the file and what to do', async () => {
  const rows: Array<[string, Record<string, unknown>, RegExp]> = [
    ['not YAML', { filename: 'not-yaml.yaml' }, /^not-yaml\.yaml: not valid YAML: /],
    ['not an object', { filename: 'scalar.yaml' }, /^scalar\.yaml: not a Kubernetes object .* got string$/],
    ['unknown kind', { filename: 'unknown-kind.yaml' }, /^unknown-kind\.yaml \(Rollout web\): unknown kind Rollout; meshwright inject injects Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, List and prints objects without pods/],
    ['no kind', { filename: 'no-kind.yaml' }, /^no-kind\.yaml: apiVersion and kind are required$/],
    ['no pod template', { filename: 'no-template.yaml' }, /^no-template\.yaml \(Deployment web\): no pod template \(\.spec\.template\.spec\.containers is missing\)$/],
    ['a template without containers', { filename: 'no-containers.yaml' }, /no pod template \(\.spec\.template\.spec\.containers is missing\)/],
    ['a CronJob without a job template', { filename: 'cronjob-no-template.yaml' }, /^cronjob-no-template\.yaml \(CronJob web\): no pod template \(\.spec\.jobTemplate\.spec\.template is missing\)$/],
    ['a Pod without containers', { filename: 'pod-no-containers.yaml' }, /^pod-no-containers\.yaml \(Pod web\): no spec\.containers, so no pod to inject$/],
    ['nothing in the file', { filename: 'empty.yaml' }, /^empty\.yaml: no objects found$/],
    ['a file that is not there', { filename: 'missing.yaml' }, /^cannot read workload file missing\.yaml: ENOENT/],
    ['an annotation the injector refuses', { filename: 'invalid-annotation.yaml' }, /^invalid-annotation\.yaml \(Pod web\): annotation stub\/inject: invalid value "maybe" \(want true or false\)$/],
    ['no installation', { filename: 'pod.yaml', installation: undefined }, /^no installation: give --installation <mi\.yaml> to inject offline, or --from-cluster/],
    ['both installation sources', { filename: 'pod.yaml', fromCluster: true }, /^give either --installation <mi\.yaml> or --from-cluster, not both$/],
    ['no -f', { filename: undefined }, /^inject needs -f <file>/],
    ['a bad -o', { filename: 'pod.yaml', output: 'table' }, /^-o must be yaml or json, got "table"$/],
    ['an installation file that is not one', { filename: 'pod.yaml', installation: 'pod.yaml' }, /expected apiVersion meshwright\.dev\/v1alpha1 and kind MeshInstallation/],
    ['a version not in the catalog', { filename: 'pod.yaml', installation: 'bad-version-mi.yaml' }, /^mesh: version 1\.9\.9 is not in the catalog.*\(VersionNotInCatalog\)$/],
    ['several installations, none chosen', { filename: 'pod.yaml', installation: 'two-mi.yaml' }, /^two-mi\.yaml: 2 MeshInstallations \(a, b\); choose one with --name$/],
    ['a --name not in the file', { filename: 'pod.yaml', installation: 'two-mi.yaml', name: 'c' }, /^two-mi\.yaml: no MeshInstallation named c; found a, b$/],
  ];
  for (const [title, args, message] of rows) {
    await assert.rejects(injectCommand({ installation: 'mi.yaml', ...args } as never, { distributions, readFile }), (error: Error) => {
      assert.ok(error instanceof InjectInputError, `${title}: ${error.message}`);
      assert.match(error.message, message, title);
      return true;
    }, title);
  }
  // --name picks one of several.
  const chosen = await injectCommand({ filename: 'pod.yaml', installation: 'two-mi.yaml', name: 'b' }, { distributions, readFile });
  assert.equal(podOf(parse(chosen.stdout)).metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], '1.0.0');
});

test('a mesh without an injector is refused by name', async () => {
  await assert.rejects(injectCommand({ filename: 'pod.yaml', installation: 'mi.yaml' }, { distributions: [testDistributionWithCa], readFile }), /^Error: mesh: mesh istio has no injector in this build of meshwright$|mesh istio has no injector/);
});

/** A cluster as --from-cluster reads it. */
function cluster(objects: { installations?: KubeObject[]; namespaces?: KubeObject[]; published?: KubeObject[] }): ClusterReader {
  return {
    installations: async () => objects.installations ?? [],
    namespace: async (name) => objects.namespaces?.find((n) => n.metadata.name === name),
    get: async (kind, name, namespace) => objects.published?.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace),
  };
}
const clusterMi = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: { mesh: 'istio', version: '1.1.0', namespace: 'mesh-system' } } as KubeObject;
const roots = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const cacerts = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'mesh-system' }, data: { 'root-cert.pem': Buffer.from(roots).toString('base64') } } as KubeObject;

test('--from-cluster: the installation, the namespace as it is and the published trust anchors', async () => {
  const shop = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'shop' }, annotations: { 'stub/warn': 'shop has an old setting' } } } as KubeObject;
  const out = await injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [clusterMi], namespaces: [shop], published: [cacerts] }) });
  assertInjected(podOf(parse(out.stdout)), 'from the cluster', roots);
  assert.deepEqual(out.notes, ['pod.yaml (Pod shop/web): warning: shop has an old setting'], 'the namespace\'s own annotations reach the injector, no offline note');
  // A namespace a person opted out keeps its say.
  const optedOut = { ...shop, metadata: { name: 'shop', labels: { 'stub-injection': 'disabled' } } };
  const skipped = await injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [clusterMi], namespaces: [optedOut], published: [cacerts] }) });
  assert.deepEqual(parse(skipped.stdout), parse(files['pod.yaml']!));
  assert.match(skipped.notes[0]!, /left as it is \(NamespaceNotEnrolled\)/);
});

test('--from-cluster: no installation, or trust anchors not published yet, are clear errors', async () => {
  await assert.rejects(injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({}) }),
    /^InjectInputError: the cluster has no MeshInstallation; apply one first, or inject offline with --installation <mi\.yaml>$/);
  await assert.rejects(injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [clusterMi] }) }),
    /^InjectInputError: installation mesh has not published its trust anchors yet \(in namespace mesh-system\); wait until it is Ready$/);
});

test('the command exits 2 with the error on stderr for bad input, 0 with the objects on stdout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-inject-'));
  for (const name of ['not-yaml.yaml', 'pod.yaml']) writeFileSync(join(dir, name), files[name]!);
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'meshwright.mjs');
  const runCli = (...args: string[]) => spawnSync(process.execPath, [bin, 'inject', ...args], { encoding: 'utf8', cwd: dir });
  const notYaml = runCli('-f', 'not-yaml.yaml', '--installation', 'pod.yaml');
  assert.equal(notYaml.status, 2);
  assert.match(notYaml.stderr, /^error: not-yaml\.yaml: not valid YAML: /);
  assert.equal(notYaml.stdout, '');
  const noInstallation = runCli('-f', 'pod.yaml');
  assert.equal(noInstallation.status, 2);
  assert.match(noInstallation.stderr, /^error: no installation: give --installation/);
  const badFlag = runCli('-f', 'pod.yaml', '--bogus');
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /^error: Unknown option '--bogus'/);
});
