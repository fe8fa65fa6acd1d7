import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldSchema, gvkOf, kindsOfCrd, kindsOfOpenApi, listSemantics, UNKNOWN_SCHEMA } from './list-semantics.ts';
import { capturedSchema } from './testdata/openapi/index.ts';

const rbac = (kind: string) => capturedSchema({ apiVersion: 'rbac.authorization.k8s.io/v1', kind });
const deployment = capturedSchema({ apiVersion: 'apps/v1', kind: 'Deployment' });
const webhooks = capturedSchema({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' });
const service = capturedSchema({ apiVersion: 'v1', kind: 'Service' });
const path = (dotted: string) => dotted.split('.');

test('the list types of the real API server schemas, by path (list indexes left out)', () => {
  const atomic = { type: 'atomic' };
  assert.deepEqual(listSemantics(rbac('ClusterRoleBinding'), ['subjects']), atomic);
  assert.deepEqual(listSemantics(rbac('ClusterRole'), ['rules']), atomic);
  assert.deepEqual(listSemantics(rbac('ClusterRole'), path('rules.verbs')), atomic);
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers')), { type: 'map', keys: ['name'] });
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers.args')), atomic);
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers.command')), atomic);
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers.env')), { type: 'map', keys: ['name'] });
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers.ports')), { type: 'map', keys: ['containerPort', 'protocol'] });
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.containers.volumeMounts')), { type: 'map', keys: ['mountPath'] });
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.tolerations')), atomic);
  assert.deepEqual(listSemantics(deployment, path('spec.template.spec.topologySpreadConstraints')), { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] });
  assert.deepEqual(listSemantics(deployment, path('metadata.finalizers')), { type: 'set' });
  assert.deepEqual(listSemantics(webhooks, ['webhooks']), { type: 'map', keys: ['name'] });
  assert.deepEqual(listSemantics(webhooks, path('webhooks.rules')), atomic);
  assert.deepEqual(listSemantics(webhooks, path('webhooks.matchConditions')), { type: 'map', keys: ['name'] });
  assert.deepEqual(listSemantics(service, path('spec.ports')), { type: 'map', keys: ['port', 'protocol'] });
  assert.deepEqual(listSemantics(service, path('spec.not.a.field')), atomic, 'what the schema does not describe is atomic');
  assert.deepEqual(listSemantics(UNKNOWN_SCHEMA, ['anything']), atomic);
});

test('map types and key defaults come through references', () => {
  const spec = fieldSchema(service, 'spec');
  assert.equal(fieldSchema(spec, 'selector').mapType, 'atomic');
  assert.equal(fieldSchema(rbac('ClusterRoleBinding'), 'roleRef').mapType, 'atomic', 'RoleRef is atomic on its component');
  assert.equal(fieldSchema(fieldSchema(spec, 'ports').items!, 'protocol').default, 'TCP');
  assert.equal(fieldSchema(deployment, 'metadata').mapType, undefined);
});

/** An OpenAPI v3 document of one kind `Thing` in `example.dev/v1` with these components besides it. */
function document(thing: Record<string, unknown>, components: Record<string, unknown> = {}) {
  return {
    components: {
      schemas: {
        'dev.example.v1.Thing': { ...thing, 'x-kubernetes-group-version-kind': [{ group: 'example.dev', version: 'v1', kind: 'Thing' }] },
        'dev.example.v1.ThingList': { type: 'object', 'x-kubernetes-group-version-kind': [{ group: 'example.dev', version: 'v1', kind: 'ThingList' }] },
        ...components,
      },
    },
  };
}

test('lists without a list type follow structured-merge-diff: a patch merge key makes a map list, a merge without one a set, nothing an atomic list', () => {
  const kinds = kindsOfOpenApi(document({
    type: 'object',
    properties: {
      keyed: { type: 'array', items: { type: 'object' }, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'ip' },
      merged: { type: 'array', items: { type: 'string' }, 'x-kubernetes-patch-strategy': 'merge,retainKeys' },
      plain: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      typed: { type: 'array', 'x-kubernetes-list-type': 'atomic', 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'ip' },
    },
  }));
  assert.deepEqual([...kinds.keys()], ['example.dev/v1/Thing', 'example.dev/v1/ThingList']);
  const thing = kinds.get(gvkOf({ apiVersion: 'example.dev/v1', kind: 'Thing' }))!;
  assert.deepEqual(listSemantics(thing, ['keyed']), { type: 'map', keys: ['ip'] });
  assert.deepEqual(listSemantics(thing, ['merged']), { type: 'set' });
  assert.deepEqual(listSemantics(thing, ['plain']), { type: 'atomic' }, 'elements with a name field do not make a map list');
  assert.deepEqual(listSemantics(thing, ['typed']), { type: 'atomic' }, 'an explicit list type wins over the patch strategy');
});

test('recursive types compile to a cycle; a field may override its type\'s map type; lists inside an atomic value are atomic', () => {
  const kinds = kindsOfOpenApi(document({
    type: 'object',
    properties: {
      schema: { allOf: [{ $ref: '#/components/schemas/dev.example.v1.Props' }] },
      ref: { allOf: [{ $ref: '#/components/schemas/dev.example.v1.Ref' }], 'x-kubernetes-map-type': 'granular' },
      atomicRef: { $ref: '#/components/schemas/dev.example.v1.Ref' },
      alias: { $ref: '#/components/schemas/dev.example.v1.Alias' },
      whole: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { type: 'object', properties: { inner: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] } } } },
    },
  }, {
    'dev.example.v1.Props': { type: 'object', properties: { not: { $ref: '#/components/schemas/dev.example.v1.Props' }, allOf: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { allOf: [{ $ref: '#/components/schemas/dev.example.v1.Props' }] } }, names: { type: 'array', 'x-kubernetes-list-type': 'set' } } },
    'dev.example.v1.Alias': { allOf: [{ $ref: '#/components/schemas/dev.example.v1.Ref' }] },
    'dev.example.v1.Ref': { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { name: { type: 'string' }, list: { type: 'array', 'x-kubernetes-list-type': 'set' } } },
  }));
  const thing = kinds.get('example.dev/v1/Thing')!;
  assert.deepEqual(listSemantics(thing, path('schema.not.not.allOf.not.names')), { type: 'atomic' }, 'inside the atomic allOf everything is atomic');
  assert.deepEqual(listSemantics(thing, path('schema.not.not.names')), { type: 'set' });
  assert.equal(fieldSchema(fieldSchema(thing, 'schema'), 'not'), fieldSchema(thing, 'schema'), 'one node per component');
  assert.equal(fieldSchema(thing, 'ref').mapType, 'granular');
  assert.equal(fieldSchema(thing, 'atomicRef').mapType, 'atomic');
  assert.equal(fieldSchema(thing, 'alias').mapType, 'atomic', 'a component that only refers to another is that one');
  assert.deepEqual(listSemantics(thing, path('ref.list')), { type: 'set' }, 'the override keeps the referenced type\'s fields');
  assert.deepEqual(listSemantics(thing, path('atomicRef.list')), { type: 'atomic' });
  assert.deepEqual(listSemantics(thing, path('whole.inner')), { type: 'atomic' });
});

test('a CRD\'s own schema gives each version of its kind; preserved unknown fields are unknown (atomic)', () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'things.example.dev' },
    spec: {
      group: 'example.dev', names: { kind: 'Thing', plural: 'things' }, scope: 'Namespaced',
      versions: ['v1', 'v2'].map((name) => ({
        name, served: true, storage: name === 'v2',
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: {
          servers: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['port'], items: { type: 'object', properties: { port: { type: 'integer' }, hosts: { type: 'array', items: { type: 'string' } } } } },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        } } } } },
      })),
    },
  };
  const kinds = kindsOfCrd(crd);
  assert.deepEqual([...kinds.keys()], ['example.dev/v1/Thing', 'example.dev/v2/Thing']);
  const thing = kinds.get('example.dev/v2/Thing')!;
  assert.deepEqual(listSemantics(thing, path('spec.servers')), { type: 'map', keys: ['port'] });
  assert.deepEqual(listSemantics(thing, path('spec.servers.hosts')), { type: 'atomic' }, 'a CRD list without a list type is atomic');
  assert.deepEqual(listSemantics(thing, path('spec.free.anything.list')), { type: 'atomic' });
  assert.equal(kindsOfCrd({ spec: {} }).size, 0, 'a malformed CRD describes nothing');
});
