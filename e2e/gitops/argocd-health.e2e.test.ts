/**
 * manifests/argocd/resource_customizations/meshwright.dev/MeshInstallation, judged as Argo CD
 * judges it: health_test.yaml run by Argo CD's own Lua VM (argo-cd/v3 util/lua, built from its Go
 * module), without the open libraries (argocd-cm's default), on objects captured from e2e runs in
 * every phase (install, upgrade, rollback, failure, rotation: see capturedBy) and hand-written edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { argoCdHealth, argoCdHealthTests, argoHealthDir, repoRoot } from './referees.ts';

interface HealthTests { tests: Array<{ inputPath: string; healthStatus: { status: string; message: string } }> }
/** Each phase captured from a live installation (e2e/gitops/capture.ts), and the e2e test that captures it. */
const capturedBy: Record<string, string> = {
  installing: 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  'generation-lag': 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  ready: 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  paused: 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  stalled: 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  deleting: 'e2e/gitops/helm-lifecycle.e2e.test.ts',
  upgrading: 'e2e/upgrade/inplace.e2e.test.ts',
  'upgrade-rolled-back': 'e2e/upgrade/inplace-rollback.e2e.test.ts',
  'upgrade-rolled-back-superseded': 'e2e/upgrade/inplace-rollback.e2e.test.ts',
  'upgrade-failed': 'e2e/upgrade/inplace-failed.e2e.test.ts',
  rotating: 'e2e/rotation/triggered.e2e.test.ts',
};

const suite = parse(readFileSync(join(argoHealthDir, 'health_test.yaml'), 'utf8')) as HealthTests;

test('health_test.yaml passes in Argo CD\'s Lua VM, status and message exactly', async () => {
  const results = await argoCdHealthTests();
  assert.equal(results.length, suite.tests.length);
  for (const result of results) {
    assert.equal(result.error, undefined, `${result.input}: ${result.error}`);
    assert.deepEqual({ status: result.status, message: result.message ?? '' }, result.expected, result.input);
  }
});

test('every phase of a real installation is among the cases, captured from an e2e run, and every testdata file is used', () => {
  const listed = new Set(suite.tests.map((t) => t.inputPath));
  for (const file of readdirSync(join(argoHealthDir, 'testdata'))) {
    assert.ok(listed.has(`testdata/${file}`), `${file} is in health_test.yaml`);
    // Every other file says it is hand-written: no capture goes stale unlisted, no hand-written file passes for a capture.
    if (!(file.replace(/\.yaml$/, '') in capturedBy)) assert.match(readFileSync(join(argoHealthDir, 'testdata', file), 'utf8'), /^# Hand-written edge case/, file);
  }
  for (const [phase, by] of Object.entries(capturedBy)) {
    const text = readFileSync(join(argoHealthDir, 'testdata', `${phase}.yaml`), 'utf8');
    assert.ok(text.startsWith(`# Captured by ${by} (phase: ${phase}).\n`), `${phase}.yaml is captured by ${by}`);
    assert.ok(existsSync(join(repoRoot, by)), by);
    assert.match(readFileSync(join(repoRoot, by), 'utf8'), new RegExp(`captured?\\((?:'${by.replaceAll('.', '\\.')}', )?'${phase}'`), `${by} captures ${phase}`);
    assert.ok(listed.has(`testdata/${phase}.yaml`), phase);
  }
  const statuses = new Set(suite.tests.map((t) => t.healthStatus.status));
  for (const status of ['Healthy', 'Progressing', 'Degraded', 'Suspended']) assert.ok(statuses.has(status), status);
});

test('the engine is Argo CD\'s sandbox: the string library is absent, a bad status is Unknown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-lua-'));
  const object = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'x', generation: 1 }, spec: {} };
  writeFileSync(join(dir, 'string.lua'), 'return { status = string.upper("healthy") }');
  writeFileSync(join(dir, 'bad.lua'), 'return { status = "Fine" }');
  const [usesString] = await argoCdHealth([object], join(dir, 'string.lua'));
  assert.match(usesString!.error ?? '', /string/);
  const [bad] = await argoCdHealth([object], join(dir, 'bad.lua'));
  assert.equal(bad!.status, 'Unknown');
});
