import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch } from '../distributions/json-patch.ts';
import { jsonPatchBetween, pointerToken } from './json-diff.ts';

const pod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'web-', namespace: 'shop', labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }], volumes: [{ name: 'data', emptyDir: {} }] },
});

type Doc = ReturnType<typeof pod> & Record<string, unknown>;

const cases: Array<{ name: string; change: (p: Doc) => void; ops: Array<{ op: string; path: string }> }> = [
  { name: 'nothing changed', change: () => undefined, ops: [] },
  {
    name: 'annotations added where there were none: one add of the whole map',
    change: (p) => void ((p.metadata as Record<string, unknown>).annotations = { 'sidecar.istio.io/status': '{}' }),
    ops: [{ op: 'add', path: '/metadata/annotations' }],
  },
  {
    name: 'a label added to existing labels (key with / escaped as ~1)',
    change: (p) => void ((p.metadata.labels as Record<string, string>)['meshwright.dev/injected-by'] = 'mesh'),
    ops: [{ op: 'add', path: '/metadata/labels/meshwright.dev~1injected-by' }],
  },
  {
    name: 'a container appended',
    change: (p) => void p.spec.containers.push({ name: 'proxy', image: 'proxy:1', ports: [] }),
    ops: [{ op: 'add', path: '/spec/containers/1' }],
  },
  {
    name: 'a container prepended (insertion at index 0, the app container untouched)',
    change: (p) => void p.spec.containers.unshift({ name: 'proxy', image: 'proxy:1', ports: [] }),
    ops: [{ op: 'add', path: '/spec/containers/0' }],
  },
  {
    name: 'two init containers inserted around nothing (new list)',
    change: (p) => void ((p.spec as Record<string, unknown>).initContainers = [{ name: 'init' }, { name: 'proxy' }]),
    ops: [{ op: 'add', path: '/spec/initContainers' }],
  },
  {
    name: 'an element changed in place (recursed into)',
    change: (p) => void (p.spec.containers[0]!.image = 'nginx:2'),
    ops: [{ op: 'replace', path: '/spec/containers/0/image' }],
  },
  {
    name: 'a list shortened and changed: replaced whole',
    change: (p) => void (p.spec.volumes = []),
    ops: [{ op: 'replace', path: '/spec/volumes' }],
  },
  {
    name: 'a key removed',
    change: (p) => void delete (p.metadata as Record<string, unknown>).generateName,
    ops: [{ op: 'remove', path: '/metadata/generateName' }],
  },
  {
    name: 'undefined values are dropped as on the wire',
    change: (p) => void ((p.metadata as Record<string, unknown>).annotations = undefined),
    ops: [],
  },
  {
    name: 'a scalar replaced by an object',
    change: (p) => void ((p.spec.containers[0] as Record<string, unknown>).image = { not: 'a string' }),
    ops: [{ op: 'replace', path: '/spec/containers/0/image' }],
  },
];

for (const { name, change, ops } of cases) {
  test(`jsonPatchBetween: ${name}; applying it gives the changed pod`, () => {
    const before = pod() as Doc;
    const after = structuredClone(before);
    change(after);
    const patch = jsonPatchBetween(before, after);
    assert.deepEqual(patch.map(({ op, path }) => ({ op, path })), ops);
    assert.deepEqual(applyJsonPatch(before, patch), JSON.parse(JSON.stringify(after)));
  });
}

test('jsonPatchBetween: an injector-like change (init prepended, sidecar appended, annotations, volumes) round-trips and leaves the app container alone', () => {
  const before = pod() as Doc;
  const after = structuredClone(before) as Doc;
  (after.spec as Record<string, unknown>).initContainers = [{ name: 'mesh-init', args: ['-p', '15001'] }];
  after.spec.containers.push({ name: 'mesh-proxy', image: 'proxy:1', ports: [{ containerPort: 15090 }] });
  after.spec.volumes.unshift({ name: 'mesh-envoy', emptyDir: {} });
  (after.metadata as Record<string, unknown>).annotations = { 'mesh/status': 'injected' };
  const patch = jsonPatchBetween(before, after);
  assert.deepEqual(applyJsonPatch(before, patch), after);
  assert.ok(patch.every((op) => !op.path.startsWith('/spec/containers/0')), JSON.stringify(patch));
});

test('jsonPatchBetween: a root that is not an object is refused with a reason', () => {
  assert.throws(() => jsonPatchBetween([], {}), /objects at their root/);
});

test('pointerToken escapes ~ before / (RFC 6901)', () => {
  assert.equal(pointerToken('a/b~c'), 'a~1b~0c');
});
