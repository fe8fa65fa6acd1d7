import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PassTrigger, TriggerEvent } from '../../runtime/controller.ts';
import type { KubeObject, TypeRef } from '../../runtime/kube.ts';
import { refKey, refOf } from './live-objects.ts';
import { planTriggeredWork, type SettledPass, type TriggerFacts } from './repair.ts';

const configMap: TypeRef = { apiVersion: 'v1', kind: 'ConfigMap' };
const pod: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const mi: TypeRef = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation' };
const secret: TypeRef = { apiVersion: 'v1', kind: 'Secret' };

const object = (type: TypeRef, name: string, rv: string): KubeObject => ({ ...type, metadata: { name, namespace: 'mesh', resourceVersion: rv } });
const event = (type: TypeRef, name: string, rv: string, kind: TriggerEvent['type'] = 'update'): TriggerEvent => ({ source: type, type: kind, object: object(type, name, rv), at: 1 });
const trigger = (events: TriggerEvent[], other = false): PassTrigger => ({ events, other, since: 1, queuedAt: 1, startedAt: 2 });

const desiredConfig = object(configMap, 'config', '');
const desiredState = object(secret, 'meshwright-ca', '');
const settled: SettledPass = {
  installationVersion: '100',
  objects: new Map([desiredConfig, desiredState].map((o) => [refKey(refOf(o)), o])),
  dueAt: 10_000,
};

/** Facts of an installation the settled pass left as it is; our own writes are the versions in `own`. */
function facts(own: string[] = [], overrides: Partial<TriggerFacts> = {}): TriggerFacts {
  return {
    settled, installationVersion: '100', now: 5_000,
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
    { name: 'the installation changed since (spec, labels, status): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { installationVersion: '105' }), skip: false, repairs: [], suffice: false },
    { name: 'our own writes, but the installation changed since: the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts(['ConfigMap@101'], { installationVersion: '105' }), skip: false, repairs: [], suffice: false },
    { name: 'no settled pass (it failed, was paused, or none ran yet): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { settled: undefined }), skip: false, repairs: [], suffice: false },
    { name: 'something timed fell due (a CA check, a contest hold ending): the whole pass', trigger: trigger([event(configMap, 'config', '101')]), facts: facts([], { now: 10_000 }), skip: false, repairs: [], suffice: false },
    { name: 'the last pass failed and only its own writes came back (its status): no pass, the backoff times the retry', trigger: trigger([event(mi, 'mesh', '106'), event(configMap, 'config', '101')]), facts: facts(['MeshInstallation@106', 'ConfigMap@101'], { settled: undefined, installationVersion: '106', lastPassFailed: true }), skip: true, repairs: [], suffice: false },
    { name: 'the last pass failed, and a foreign change came: the whole pass', trigger: trigger([event(mi, 'mesh', '106'), event(mi, 'mesh', '107')]), facts: facts(['MeshInstallation@106'], { settled: undefined, installationVersion: '107', lastPassFailed: true }), skip: false, repairs: [], suffice: false },
    { name: 'the last pass failed, and its retry is due (other): the whole pass', trigger: trigger([event(mi, 'mesh', '106')], true), facts: facts(['MeshInstallation@106'], { settled: undefined, installationVersion: '106', lastPassFailed: true }), skip: false, repairs: [], suffice: false },
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
