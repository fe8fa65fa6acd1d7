/**
 * The EventRecorder against a real API server: the events.k8s.io/v1 Events it writes pass the API
 * server's validation, a repeat becomes a series on the same Event, a different reason a new
 * Event, notes arrive without key material, and events about cluster-scoped objects are accepted.
 * They are sent by our KubeClient, with our user agent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { EventsV1Api, type EventsV1Event, type V1ConfigMap } from '@kubernetes/client-node';
import pino from 'pino';
import { EventRecorder } from '../../operator/runtime/events.ts';
import { KubeClient, userAgent } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { clients, createTestNamespace } from '../support/kube.ts';

const { kc, core } = clients();
const client = new KubeClient(kc);
const eventsApi = kc.makeApiClient(EventsV1Api);
const identity = `meshwright-e2e-${randomBytes(3).toString('hex')}`;
const lines: string[] = [];
// Capture the recorder's log: a failure to record is logged, not thrown, so the test must look.
const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });

let namespace: string;
let configMap: V1ConfigMap;

before(async () => {
  namespace = await createTestNamespace(core, 'events');
  configMap = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'mesh-config' }, data: { mesh: 'x' } } });
});
after(async () => {
  await core.deleteNamespace({ name: namespace });
  await client.close();
});

async function eventsAbout(uid: string, ns = namespace): Promise<EventsV1Event[]> {
  const list = await eventsApi.listNamespacedEvent({ namespace: ns });
  return list.items.filter((e) => e.regarding?.uid === uid).sort((a, b) => (a.reason ?? '').localeCompare(b.reason ?? ''));
}

test('a repeat updates the series of one Event; a different reason creates a second Event', async () => {
  const since = new Date();
  const recorder = new EventRecorder({ client, identity, log });
  await recorder.normal(configMap, 'DriftCorrected', 'Restore', 'restored ConfigMap mesh-config after an edit by kubectl');
  await recorder.normal(configMap, 'DriftCorrected', 'Restore', 'restored ConfigMap mesh-config after an edit by kubectl');
  assert.deepEqual(lines, [], 'nothing failed');

  const [event, ...others] = await eventsAbout(configMap.metadata!.uid!);
  assert.equal(others.length, 0, 'one Event for the repeated occurrence');
  assert.equal(event!.series?.count, 2);
  assert.ok(event!.series?.lastObservedTime, 'series.lastObservedTime set');
  assert.equal(event!.type, 'Normal');
  assert.equal(event!.reason, 'DriftCorrected');
  assert.equal(event!.action, 'Restore');
  assert.equal(event!.note, 'restored ConfigMap mesh-config after an edit by kubectl');
  assert.equal(event!.reportingController, 'meshwright.dev/operator');
  assert.equal(event!.reportingInstance, identity);
  assert.equal(event!.metadata?.namespace, namespace);
  assert.deepEqual(
    { ...event!.regarding },
    { apiVersion: 'v1', kind: 'ConfigMap', name: 'mesh-config', namespace, uid: configMap.metadata!.uid, resourceVersion: configMap.metadata!.resourceVersion },
  );

  await recorder.warning(configMap, 'PruneFailed', 'Prune', 'could not delete ConfigMap mesh-config: forbidden');
  const both = await eventsAbout(configMap.metadata!.uid!);
  assert.deepEqual(
    both.map((e) => [e.reason, e.type, e.series?.count]),
    [
      ['DriftCorrected', 'Normal', 2],
      ['PruneFailed', 'Warning', undefined],
    ],
  );
  assert.deepEqual(lines, []);
  // Sent by our KubeClient, like every other request of the operator: the API server sees our user agent.
  const writes = auditEvents(since, (e) => e.objectRef?.resource === 'events' && e.objectRef.namespace === namespace && writeVerbs.has(e.verb));
  assert.deepEqual(writes.map((e) => [e.verb, e.objectRef?.apiGroup, e.userAgent]), [
    ['create', 'events.k8s.io', userAgent],
    ['patch', 'events.k8s.io', userAgent],
    ['create', 'events.k8s.io', userAgent],
  ]);
});

test('a note with key material is stored without it', async () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const recorder = new EventRecorder({ client, identity, log });
  await recorder.warning(configMap, 'InvalidCA', 'Validate', `user-supplied CA key does not match the certificate:\n${pem}`);
  const event = (await eventsAbout(configMap.metadata!.uid!)).find((e) => e.reason === 'InvalidCA');
  assert.ok(event, 'the event was written');
  assert.equal(event.note, 'user-supplied CA key does not match the certificate:\n[Redacted key material]\n');
  assert.ok(!JSON.stringify(event).includes(pem.split('\n')[1]!));
});

test('an event about a cluster-scoped object is accepted in the default namespace', async () => {
  const ns = await core.readNamespace({ name: namespace });
  const recorder = new EventRecorder({ client, identity, log });
  await recorder.normal(ns, 'Enrolled', 'Inject', `namespace ${namespace} enrolled for sidecar injection`);
  assert.deepEqual(lines, []);
  const [event, ...others] = await eventsAbout(ns.metadata!.uid!, 'default');
  assert.equal(others.length, 0);
  assert.deepEqual([event!.regarding?.kind, event!.regarding?.name, event!.regarding?.namespace], ['Namespace', namespace, undefined]);
  await eventsApi.deleteNamespacedEvent({ namespace: 'default', name: event!.metadata!.name! });
});
