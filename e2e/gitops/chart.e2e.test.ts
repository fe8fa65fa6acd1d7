/**
 * The Helm chart, judged by Helm itself (built from helm.sh/helm/v3 in the toolchain): it lints
 * strictly, its default rendering is manifests/operator.yaml and crds/ to the field (Helm's own
 * labels and annotations aside), its schema refuses bad values naming the field, and each value
 * changes what it says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CRD_FILES } from '../../operator/deploy/chart.ts';
import { MANIFEST_FILE } from '../../operator/deploy/generate-manifests.ts';
import { chartDir, helm, repoRoot } from './referees.ts';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

const parseYamlStream = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Labels Helm conventions add to every object (and to selectors, for the release). */
const HELM_LABELS = new Set(['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance', 'app.kubernetes.io/version']);

/** `value` with Helm's own labels removed from every label map and selector, and `helm.sh/` annotations dropped. */
function withoutHelmMetadata(value: unknown, path: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutHelmMetadata(v, path));
  if (value === null || typeof value !== 'object') return value;
  const parent = path[path.length - 1];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if ((parent === 'labels' || parent === 'matchLabels' || parent === 'selector') && HELM_LABELS.has(k)) continue;
    if (parent === 'annotations' && k.startsWith('helm.sh/')) continue;
    const cleaned = withoutHelmMetadata(v, [...path, k]);
    if ((k === 'annotations' || k === 'labels') && cleaned && typeof cleaned === 'object' && Object.keys(cleaned).length === 0) continue;
    out[k] = cleaned;
  }
  return out;
}

async function template(...args: string[]): Promise<Obj[]> {
  const result = await helm(['template', 'meshwright', chartDir, '--namespace', 'meshwright-system', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return parseYamlStream(result.stdout);
}

test('helm lint --strict passes', async () => {
  const result = await helm(['lint', '--strict', chartDir]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('helm template with default values is manifests/operator.yaml and crds/, Helm\'s own labels aside', async () => {
  const rendered = await template();
  const manifests = parseYamlStream(readFileSync(join(repoRoot, MANIFEST_FILE), 'utf8'))
    // Helm installs into the release namespace (`--create-namespace`); the plain manifest creates its own.
    .filter((o) => o.kind !== 'Namespace');
  const crds = CRD_FILES.flatMap((file) => parseYamlStream(readFileSync(join(repoRoot, file), 'utf8')));
  const expected = new Map([...manifests, ...crds].map((o) => [key(o), o]));
  const actual = new Map(rendered.map((o) => [key(o), o]));
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), 'the same objects');
  for (const [k, object] of actual) assert.deepEqual(withoutHelmMetadata(object), withoutHelmMetadata(expected.get(k)), k);
  // The comparison leaves out Helm's labels only: every object does carry them.
  for (const object of rendered) assert.equal(object.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', key(object));
  const crd = rendered.find((o) => o.kind === 'CustomResourceDefinition');
  assert.equal(crd?.metadata.annotations?.['helm.sh/resource-policy'], 'keep', 'crds.keep is on by default');
});

test('the chart\'s ClusterRole has no wildcard', async () => {
  const role = (await template()).find((o) => o.kind === 'ClusterRole') as Obj & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
  assert.ok(role.rules.length > 5);
  assert.doesNotMatch(JSON.stringify(role.rules), /"\*"/);
});

/** Values the schema must refuse, and what the error must name. */
const badValues: Array<{ values: Record<string, unknown>; names: RegExp }> = [
  { values: { replicaCount: 'two' }, names: /replicaCount/ },
  { values: { replicaCount: 0 }, names: /replicaCount/ },
  { values: { replicaCount: 3, leaderElection: { enabled: false } }, names: /leaderElection\/enabled/ },
  { values: { replicas: 2 }, names: /replicas/ },
  { values: { image: { pullPolicy: 'Sometimes' } }, names: /pullPolicy/ },
  { values: { image: { repository: 'ghcr.io/meshwright/operator:latest' } }, names: /repository/ },
  { values: { metrics: { port: 80 } }, names: /port/ },
  { values: { logLevel: 'verbose' }, names: /logLevel/ },
  { values: { antiAffinity: 'always' }, names: /antiAffinity/ },
  { values: { resources: { requests: { memory: 'lots' } } }, names: /memory/ },
  { values: { crds: { enabled: 'yes' } }, names: /crds\/enabled/ },
  { values: { serviceMonitor: { interval: 'often' } }, names: /interval/ },
  { values: { fullnameOverride: 'Meshwright_Operator' }, names: /fullnameOverride/ },
];

test('values.schema.json refuses bad values and names the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-values-'));
  for (const [i, { values, names }] of badValues.entries()) {
    const file = join(dir, `${i}.yaml`);
    writeFileSync(file, JSON.stringify(values));
    const result = await helm(['template', 'meshwright', chartDir, '-f', file]);
    assert.notEqual(result.code, 0, `${JSON.stringify(values)} was accepted`);
    assert.match(result.stderr, /values don't meet the specifications of the schema/, JSON.stringify(values));
    assert.match(result.stderr, names, `${JSON.stringify(values)}: ${result.stderr}`);
  }
  // The defaults themselves pass, as do overrides of the right shape.
  const good = join(dir, 'good.yaml');
  writeFileSync(good, JSON.stringify({ replicaCount: 1, leaderElection: { enabled: false }, podDisruptionBudget: { minAvailable: '50%' }, resources: { requests: { cpu: 0.5, memory: '1Gi' } } }));
  const result = await helm(['template', 'meshwright', chartDir, '-f', good]);
  assert.equal(result.code, 0, result.stderr);
});

test('each value does what it says', async () => {
  const find = (objects: Obj[], kind: string) => objects.find((o) => o.kind === kind);
  const noCrds = await template('--set', 'crds.enabled=false');
  assert.equal(find(noCrds, 'CustomResourceDefinition'), undefined);
  const notKept = await template('--set', 'crds.keep=false');
  assert.equal(find(notKept, 'CustomResourceDefinition')?.metadata.annotations?.['helm.sh/resource-policy'], undefined);
  const monitored = await template('--set', 'serviceMonitor.enabled=true', '--set', 'grafanaDashboard.enabled=true');
  const monitor = find(monitored, 'ServiceMonitor') as Obj & { spec: { endpoints: Array<{ port: string }> } };
  assert.equal(monitor.spec.endpoints[0]!.port, 'metrics');
  const dashboard = monitored.find((o) => o.kind === 'ConfigMap') as Obj & { data: Record<string, string> };
  assert.deepEqual(JSON.parse(dashboard.data['meshwright.json']!), JSON.parse(readFileSync(join(chartDir, 'dashboards', 'meshwright.json'), 'utf8')));
  assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1');
  const custom = await template('--set', 'replicaCount=3', '--set', 'logLevel=debug', '--set', 'antiAffinity=required', '--set', 'podDisruptionBudget.enabled=false', '--set', 'image.tag=0.2.0');
  const deployment = find(custom, 'Deployment') as Obj & { spec: { replicas: number; template: { spec: { affinity: { podAntiAffinity: Record<string, unknown> }; containers: Array<{ image: string; args: string[] }> } } } };
  assert.equal(deployment.spec.replicas, 3);
  assert.ok(deployment.spec.template.spec.containers[0]!.args.includes('--log-level=debug'));
  assert.equal(deployment.spec.template.spec.containers[0]!.image, 'ghcr.io/meshwright/operator:0.2.0');
  assert.ok(deployment.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution);
  assert.equal(find(custom, 'PodDisruptionBudget'), undefined);
});
