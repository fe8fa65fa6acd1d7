/**
 * examples/gitops/: what Argo CD and Flux would be given is consistent with the repository — the
 * argocd-cm health check is health.lua verbatim, sync waves run CRDs, operator, mesh in that order,
 * every path and chart value exists and is accepted (by Helm's schema, by the API server), and no
 * ignoreDifferences is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { argoHealthDir, chartDir, helm, repoRoot } from './referees.ts';

const dir = join(repoRoot, 'examples', 'gitops');
type Doc = KubeObject & { spec: Record<string, unknown>; data?: Record<string, string> };
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS() as Doc);

async function renderWith(values: unknown): Promise<Doc[]> {
  const file = join(mkdtempSync(join(tmpdir(), 'meshwright-values-')), 'values.yaml');
  writeFileSync(file, JSON.stringify(values));
  const result = await helm(['template', 'meshwright', chartDir, '-f', file]);
  assert.equal(result.code, 0, result.stderr);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as Doc).filter(Boolean);
}

test('Argo CD: argocd-cm carries health.lua verbatim', () => {
  const [cm] = docs('argocd/argocd-cm.yaml');
  assert.equal(cm!.data!['resource.customizations.health.meshwright.dev_MeshInstallation'], readFileSync(join(argoHealthDir, 'health.lua'), 'utf8'));
  assert.ok(cm!.data!['resource.customizations.health.argoproj.io_Application'], 'Applications have health, so waves wait');
});

test('Argo CD: waves apply CRDs, then the operator, then the mesh; paths exist; no ignoreDifferences', async () => {
  const apps = readdirSync(join(dir, 'argocd', 'apps')).flatMap((f) => docs(join('argocd', 'apps', f)));
  const wave = (a: Doc) => Number(a.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
  const ordered = [...apps].sort((a, b) => wave(a) - wave(b)).map((a) => (a.spec.source as { path: string }).path);
  assert.deepEqual(ordered, ['crds', 'charts/meshwright', 'examples/gitops/mesh']);
  for (const app of [...apps, ...docs('argocd/root.yaml')]) {
    assert.ok(existsSync(join(repoRoot, (app.spec.source as { path: string }).path)), app.metadata.name);
    assert.equal(app.spec.ignoreDifferences, undefined, `${app.metadata.name} needs no ignoreDifferences`);
  }
  const operator = apps.find((a) => (a.spec.source as { path: string }).path === 'charts/meshwright')!;
  const rendered = await renderWith((operator.spec.source as { helm: { valuesObject: unknown } }).helm.valuesObject);
  assert.ok(!rendered.some((o) => o.kind === 'CustomResourceDefinition'), 'the CRD belongs to the wave before');
  assert.ok(rendered.some((o) => o.kind === 'Deployment'));
});

test('Flux: the HelmRelease values are accepted by the chart, the mesh waits for the operator and is health-checked', async () => {
  const [release] = docs('flux/operator/helmrelease.yaml');
  assert.equal((release!.spec.chart as { spec: { chart: string } }).spec.chart, 'charts/meshwright');
  assert.ok(existsSync(join(repoRoot, 'charts', 'meshwright', 'Chart.yaml')));
  const rendered = await renderWith(release!.spec.values);
  assert.ok(rendered.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.annotations?.['helm.sh/resource-policy'] === 'keep'));
  const kustomizations = docs('flux/meshwright.yaml').filter((d) => d.kind === 'Kustomization');
  const mesh = kustomizations.find((k) => k.metadata.name === 'meshwright-mesh')!;
  assert.deepEqual(mesh.spec.dependsOn, [{ name: 'meshwright-operator' }]);
  assert.deepEqual(mesh.spec.healthChecks, [{ apiVersion: API_VERSION, kind: KIND, name: 'default' }]);
  for (const k of kustomizations) assert.ok(existsSync(join(repoRoot, k.spec.path as string)), k.spec.path as string);
  const kustomization = parse(readFileSync(join(dir, 'flux', 'operator', 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  assert.deepEqual(kustomization.resources, ['helmrelease.yaml']);
});

test('the MeshInstallation both tools apply is accepted by the API server (dry run)', async () => {
  const admin = new KubeClient(testKubeConfig(), 'meshwright-e2e-admin');
  try {
    await installMeshInstallationCrd(admin);
    const [mi] = docs('mesh/meshinstallation.yaml');
    assert.equal(mi!.metadata.name, 'default', 'the name Flux health-checks');
    const path = `${await admin.path({ apiVersion: API_VERSION, kind: KIND })}?dryRun=All`;
    const created = await admin.request<KubeObject>(HttpMethod.POST, path, { ...mi, metadata: { name: `gitops-example-dry-run` } });
    assert.equal(created.kind, KIND);
  } finally {
    await admin.close();
  }
});
