import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { KubeApiError, type KubeObject } from './kube.ts';
import { listSemantics } from './list-semantics.ts';
import { openApiPath, SchemaRegistry } from './schema-registry.ts';
import { capturedDocument } from './testdata/openapi/index.ts';

const crbType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' };
const thingType = { apiVersion: 'example.dev/v1', kind: 'Thing' };

/** A registry over the captured documents (other paths: 404), counting the reads of each path. */
function registry(clock = new FakeClock()) {
  const reads: string[] = [];
  const served = new Map<string, unknown>([['rbac.authorization.k8s.io/v1', capturedDocument('rbac.authorization.k8s.io/v1')], ['v1', capturedDocument('v1')]].map(([apiVersion, doc]) => [openApiPath(apiVersion as string), doc]));
  const schemas = new SchemaRegistry({
    clock,
    read: async (path) => {
      reads.push(path);
      if (!served.has(path)) throw new KubeApiError(404, 'NotFound', `${path} not found`);
      return served.get(path);
    },
  });
  return { schemas, reads, served, clock };
}

test('each group/version is read once, from its OpenAPI v3 path; the kinds in it are known without another read', async () => {
  const { schemas, reads } = registry();
  await schemas.load([crbType, { ...crbType, kind: 'ClusterRole' }, { apiVersion: 'v1', kind: 'Service' }]);
  await schemas.load([crbType]);
  assert.deepEqual(reads.sort(), ['/openapi/v3/api/v1', '/openapi/v3/apis/rbac.authorization.k8s.io/v1']);
  assert.deepEqual(listSemantics(schemas.schemaOf(crbType)!, ['subjects']), { type: 'atomic' });
  assert.ok(schemas.schemaOf({ apiVersion: 'v1', kind: 'Service' }));
  assert.equal(reads.length, 2);
});

test('an unknown kind is loaded in the background when asked for, not again before the retry interval; a failed load never rejects', async () => {
  const { schemas, reads, clock } = registry();
  assert.equal(schemas.schemaOf(crbType), undefined, 'not loaded yet: unknown now');
  await schemas.load([crbType]);
  assert.ok(schemas.schemaOf(crbType), 'the load the miss started is the one awaited');
  assert.equal(reads.length, 1);
  await schemas.load([thingType]);
  assert.equal(schemas.schemaOf(thingType), undefined, 'not served');
  assert.equal(reads.length, 2, 'a miss right after a failed load does not read again');
  clock.advance(10_000);
  assert.equal(schemas.schemaOf(thingType), undefined);
  assert.equal(reads.length, 3, 'after the retry interval it does');
});

test('a CRD seen by the operator defines its kind at once and wins over the OpenAPI document; its deletion forgets it', async () => {
  const { schemas, served } = registry();
  served.set(openApiPath('example.dev/v1'), { components: { schemas: { 'dev.example.v1.Thing': { type: 'object', properties: { servers: { type: 'array' } }, 'x-kubernetes-group-version-kind': [{ group: 'example.dev', version: 'v1', kind: 'Thing' }] } } } });
  await schemas.load([thingType]);
  assert.deepEqual(listSemantics(schemas.schemaOf(thingType)!, ['servers']), { type: 'atomic' }, 'from the document');
  const crd = (keys: string[]): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'things.example.dev' },
    spec: { group: 'example.dev', names: { kind: 'Thing' }, versions: [{ name: 'v1', schema: { openAPIV3Schema: { type: 'object', properties: { servers: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys } } } } }] },
  });
  schemas.learnCrd(crd(['port']));
  assert.deepEqual(listSemantics(schemas.schemaOf(thingType)!, ['servers']), { type: 'map', keys: ['port'] });
  schemas.learnCrd(crd(['port', 'protocol']));
  assert.deepEqual(listSemantics(schemas.schemaOf(thingType)!, ['servers']), { type: 'map', keys: ['port', 'protocol'] }, 'a changed CRD replaces what was learnt');
  schemas.forgetCrd(crd([]));
  assert.deepEqual(listSemantics(schemas.schemaOf(thingType)!, ['servers']), { type: 'atomic' }, 'the document again');
});

