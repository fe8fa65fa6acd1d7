/**
 * `meshwright inject` (inject.ts), through the real Istio and Linkerd injectors the webhook calls:
 * every workload kind gets its pod injected in place, objects without pods pass through, the
 * namespace a pod lands in is the one whose settings apply, and every kind of bad input is a clear
 * error (exit code 2 from the command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { testDistributionWithCa } from '../../e2e/support/test-distribution.ts';
import { builtInDistributions } from '../distributions/built-in.ts';
import { OFFLINE_TRUST_ANCHORS_PLACEHOLDER } from '../distributions/distribution.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../distributions/injection.ts';
import { testCertificateAuthority } from '../distributions/linkerd/test-support.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { injectCommand, InjectInputError, type ClusterReader } from './inject.ts';

const ca = testCertificateAuthority();

/** What differs between the meshes, for the same tests. */
interface MeshCase {
  mesh: 'istio' | 'linkerd';
  installation: string;
  version: string;
  /** The proxy container the injector adds (in containers, or initContainers as a native sidecar). */
  proxy: string;
  optOut: Record<string, string>;
  invalid: { annotations: Record<string, string>; message: RegExp };
  /** Where the mesh publishes its trust anchors, holding `pem`, as --from-cluster reads it. */
  published(pem: string): KubeObject;
}
const meshes: MeshCase[] = [
  {
    mesh: 'istio', installation: 'mesh', version: '1.31.1', proxy: 'istio-proxy',
    optOut: { 'sidecar.istio.io/inject': 'false' },
    invalid: { annotations: { 'proxy.istio.io/config': '{{' }, message: /invalid value '\{\{' for annotation 'proxy\.istio\.io\/config'/ },
    published: (pem) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'mesh-system' }, data: { 'root-cert.pem': Buffer.from(pem).toString('base64') } }),
  },
  {
    mesh: 'linkerd', installation: 'mesh', version: 'edge-26.8.3', proxy: 'linkerd-proxy',
    optOut: { 'linkerd.io/inject': 'disabled' },
    invalid: { annotations: { 'config.linkerd.io/proxy-cpu-request': 'lots' }, message: /annotation config\.linkerd\.io\/proxy-cpu-request: "lots" is not valid; expected a Kubernetes quantity/ },
    published: (pem) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'linkerd-identity-trust-roots', namespace: 'mesh-system' }, data: { 'ca-bundle.crt': pem } }),
  },
];

const miYaml = (m: MeshCase) => `apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: ${m.installation}}\nspec: {mesh: ${m.mesh}, version: "${m.version}", namespace: mesh-system}\n`;
const podWith = (annotations: Record<string, string>) => `apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: ${JSON.stringify(annotations)}}\nspec: ${container}\n`;
const container = '{containers: [{name: app, image: registry.example/app:1, ports: [{containerPort: 8080}]}]}';
const template = `{metadata: {labels: {app: web}}, spec: ${container}}`;
const files: Record<string, string> = {
  'istio-mi.yaml': miYaml(meshes[0]!),
  'linkerd-mi.yaml': miYaml(meshes[1]!),
  'mi.yaml': miYaml(meshes[0]!),
  'two-mi.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: a}\nspec: {mesh: istio, version: "1.31.1", namespace: a-system}\n---\napiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: b}\nspec: {mesh: linkerd, version: "edge-26.8.3", namespace: b-system}\n',
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
  'istio-opted-out.yaml': podWith(meshes[0]!.optOut),
  'linkerd-opted-out.yaml': podWith(meshes[1]!.optOut),
  'istio-invalid-annotation.yaml': podWith(meshes[0]!.invalid.annotations),
  'linkerd-invalid-annotation.yaml': podWith(meshes[1]!.invalid.annotations),
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
const distributions = builtInDistributions;
const offline = (m: MeshCase, filename: string, extra: Record<string, unknown> = {}) => injectCommand({ filename, installation: `${m.mesh}-mi.yaml`, ...extra }, { distributions, readFile });

type Container = { name: string; image: string; env?: Array<{ name: string; value?: string }> };
type PodLike = { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Container[]; initContainers?: Container[] } };
/** A parsed workload, loosely typed as the tests walk it. */
type Workload = { kind: string; spec: { template: PodLike; jobTemplate: { spec: { template?: PodLike } } } };
/** The pod (or pod template) of an object, wherever its kind keeps it. */
function podOf(object: unknown): PodLike {
  const workload = object as Workload;
  switch (workload.kind) {
    case 'Pod': return object as PodLike;
    case 'CronJob': return workload.spec.jobTemplate.spec.template!;
    default: return workload.spec.template;
  }
}
const containersOf = (pod: PodLike) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers];

/** The pod carries the mesh's proxy beside the app, and the record of what it was given. */
function assertInjected(m: MeshCase, pod: PodLike, where: string, trust = OFFLINE_TRUST_ANCHORS_PLACEHOLDER): void {
  const names = containersOf(pod).map((c) => c.name);
  assert.ok(names.includes('app') && names.includes(m.proxy), `${where}: app and ${m.proxy} in ${names.join(', ')}`);
  assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], m.installation, where);
  assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.mesh], m.mesh, where);
  assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], m.version, where);
  assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], trustBundleSha256(trust), where);
}

for (const m of meshes) {
  test(`${m.mesh}: every workload kind has its pod or pod template injected in place, the rest of the object unchanged`, async () => {
    for (const file of ['pod.yaml', 'deployment.yaml', 'statefulset.yaml', 'daemonset.yaml', 'replicaset.yaml', 'job.yaml', 'cronjob.yaml']) {
      const input = parse(files[file]!);
      const output = parse((await offline(m, file)).stdout);
      assert.equal(output.kind, input.kind, file);
      assertInjected(m, podOf(output), file);
      if (input.kind === 'Pod') continue;
      assert.deepEqual(output.metadata, input.metadata, `${file}: the object's own metadata`);
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
  });

  test(`${m.mesh}: a List has its items injected, a multi-document file every document; objects without pods pass through`, async () => {
    const list = parse((await offline(m, 'list.yaml')).stdout);
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items[0], parse(files['list.yaml']!).items[0], 'the Service as it was');
    assertInjected(m, podOf(list.items[1]), 'list item 2');

    const documents = parseAllDocuments((await offline(m, 'multi.yaml')).stdout).map((d) => d.toJS());
    assert.deepEqual(documents.map((d) => d.kind), ['Service', 'Deployment', 'Pod'], 'the empty document is dropped');
    assert.deepEqual(documents[0], parse(files['multi.yaml']!.split('---\n')[0]!));
    assertInjected(m, podOf(documents[1]), 'document 2');
    assertInjected(m, podOf(documents[2]), 'document 4');
    assert.equal(documents[2].metadata.namespace, undefined, 'a Pod that named no namespace still names none');

    const json = JSON.parse((await offline(m, 'multi.yaml', { output: 'json' })).stdout);
    assert.equal(json.kind, 'List');
    assert.equal(json.items.length, 3);
    assert.equal(JSON.parse((await offline(m, 'pod.yaml', { output: 'json' })).stdout).kind, 'Pod', 'one document prints as itself');
  });

  test(`${m.mesh}: a pod that opts out is printed as it is with a note; offline, the placeholder trust anchors are said`, async () => {
    const { notes } = await offline(m, 'pod.yaml');
    assert.match(notes[0]!, /offline: the trust anchors are a placeholder.*--from-cluster/);
    const file = `${m.mesh}-opted-out.yaml`;
    const out = await offline(m, file);
    assert.deepEqual(parse(out.stdout), parse(files[file]!));
    assert.match(out.notes[1]!, new RegExp(`^${file.replace('.', '\\.')} \\(Pod web\\): left as it is \\(OptedOut\\): `));
  });

  test(`${m.mesh}: an annotation the injector refuses is an error naming the object`, async () => {
    const file = `${m.mesh}-invalid-annotation.yaml`;
    await assert.rejects(offline(m, file), (error: Error) => {
      assert.ok(error instanceof InjectInputError, error.message);
      assert.match(error.message, new RegExp(`^${file.replace('.', '\\.')} \\(Pod web\\): `));
      assert.match(error.message, m.invalid.message);
      return true;
    });
  });

  test(`${m.mesh}: --from-cluster injects the trust anchors the mesh publishes`, async () => {
    const installation = parse(miYaml(m)) as KubeObject;
    const out = await injectCommand({ filename: 'deployment.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [installation], published: [m.published(ca.trustAnchorsPem)] }) });
    assertInjected(m, podOf(parse(out.stdout)), 'from the cluster', ca.trustAnchorsPem);
    assert.deepEqual(out.notes, [], 'no offline note');
  });
}

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
    ['no installation', { filename: 'pod.yaml', installation: undefined }, /^no installation: give --installation <mi\.yaml> to inject offline, or --from-cluster/],
    ['both installation sources', { filename: 'pod.yaml', fromCluster: true }, /^give either --installation <mi\.yaml> or --from-cluster, not both$/],
    ['no -f', { filename: undefined }, /^inject needs -f <file>/],
    ['a bad -o', { filename: 'pod.yaml', output: 'table' }, /^-o must be yaml or json, got "table"$/],
    ['an installation file that is not one', { filename: 'pod.yaml', installation: 'pod.yaml' }, /expected apiVersion meshwright\.dev\/v1alpha1 and kind MeshInstallation/],
    ['a version not in the catalog', { filename: 'pod.yaml', installation: 'bad-version-mi.yaml' }, /^mesh: Istio version 1\.9\.9 is not in this operator's catalog; set spec\.version to one of: .*\(VersionNotInCatalog\)$/],
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
  assert.equal(podOf(parse(chosen.stdout)).metadata.annotations?.[RECORD_ANNOTATIONS.mesh], 'linkerd');
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
const clusterMi = parse(miYaml(meshes[0]!)) as KubeObject;

test('--from-cluster: each pod gets the settings of the namespace it lands in (its own, else -n, else the kubeconfig\'s, else default)', async () => {
  // Linkerd reads proxy settings from namespace annotations: the log level shows which namespace applied.
  const ns = (name: string, level: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations: { 'config.linkerd.io/proxy-log-level': level } } }) as KubeObject;
  const reader = (contextNamespace?: string) => ({ ...cluster({ installations: [parse(miYaml(meshes[1]!)) as KubeObject], namespaces: [ns('shop', 'debug'), ns('team-a', 'trace'), ns('ctx', 'error'), ns('default', 'info')], published: [meshes[1]!.published(ca.trustAnchorsPem)] }), contextNamespace });
  const logLevel = async (filename: string, extra: { namespace?: string; context?: string } = {}) => {
    const out = await injectCommand({ filename, fromCluster: true, namespace: extra.namespace }, { distributions, readFile, cluster: async () => reader(extra.context) });
    const proxy = containersOf(podOf(parse(out.stdout))).find((c) => c.name === 'linkerd-proxy')!;
    return proxy.env!.find((e) => e.name === 'LINKERD2_PROXY_LOG')!.value!.split(',')[0];
  };
  assert.equal(await logLevel('deployment.yaml', { namespace: 'team-a' }), 'debug', 'the object names shop');
  assert.equal(await logLevel('job.yaml', { namespace: 'team-a', context: 'ctx' }), 'trace', '-n');
  assert.equal(await logLevel('job.yaml', { context: 'ctx' }), 'error', 'the kubeconfig context');
  assert.equal(await logLevel('job.yaml'), 'info', 'default');
});

test('--from-cluster: a namespace a person opted out keeps its say', async () => {
  const optedOut = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', annotations: { 'linkerd.io/inject': 'disabled' } } } as KubeObject;
  const out = await injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [parse(miYaml(meshes[1]!)) as KubeObject], namespaces: [optedOut], published: [meshes[1]!.published(ca.trustAnchorsPem)] }) });
  assert.deepEqual(parse(out.stdout), parse(files['pod.yaml']!));
  assert.match(out.notes[0]!, /^pod\.yaml \(Pod shop\/web\): left as it is \(/);
});

test('--from-cluster: no installation, or trust anchors not published yet, are clear errors', async () => {
  await assert.rejects(injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({}) }),
    /^InjectInputError: the cluster has no MeshInstallation; apply one first, or inject offline with --installation <mi\.yaml>$/);
  await assert.rejects(injectCommand({ filename: 'pod.yaml', fromCluster: true }, { distributions, readFile, cluster: async () => cluster({ installations: [clusterMi] }) }),
    /^InjectInputError: installation mesh has not published its trust anchors yet \(in namespace mesh-system\); wait until it is Ready$/);
});

test('the command exits 2 with the error on stderr for bad input, 0 with the objects on stdout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-inject-'));
  for (const name of ['not-yaml.yaml', 'pod.yaml', 'unknown-kind.yaml', 'istio-mi.yaml']) writeFileSync(join(dir, name), files[name]!);
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
  const unknownKind = runCli('-f', 'unknown-kind.yaml', '--installation', 'istio-mi.yaml');
  assert.equal(unknownKind.status, 2);
  assert.match(unknownKind.stderr, /error: unknown-kind\.yaml \(Rollout web\): unknown kind Rollout/);
  const good = runCli('-f', 'pod.yaml', '--installation', 'istio-mi.yaml');
  assert.equal(good.status, 0, good.stderr);
  assertInjected(meshes[0]!, parse(good.stdout) as PodLike, 'the command\'s output');
  assert.match(good.stderr, /^note: offline: the trust anchors are a placeholder/);
});
