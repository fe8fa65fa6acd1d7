import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PassTrigger, TriggerEvent } from '../../runtime/controller.ts';
import type { KubeObject, TypeRef } from '../../runtime/kube.ts';
import { refKey, refOf } from './live-objects.ts';
import { planTriggeredWork, readsTheSame, type SettledPass, type TriggerFacts } from './repair.ts';
import type { InstallationObject } from './scope.ts';

const configMap: TypeRef = { apiVersion: 'v1', kind: 'ConfigMap' };
const pod: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const mi: TypeRef = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation' };
const secret: TypeRef = { apiVersion: 'v1', kind: 'Secret' };

const object = (type: TypeRef, name: string, rv: string): KubeObject => ({ ...type, metadata: { name, namespace: 'mesh', resourceVersion: rv } });
const event = (type: TypeRef, name: string, rv: string, kind: TriggerEvent['type'] = 'update'): TriggerEvent => ({ source: type, type: kind, object: object(type, name, rv), at: 1 });
const trigger = (events: TriggerEvent[], other = false): PassTrigger => ({ events, other, since: 1, queuedAt: 1, startedAt: 2 });

const desiredConfig = object(configMap, 'config', '');
const desiredState = object(secret, 'meshwright-ca', '');
/** The installation at resourceVersion `rv`, as the settled pass left it but for `change`. */
function installation(rv: string, change: (mi: InstallationObject) => void = () => undefined): InstallationObject {
  const mi = {
    ...mi_, metadata: { name: 'mesh', uid: 'u-1', generation: 3, resourceVersion: rv, labels: { team: 'a' }, annotations: { 'meshwright.dev/accept-new-root': 'abc' }, finalizers: ['meshwright.dev/cleanup'] },
    spec: { mesh: 'istio', version: '1.31.1' }, status: { observedGeneration: 3 },
  } as unknown as InstallationObject;
  change(mi);
  return mi;
}
const mi_ = mi;

const miEvent = (object: InstallationObject): TriggerEvent => ({ source: mi, type: 'update', object, at: 1 });
const noted = installation('101', (m) => { m.metadata.annotations = { ...m.metadata.annotations, 'example.com/note': 'x' }; });

const settled: SettledPass = {
  installation: installation('100'),
  objects: new Map([desiredConfig, desiredState].map((o) => [refKey(refOf(o)), o])),
  dueAt: 10_000,
};

/** Facts of an installation the settled pass left as it is; our own writes are the versions in `own`. */
function facts(own: string[] = [], overrides: Partial<TriggerFacts> = {}): TriggerFacts {
  return {
    settled, installation: installation('100'), now: 5_000,
    owns: (type) => type.kind !== 'Pod' && type.kind !== 'MeshInstallation',
    isOwnWrite: (o) => own.includes(`${o.kind}@${o.metadata.resourceVersion}`),
    ...overrides,
  };
}

test('which objects a pass repairs first, and when the pass can be skipped or end after them', async (t) => {
  const rows: Array<{ name: string; trigger?: PassTrigger; facts: TriggerFacts; skip: boolean; repairs: string[]; suffice: boolean }> = [
    { name: 'a foreign edit of an object the settled pass applied: repaired first, and that is all the pass has to do', trigger: trigger([event(configMap, 'config', '101')]), facts: facts(), skip: false, repairs: ['config'], suffice: true },
    { name: 'a deletion of it: the same (recreated first)', trigger: trigger([event(configMap, 'config', '101', 'delete')]), facts: facts(), skip: false, repairs: ['config'], suffice: true },
    { name: 'two events of one object: one repair', trigger: trigger([event(configMap, 'config', '101'), event(configMap, 'config', '102')]), facts: facts(), skip: false, repairs: ['config'], suffice: true },
    { name: 'only our own writes coming back: no pass', trigger: trigger([event(configMap, 'config', '101'), event(mi, 'mesh', '100')]), facts: facts(['ConfigMap@101', 'MeshInstallation@100']), skip: true, repairs: [], suffice: false },
    { name: 'our write and a foreign edit after it: the edit is repaired', trigger: trigger([event(configMap, 'config', '101'), event(configMap, 'config', '102')]), facts: facts(['ConfigMap@101']), skip: false, repairs: ['config'], suffice: true },
    { name: 'something besides events asked (a timer, a direct enqueue): repaired first, then the whole pass', trigger: trigger([event(configMap, 'config', '101')], true), facts: facts(), skip: false, repairs: ['config'], suffice: false },
    { name: 'our own writes and something else: the whole pass', trigger: trigger([event(configMap, 'config', '101')], true), facts: facts(['ConfigMap@101']), skip: false, repairs: [], suffice: false },
    { name: 'a pod event besides the edit: repaired first, then the whole pass', trigger: trigger([event(configMap, 'config', '101'), event(pod, 'p', '7')]), facts: facts(), skip: false, repairs: ['config'], suffice: false },
    { name: 'an object the settled pass did not apply (someone else\'s, a new one): the whole pass', trigger: trigger([event(configMap, 'other', '101')]), facts: facts(), skip: false, repairs: [], suffice: false },
    { name: 'the CA state Secret is the PKI step\'s: the whole pass', trigger: trigger([event(secret, 'meshwright-ca', '101')]), facts: facts(), skip: false, repairs: [], suffice: false },
    { name: 'the installation changed since (spec, labels, status): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { installation: installation('105', (m) => { m.spec.version = '1.31.2'; }) }), skip: false, repairs: [], suffice: false },
    { name: 'our own writes, but the installation changed since: the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts(['ConfigMap@101'], { installation: installation('105', (m) => { m.spec.version = '1.31.2'; }) }), skip: false, repairs: [], suffice: false },
    { name: 'no settled pass (it failed, was paused, or none ran yet): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { settled: undefined }), skip: false, repairs: [], suffice: false },
    { name: 'something timed fell due (a CA check, a contest hold ending): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { now: 10_000 }), skip: false, repairs: [], suffice: false },
    { name: 'the last pass failed and only its own writes came back (its status): no pass, the backoff times the retry', trigger: trigger([event(mi, 'mesh', '106'), event(configMap, 'config', '101')]), facts: facts(['MeshInstallation@106', 'ConfigMap@101'], { settled: undefined, installation: installation('106', (m) => { (m.status as Record<string, unknown>).observedGeneration = 4; }), lastPassFailed: true }), skip: true, repairs: [], suffice: false },
    { name: 'the last pass failed, and a foreign change came: the whole pass', trigger: trigger([event(mi, 'mesh', '106'), event(mi, 'mesh', '107')]), facts: facts(['MeshInstallation@106'], { settled: undefined, installation: installation('107', (m) => { m.spec.version = '1.31.2'; }), lastPassFailed: true }), skip: false, repairs: [], suffice: false },
    { name: 'the last pass failed, and its retry is due (other): the whole pass', trigger: trigger([event(mi, 'mesh', '106')], true), facts: facts(['MeshInstallation@106'], { settled: undefined, installation: installation('106', (m) => { (m.status as Record<string, unknown>).observedGeneration = 4; }), lastPassFailed: true }), skip: false, repairs: [], suffice: false },
    { name: 'someone else\'s annotation on the installation (kubectl, Argo CD, a note): no pass', trigger: trigger([miEvent(noted)]), facts: facts([], { installation: noted }), skip: true, repairs: [], suffice: false },
    { name: 'such an annotation and a foreign edit: the edit is repaired, and that is all', trigger: trigger([miEvent(noted), event(configMap, 'config', '102')]), facts: facts([], { installation: noted }), skip: false, repairs: ['config'], suffice: true },
    { name: 'an annotation a pass reads (meshwright.dev/accept-new-root): the whole pass', trigger: trigger([miEvent(installation('101', (m) => { m.metadata.annotations = { 'meshwright.dev/accept-new-root': 'def' }; }))]), facts: facts([], { installation: installation('101', (m) => { m.metadata.annotations = { 'meshwright.dev/accept-new-root': 'def' }; }) }), skip: false, repairs: [], suffice: false },
    { name: 'a label of the installation: the whole pass', trigger: trigger([miEvent(installation('101', (m) => { m.metadata.labels = { team: 'b' }; }))]), facts: facts([], { installation: installation('101', (m) => { m.metadata.labels = { team: 'b' }; }) }), skip: false, repairs: [], suffice: false },
    { name: 'no trigger (a caller that does not say why): the whole pass', trigger: undefined, facts: facts(), skip: false, repairs: [], suffice: false },
  ];
  for (const row of rows) {
    await t.test(row.name, () => {
      const work = planTriggeredWork(row.trigger, row.facts);
      assert.deepEqual({ skip: work.skip, repairs: work.repairs.map((o) => o.metadata.name), suffice: work.repairsSuffice }, { skip: row.skip, repairs: row.repairs, suffice: row.suffice });
    });
  }
});

test('a repair is the object the settled pass applied, not the event\'s version of it', () => {
  const work = planTriggeredWork(trigger([event(configMap, 'config', '101')]), facts());
  assert.equal(work.repairs[0], desiredConfig);
});

test('a pass reads an installation the same when only what no step reads changed', () => {
  const base = installation('100');
  const rows: Array<[string, (m: InstallationObject) => void, boolean]> = [
    ['the same resourceVersion', () => undefined, true],
    ['another tool\'s annotation added', (m) => { m.metadata.annotations = { ...m.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': 'now', 'argocd.argoproj.io/refresh': 'hard' }; }, true],
    ['managedFields', (m) => { m.metadata.managedFields = [{ manager: 'kubectl' }]; }, true],
    ['a meshwright.dev annotation', (m) => { m.metadata.annotations = { ...m.metadata.annotations, 'meshwright.dev/accept-new-root': 'other' }; }, false],
    ['an annotation of a meshwright.dev subdomain', (m) => { m.metadata.annotations = { ...m.metadata.annotations, 'owner.meshwright.dev/x': '1' }; }, false],
    ['spec', (m) => { m.spec.version = '1.31.2'; }, false],
    ['status', (m) => { m.status = {}; }, false],
    ['generation', (m) => { m.metadata.generation = 4; }, false],
    ['labels', (m) => { m.metadata.labels = {}; }, false],
    ['finalizers', (m) => { m.metadata.finalizers = []; }, false],
    ['deletion', (m) => { m.metadata.deletionTimestamp = '2026-11-28T00:00:00Z'; }, false],
    ['another object of the same name (uid)', (m) => { m.metadata.uid = 'u-2'; }, false],
  ];
  for (const [what, change, same] of rows) {
    const current = installation(what === 'the same resourceVersion' ? '100' : '101', change);
    assert.equal(readsTheSame(base, current), same, what);
  }
});
