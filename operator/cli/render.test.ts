import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { parse, parseAllDocuments } from 'yaml';
import { testDistributionWithCa } from '../../e2e/support/test-distribution.ts';
import { DESIRED_HASH_ANNOTATION, INSTALLATION_LABEL } from '../controllers/ownership.ts';
import { renderCommand } from './meshwright.ts';
import { RenderInputError } from './render.ts';

const distributions = [testDistributionWithCa];
const files: Record<string, string> = {
  'good.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: demo}\nspec: {mesh: istio, version: "1.1.0", namespace: test-mesh, profile: demo}\n',
  'bad-version.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: demo}\nspec: {mesh: istio, version: "1.9.9", namespace: test-mesh}\n',
  'bad-spec.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: demo}\nspec: {mesh: istio, version: "1.1.0", namespace: Test_Mesh, profile: huge}\n',
  'not-mi.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
  'overlay.yaml': 'apiVersion: meshwright.dev/v1alpha1\nkind: MeshInstallation\nmetadata: {name: demo}\nspec:\n  mesh: istio\n  version: "1.1.0"\n  namespace: test-mesh\n  overlays:\n  - {apiVersion: v1, kind: ConfigMap, name: mesh-config, namespace: test-mesh, patches: [{op: add, path: /data/extra, value: "yes"}]}\n',
};
const read = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error('ENOENT: no such file');
  return text;
};

test('render prints every object the operator would apply, marked as owned, overlays applied, without CA key material', () => {
  const output = renderCommand(['-f', 'good.yaml'], distributions, read);
  assert.match(output, /^# meshwright render: 10 objects for MeshInstallation demo \(istio 1\.1\.0, profile demo\)/);
  const objects = parseAllDocuments(output).map((d) => d.toJS()).filter(Boolean);
  assert.equal(objects.length, 10);
  for (const object of objects) {
    assert.equal(object.metadata.labels[INSTALLATION_LABEL], 'demo');
    assert.match(object.metadata.annotations[DESIRED_HASH_ANNOTATION], /^[0-9a-f]{16}$/);
  }
  assert.ok(!objects.some((o) => o.kind === 'Secret'), 'no Secret with keys');
  assert.doesNotMatch(output, /PRIVATE KEY/);
  const overlaid = parseAllDocuments(renderCommand(['-f', 'overlay.yaml'], distributions, read)).map((d) => d.toJS()).find((o) => o?.metadata?.name === 'mesh-config');
  assert.equal(overlaid.data.extra, 'yes');
  const json = JSON.parse(renderCommand(['-f', 'good.yaml', '-o', 'json'], distributions, read));
  assert.equal(json.kind, 'List');
  assert.equal(json.items.length, 10);
});

test('render explains bad input: unreadable file, another kind, a schema violation, a version not in the catalog', () => {
  const cases: Array<[string[], RegExp]> = [
    [['-f', 'missing.yaml'], /cannot read missing\.yaml: ENOENT/],
    [['-f', 'not-mi.yaml'], /not-mi\.yaml document 1: expected apiVersion meshwright\.dev\/v1alpha1 and kind MeshInstallation, got v1 ConfigMap/],
    [['-f', 'bad-spec.yaml'], /bad-spec\.yaml document 1 \(demo\): invalid spec:\n {2}spec\.profile: must be one of default, minimal, demo, ha/],
    [['-f', 'bad-version.yaml'], /version 1\.9\.9 is not in the catalog of mesh istio; supported versions: 1\.1\.0, 1\.0\.0 \(VersionNotInCatalog\)/],
    [[], /render needs -f/],
    [['-f', 'good.yaml', '-o', 'xml'], /-o must be yaml or json/],
  ];
  for (const [args, message] of cases) assert.throws(() => renderCommand(args, distributions, read), (e: unknown) => e instanceof RenderInputError && message.test(e.message), String(message));
});

test('the package command exits 1 with a message on stderr for bad input, 0 for help', () => {
  const failed = spawnSync('node', ['bin/meshwright.mjs', 'render', '-f', '/nonexistent/mi.yaml'], { encoding: 'utf8' });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /error: cannot read \/nonexistent\/mi\.yaml/);
  const help = execFileSync('node', ['bin/meshwright.mjs', 'help'], { encoding: 'utf8' });
  assert.match(help, /meshwright render -f/);
  assert.ok(parse('a: 1'));
});

test('`meshwright render -f` prints every example (Istio and Linkerd) as the operator would apply it', async () => {
  const { builtInDistributions } = await import('../distributions/built-in.ts');
  const { parseInstallations, renderOffline } = await import('./render.ts');
  const { readdirSync, readFileSync } = await import('node:fs');
  const examples = readdirSync('examples').filter((f) => f.endsWith('.yaml')).map((f) => `examples/${f}`);
  assert.ok(examples.length >= 5);
  for (const example of examples) {
    const output = execFileSync('node', ['bin/meshwright.mjs', 'render', '-f', example], { encoding: 'utf8' });
    const printed = parseAllDocuments(output).map((d) => d.toJS()).filter(Boolean);
    const expected = parseInstallations(readFileSync(example, 'utf8'), example).flatMap((mi) => renderOffline(mi, builtInDistributions));
    assert.deepEqual(printed, JSON.parse(JSON.stringify(expected)), example);
    assert.ok(printed.some((o) => o.kind === 'Deployment'), `${example} renders a control plane`);
    assert.doesNotMatch(output, /PRIVATE KEY/);
  }
});
