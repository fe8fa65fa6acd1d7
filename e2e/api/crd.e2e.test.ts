/**
 * The MeshInstallation API against a real API server: the generated CRD installs (structural
 * schema, CEL rules within the cost budget), the examples are accepted and read back exactly as
 * written plus the declared defaults, every invalid case is rejected with its message, mesh and
 * namespace cannot change, and the status subresource and printer columns work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { withSummary, ConditionType, mergeConditions } from '../../operator/api/conditions.ts';
import { CRD_FILE } from '../../operator/api/crd.ts';
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { CRD_NAME, GROUP, PLURAL, VERSION } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../operator/api/spec.ts';
import type { MeshInstallationStatus } from '../../operator/api/status.ts';
import { ACCEPTED_CASES, INVALID_CASES, VALID_ISTIO_SPEC, VALID_LINKERD_SPEC } from './invalid-cases.ts';

const repositoryRoot = join(import.meta.dirname, '..', '..');
const FIELD_MANAGER = 'meshwright-e2e-api';
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const kc = new KubeConfig();
kc.loadFromDefault();
const custom = kc.makeApiClient(CustomObjectsApi);
const resource = { group: GROUP, version: VERSION, plural: PLURAL };
// The CRD goes through the untyped client on purpose: client-node's typed ApiextensionsV1Api
// re-serializes JSONSchemaProps and silently drops `default`s and some x-kubernetes-* extensions.
const crds = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };

/** The parts of a CRD this test reads. */
type Crd = {
  spec: { scope: string; names: { shortNames: string[] }; versions: { additionalPrinterColumns: unknown[]; schema: { openAPIV3Schema: unknown } }[] };
  status?: { conditions?: { type: string; status: string }[] };
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; resourceVersion?: string; generation?: number }; spec: MeshInstallationSpec; status?: MeshInstallationStatus };

/** Names of objects this file created, deleted at the end whatever happens. */
const created = new Set<string>();

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; the failure says what was seen last. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** How the API server refused a request. */
interface Refusal {
  code: number;
  message: string;
  causes: { field?: string; message?: string; reason?: string }[];
}

/** Awaits `request`, which must fail with an API error, and returns that error. */
async function refusal(request: Promise<unknown>, whatShouldFail: string): Promise<Refusal> {
  try {
    await request;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as { message?: string; details?: { causes?: Refusal['causes'] } };
    return { code: error.code, message: body.message ?? String(error.body), causes: body.details?.causes ?? [] };
  }
  assert.fail(`the API server accepted ${whatShouldFail}`);
}

/** The cluster's copy of a MeshInstallation. */
async function read(name: string): Promise<Manifest> {
  return await custom.getClusterCustomObject({ ...resource, name }) as Manifest;
}

/** Server-side apply of `manifest`, with strict field validation (as kubectl apply does). */
async function apply(manifest: Manifest): Promise<Manifest> {
  created.add(manifest.metadata.name);
  return await custom.patchClusterCustomObject({
    ...resource, name: manifest.metadata.name, body: manifest, fieldManager: FIELD_MANAGER, force: true, fieldValidation: 'Strict',
  }, APPLY) as Manifest;
}

function loadYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

before(async () => {
  // The test runner gives every file the same cluster; other files may install this CRD too,
  // which is harmless: server-side apply of identical content changes nothing.
  const crd = loadYaml<Crd>(join(repositoryRoot, CRD_FILE));
  await custom.patchClusterCustomObject({ ...crds, name: CRD_NAME, body: crd, fieldManager: FIELD_MANAGER, force: true, fieldValidation: 'Strict' }, APPLY);
  await eventually('the CRD to be Established', async () => {
    const current = await custom.getClusterCustomObject({ ...crds, name: CRD_NAME }) as Crd;
    return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  await eventually('meshinstallations to be served', async () => Boolean(await custom.listClusterCustomObject(resource)));
});

after(async () => {
  for (const name of created) {
    try {
      await custom.deleteClusterCustomObject({ ...resource, name });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
  }
});

test('the installed CRD is the committed one: schema (defaults, CEL rules) and printer columns intact', async () => {
  const installed = await custom.getClusterCustomObject({ ...crds, name: CRD_NAME }) as Crd;
  const committed = loadYaml<Crd>(join(repositoryRoot, CRD_FILE));
  assert.equal(installed.spec.scope, 'Cluster');
  assert.deepEqual(installed.spec.names.shortNames, ['mi']);
  assert.deepEqual(installed.spec.versions[0]!.schema, committed.spec.versions[0]!.schema);
  assert.deepEqual(installed.spec.versions[0]!.additionalPrinterColumns, committed.spec.versions[0]!.additionalPrinterColumns);
});

const exampleFiles = readdirSync(join(repositoryRoot, 'examples')).filter((file) => file.endsWith('.yaml')).sort();

test('there are examples for minimal Istio, minimal Linkerd, HA with gateways, canary upgrade and external CA', () => {
  assert.deepEqual(exampleFiles, ['external-ca.yaml', 'istio-canary-upgrade.yaml', 'istio-ha-gateways.yaml', 'istio-minimal.yaml', 'linkerd-minimal.yaml']);
});

for (const file of exampleFiles) {
  test(`examples/${file} is accepted and reads back as written plus the declared defaults`, async () => {
    const written = loadYaml<Manifest>(join(repositoryRoot, 'examples', file));
    // Examples use short names like "default"; give each its own so parallel test files never collide.
    const manifest: Manifest = { ...written, metadata: { ...written.metadata, name: `api-e2e-${basename(file, '.yaml')}` } };
    const applied = await apply(manifest);
    const stored = await read(manifest.metadata.name);
    const expectedSpec = withSpecDefaults(written.spec);
    assert.deepEqual(stored.spec, expectedSpec);
    assert.deepEqual(applied.spec, expectedSpec);
    assert.deepEqual(stored.metadata.labels, written.metadata.labels);
    assert.equal(stored.status, undefined, 'nobody wrote status');
    // GitOps: applying the same manifest again must not change the object.
    const reapplied = await apply(manifest);
    assert.equal(reapplied.metadata.resourceVersion, stored.metadata.resourceVersion);
    assert.equal(reapplied.metadata.generation, 1);
  });
}

test('the specs the invalid cases start from are valid', async () => {
  for (const [name, spec] of [['istio', VALID_ISTIO_SPEC], ['linkerd', VALID_LINKERD_SPEC]] as const) {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'MeshInstallation', metadata: { name: `api-e2e-base-${name}` }, spec };
    await custom.createClusterCustomObject({ ...resource, body, dryRun: 'All', fieldValidation: 'Strict' });
  }
});

for (const accepted of ACCEPTED_CASES) {
  test(`accepts ${accepted.name}: ${accepted.why}`, async () => {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'MeshInstallation', metadata: { name: `api-e2e-accepted-${accepted.name}` }, spec: accepted.spec };
    await custom.createClusterCustomObject({ ...resource, body, dryRun: 'All', fieldValidation: 'Strict' });
  });
}

test(`there are at least 30 invalid cases, uniquely named (${INVALID_CASES.length})`, () => {
  assert.ok(INVALID_CASES.length >= 30);
  assert.equal(new Set(INVALID_CASES.map((c) => c.name)).size, INVALID_CASES.length);
});

/** The API server adds this note when schema errors stop it from evaluating CEL rules. */
const NOT_CHECKED_NOTE = /some validation rules were not checked/;

for (const invalid of INVALID_CASES) {
  test(`rejects ${invalid.name}: ${invalid.problem}`, async () => {
    const name = (invalid.manifest.metadata as { name: string }).name;
    const result = await refusal(custom.createClusterCustomObject({ ...resource, body: invalid.manifest, fieldValidation: 'Strict' }).finally(() => {
      created.add(name);
    }), invalid.name);
    assert.ok(result.code === 422 || result.code === 400, `HTTP ${result.code}: ${result.message}`);
    assert.match(result.message, invalid.expected);
    // Each case breaks one thing: any other error would mean the case tests more than it says.
    const causes = result.causes.filter((cause) => !NOT_CHECKED_NOTE.test(cause.message ?? ''));
    assert.ok(causes.length <= 1, `expected a single error, got: ${result.message}`);
  });
}

test('mesh and namespace are immutable; version is not', async () => {
  const name = 'api-e2e-immutable';
  const original: Manifest = { apiVersion: `${GROUP}/${VERSION}`, kind: 'MeshInstallation', metadata: { name }, spec: { mesh: 'istio', version: '1.30.4', namespace: 'istio-system' } };
  await apply(original);

  const meshChange = await refusal(apply({ ...original, spec: { mesh: 'linkerd', version: '2.20', namespace: 'istio-system' } }), 'a mesh change');
  assert.equal(meshChange.code, 422);
  assert.match(meshChange.message, /spec\.mesh: Invalid value: .*mesh is immutable: create a new MeshInstallation to switch meshes/);

  const namespaceChange = await refusal(custom.patchClusterCustomObject({ ...resource, name, body: { spec: { namespace: 'mesh-system' } } }, MERGE_PATCH), 'a namespace change');
  assert.equal(namespaceChange.code, 422);
  assert.match(namespaceChange.message, /spec\.namespace: Invalid value: .*namespace is immutable/);

  const upgraded = await apply({ ...original, spec: { ...original.spec, version: '1.31.1' } });
  assert.equal(upgraded.spec.version, '1.31.1');
  assert.equal(upgraded.metadata.generation, 2);
  assert.equal((await read(name)).spec.namespace, 'istio-system');
});

test('status is written through the status subresource only, validated, and shown in the printer columns', async () => {
  const name = 'api-e2e-status';
  const manifest: Manifest = { apiVersion: `${GROUP}/${VERSION}`, kind: 'MeshInstallation', metadata: { name }, spec: { mesh: 'istio', version: '1.31.1', namespace: 'istio-system' } };
  await apply(manifest);

  const now = () => new Date('2026-03-01T10:00:00Z');
  const domain = mergeConditions([], [
    { type: ConditionType.ControlPlaneReady, status: 'True', reason: 'Available', message: 'istiod 1/1', observedGeneration: 1 },
    { type: ConditionType.CertificateAuthorityReady, status: 'True', reason: 'Valid', message: 'root expires 2036-03-01', observedGeneration: 1 },
    { type: ConditionType.DataPlaneReady, status: 'True', reason: 'UpToDate', message: '12 pods current', observedGeneration: 1 },
  ], now);
  const status: MeshInstallationStatus = {
    observedGeneration: 1,
    conditions: withSummary({ generation: 1, conditions: domain }, now),
    version: '1.31.1',
    revisions: [{ name: 'default', version: '1.31.1', state: 'Active', inUse: true }],
    components: [{ name: 'istiod', kind: 'Deployment', namespace: 'istio-system', ready: true, replicas: 1, available: 1 }],
    certificateAuthority: { rootFingerprint: 'ab:cd', rootNotAfter: '2036-03-01T10:00:00Z', intermediateNotAfter: '2027-03-01T10:00:00Z', rotation: { phase: 'Idle' } },
    dataPlane: {
      enrolledNamespaces: 2, injectedPods: 12, outdatedPods: 0, proxyVersions: { '1.31.1': 12 },
      rollout: { target: '1.31.1-0a1b2c3d4e5f', phase: 'Complete', progress: '4/4', workloads: { total: 4, current: 4, outdated: 0, restarting: 0, skipped: 0, failed: 0 }, message: 'every workload runs the current proxy' },
    },
  };

  // Status sent to the main resource is dropped: the operator cannot clobber it by accident, and users cannot forge it.
  const ignored = await apply({ ...manifest, status });
  assert.equal(ignored.status, undefined);

  await custom.patchClusterCustomObjectStatus({
    ...resource, name, body: { apiVersion: manifest.apiVersion, kind: manifest.kind, metadata: { name }, status }, fieldManager: 'meshwright-operator', force: true, fieldValidation: 'Strict',
  }, APPLY);
  const stored = await read(name);
  assert.deepEqual(stored.status, status);
  assert.equal(stored.metadata.generation, 1, 'a status write does not bump the generation');

  const badCondition = await refusal(custom.patchClusterCustomObjectStatus({
    ...resource, name, body: { status: { conditions: [{ ...status.conditions![0]!, status: 'Maybe' }] } },
  }, MERGE_PATCH), 'a condition status outside True/False/Unknown');
  assert.match(badCondition.message, /status\.conditions\[0\]\.status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"/);

  const table = await custom.getClusterCustomObject({ ...resource, name }, setHeaderOptions('Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io')) as {
    columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[];
  };
  const columns = table.columnDefinitions.map((c) => c.name);
  const row = table.rows[0]!.cells;
  const cell = (column: string) => row[columns.indexOf(column)];
  assert.deepEqual(columns.slice(0, 8), ['Name', 'Mesh', 'Version', 'Ready', 'Proxies', 'DataPlane', 'Progress', 'Age']);
  assert.equal(cell('Mesh'), 'istio');
  assert.equal(cell('Version'), '1.31.1');
  assert.equal(cell('Ready'), 'True');
  assert.equal(cell('Proxies'), 12, 'status.dataPlane.injectedPods');
  assert.equal(cell('DataPlane'), '4/4', 'status.dataPlane.rollout.progress');
  assert.equal(cell('Outdated'), 0, 'status.dataPlane.outdatedPods (-o wide)');
  // The Progress column is the operator's to fill (status.progress, see reconcile.e2e.test.ts): a status without it shows none.
  assert.ok(cell('Progress') === null || cell('Progress') === '', `Progress: ${JSON.stringify(cell('Progress'))}`);
});
