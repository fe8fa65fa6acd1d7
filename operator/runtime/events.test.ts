import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeClock } from './clock.ts';
import { EventGoneError, EventRecorder, kubernetesEventSink, referenceTo, sanitizeNote, type EventObject, type EventSink } from './events.ts';
import { KubeApiError, KubeClient } from './kube.ts';
import { createLogger } from './logger.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyLine = pem.split('\n')[1]!;

const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mesh', namespace: 'istio-system', uid: 'uid-1', resourceVersion: '7' } };
const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'default', uid: 'uid-2' } };

/** An event sink in memory; `mode` makes its calls fail, report the event gone, or wait for `release()`. */
class MemorySink implements EventSink {
  created: Array<{ namespace: string; event: EventObject }> = [];
  updates: Array<{ namespace: string; name: string; count: number; lastObservedTime: number }> = [];
  mode: 'ok' | 'fail' | 'gone' | 'slow' = 'ok';
  private waiting: Array<() => void> = [];

  private async gate(): Promise<void> {
    await Promise.resolve();
    if (this.mode === 'fail') throw new Error(`apiserver said no to ${pem}`);
    if (this.mode === 'slow') await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  async create(namespace: string, event: EventObject): Promise<string> {
    await this.gate();
    this.created.push({ namespace, event: JSON.parse(JSON.stringify(event)) as EventObject });
    return event.metadata!.name!;
  }

  async updateSeries(namespace: string, name: string, series: { count: number; lastObservedTime: Date }): Promise<void> {
    await this.gate();
    if (this.mode === 'gone') throw new EventGoneError('gone');
    this.updates.push({ namespace, name, count: series.count, lastObservedTime: series.lastObservedTime.getTime() });
  }
}

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ destination: { write: (l: string) => void lines.push(l) } }) };
}

function recorder(sink: EventSink, clock = new FakeClock(T0), log = capture().log) {
  return new EventRecorder({ sink, identity: 'meshwright-7d9f-abc', clock, log, dedupWindowMs: 60_000 });
}

test('an event carries the reporting controller, instance, and a full reference to the object', async () => {
  const sink = new MemorySink();
  await recorder(sink).normal(configMap, 'ConfigApplied', 'Apply', 'applied mesh config');
  assert.equal(sink.created.length, 1);
  const { namespace, event } = sink.created[0]!;
  assert.equal(namespace, 'istio-system');
  assert.equal(event.apiVersion, 'events.k8s.io/v1');
  assert.equal(event.kind, 'Event');
  assert.equal(event.reportingController, 'meshwright.dev/operator');
  assert.equal(event.reportingInstance, 'meshwright-7d9f-abc');
  assert.deepEqual([event.type, event.reason, event.action, event.note], ['Normal', 'ConfigApplied', 'Apply', 'applied mesh config']);
  assert.deepEqual(event.regarding, { apiVersion: 'v1', kind: 'ConfigMap', name: 'mesh', namespace: 'istio-system', uid: 'uid-1', resourceVersion: '7' });
  assert.equal(event.eventTime, '2026-01-01T00:00:00.000000Z', 'MicroTime on the wire');
  assert.match(event.metadata!.name!, /^mesh\.[0-9a-f]+$/);
  assert.equal(event.series, undefined);
});

test('events about cluster-scoped objects go to the default namespace', async () => {
  const sink = new MemorySink();
  await recorder(sink).warning(installation, 'UnsupportedVersion', 'Resolve', 'version 9.9.9 is not in the catalog');
  assert.equal(sink.created[0]!.namespace, 'default');
  assert.equal(sink.created[0]!.event.type, 'Warning');
  assert.deepEqual(sink.created[0]!.event.regarding, { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', name: 'default', uid: 'uid-2' });
});

test('a repeat within the window updates the series instead of creating another event', async () => {
  const sink = new MemorySink();
  const clock = new FakeClock(T0);
  const r = recorder(sink, clock);
  await r.normal(configMap, 'Drift', 'Restore', 'restored Deployment istiod');
  clock.advance(5_000);
  await r.normal(configMap, 'Drift', 'Restore', 'restored Deployment istiod');
  clock.advance(5_000);
  await r.normal(configMap, 'Drift', 'Restore', 'restored Deployment istiod');
  assert.equal(sink.created.length, 1);
  const name = sink.created[0]!.event.metadata!.name!;
  assert.deepEqual(sink.updates, [
    { namespace: 'istio-system', name, count: 2, lastObservedTime: T0 + 5_000 },
    { namespace: 'istio-system', name, count: 3, lastObservedTime: T0 + 10_000 },
  ]);
});

test('a different reason, note, type, action or object makes a new event', async () => {
  const sink = new MemorySink();
  const r = recorder(sink);
  await r.normal(configMap, 'Drift', 'Restore', 'a');
  await r.normal(configMap, 'Pruned', 'Restore', 'a');
  await r.normal(configMap, 'Drift', 'Restore', 'b');
  await r.warning(configMap, 'Drift', 'Restore', 'a');
  await r.normal(configMap, 'Drift', 'Delete', 'a');
  await r.normal({ ...configMap, metadata: { ...configMap.metadata, uid: 'uid-other' } }, 'Drift', 'Restore', 'a');
  assert.equal(sink.created.length, 6);
  assert.equal(sink.updates.length, 0);
  assert.equal(new Set(sink.created.map((c) => c.event.metadata!.name)).size, 6, 'unique names');
});

test('a repeat after the window starts a new event', async () => {
  const sink = new MemorySink();
  const clock = new FakeClock(T0);
  const r = recorder(sink, clock);
  await r.normal(configMap, 'Drift', 'Restore', 'a');
  clock.advance(60_001);
  await r.normal(configMap, 'Drift', 'Restore', 'a');
  assert.equal(sink.created.length, 2);
  assert.equal(sink.updates.length, 0);
});

test('repeats while a write is in flight are folded into one follow-up write', async () => {
  const sink = new MemorySink();
  const r = recorder(sink);
  sink.mode = 'slow';
  const first = r.normal(configMap, 'Drift', 'Restore', 'a');
  await new Promise((resolve) => setImmediate(resolve));
  const repeats = [r.normal(configMap, 'Drift', 'Restore', 'a'), r.normal(configMap, 'Drift', 'Restore', 'a'), r.normal(configMap, 'Drift', 'Restore', 'a')];
  sink.mode = 'ok';
  sink.release();
  await Promise.all([first, ...repeats]);
  assert.equal(sink.created.length, 1);
  assert.deepEqual(sink.updates.map((u) => u.count), [4]);
});

test('an event that expired meanwhile is created afresh', async () => {
  const sink = new MemorySink();
  const r = recorder(sink);
  await r.normal(configMap, 'Drift', 'Restore', 'a');
  sink.mode = 'gone';
  await r.normal(configMap, 'Drift', 'Restore', 'a');
  assert.equal(sink.created.length, 2);
  assert.notEqual(sink.created[0]!.event.metadata!.name, sink.created[1]!.event.metadata!.name);
  assert.equal(sink.created[1]!.event.series, undefined);
});

test('a note never carries key material', async () => {
  const sink = new MemorySink();
  const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2VydA==\n-----END CERTIFICATE-----';
  const base64 = Buffer.from(pem).toString('base64');
  await recorder(sink).warning(configMap, 'BadCA', 'Validate', `the key\n${pem}\ndoes not match ${cert}; data was ${base64}; and cut: ${pem.slice(0, 80)}`);
  const note = sink.created[0]!.event.note!;
  assert.ok(!note.includes(keyLine), 'key body removed');
  assert.ok(!note.includes('PRIVATE KEY'));
  assert.ok(!note.includes('MIIBszCCAVmgAwIBAgIU'), 'certificate removed too');
  assert.ok(!note.includes(base64.slice(0, 40)), 'base64-encoded PEM removed');
  assert.match(note, /^the key\n\[Redacted key material\]\n\ndoes not match \[Redacted key material\]; data was \[Redacted key material\]; and cut: \[Redacted key material\]$/);
});

test('sanitizeNote keeps notes within the API server’s 1024-byte limit without splitting a character', () => {
  const long = 'ü'.repeat(600); // 1200 bytes
  const note = sanitizeNote(long);
  assert.ok(Buffer.byteLength(note) <= 1024);
  assert.ok(note.endsWith('…'));
  assert.ok(!note.includes('\uFFFD'));
  assert.equal(sanitizeNote('short'), 'short');
});

test('a failure to record is logged (without key material), never thrown, and retried next time', async () => {
  const sink = new MemorySink();
  const { lines, log } = capture();
  const r = recorder(sink, new FakeClock(T0), log);
  sink.mode = 'fail';
  await r.warning(configMap, 'Drift', 'Restore', 'a'); // resolves
  assert.equal(sink.created.length, 0);
  assert.equal(lines.length, 1);
  const logged = JSON.parse(lines[0]!) as { level: string; msg: string; regarding: string; reason: string };
  assert.deepEqual([logged.level, logged.msg, logged.regarding, logged.reason], ['warn', 'could not record event', 'ConfigMap istio-system/mesh', 'Drift']);
  assert.ok(!lines[0]!.includes(keyLine), 'the error message’s key is redacted in the log');
  sink.mode = 'ok';
  await r.warning(configMap, 'Drift', 'Restore', 'a');
  assert.equal(sink.created.length, 1, 'created on the next occurrence');
});

test('invalid events are logged, not thrown', async () => {
  const { lines, log } = capture();
  const sink = new MemorySink();
  const r = recorder(sink, new FakeClock(T0), log);
  await r.normal({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }, 'Drift', 'Restore', 'no name');
  await r.normal(configMap, 'R'.repeat(129), 'Restore', 'reason too long');
  await r.record({ regarding: configMap, type: 'Bogus' as 'Normal', reason: 'Drift', action: 'Restore', note: 'bad type' });
  assert.equal(sink.created.length, 0);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /needs the kind and name/);
  assert.match(lines[1]!, /reason must have 1 to 128 characters/);
  assert.match(lines[2]!, /type must be Normal or Warning/);
});

test('an unreachable API server does not fail the caller', async () => {
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const { lines, log } = capture();
  const client = new KubeClient(kc);
  const r = new EventRecorder({ client, identity: 'x', log });
  const pending = r.normal(configMap, 'Drift', 'Restore', 'a');
  await r.drain();
  await pending;
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /could not record event/);
  assert.match(lines[0]!, /ECONNREFUSED/);
  await client.close();
});

test('kubernetesEventSink: creates through the KubeClient, patches the series as a merge patch, and a 404 means the event is gone', async () => {
  const calls: unknown[][] = [];
  const client = {
    create: async (object: EventObject) => (calls.push(['create', object]), { ...object, metadata: { ...object.metadata, name: 'from-server' } }),
    patch: async (...args: unknown[]) => {
      calls.push(['patch', ...args]);
      if (args[1] === 'expired') throw new KubeApiError(404, 'NotFound', 'events "expired" not found');
    },
  };
  const sink = kubernetesEventSink(client as never);
  const event = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'mesh.1', namespace: 'x' } } as EventObject;
  assert.equal(await sink.create('istio-system', event), 'from-server');
  assert.equal((calls[0]![1] as EventObject).metadata.namespace, 'istio-system');
  await sink.updateSeries('istio-system', 'mesh.1', { count: 3, lastObservedTime: new Date(T0) });
  assert.deepEqual(calls[1], ['patch', { apiVersion: 'events.k8s.io/v1', kind: 'Event' }, 'mesh.1', 'istio-system', { series: { count: 3, lastObservedTime: '2026-01-01T00:00:00.000000Z' } }, 'merge']);
  await assert.rejects(sink.updateSeries('istio-system', 'expired', { count: 2, lastObservedTime: new Date(T0) }), EventGoneError);
});

test('referenceTo accepts an object or a reference and drops empty fields', () => {
  assert.deepEqual(referenceTo(configMap), { apiVersion: 'v1', kind: 'ConfigMap', name: 'mesh', namespace: 'istio-system', uid: 'uid-1', resourceVersion: '7' });
  assert.deepEqual(referenceTo({ kind: 'Node', name: 'n1', namespace: '' }), { kind: 'Node', name: 'n1' });
  assert.throws(() => referenceTo({ kind: 'Node' }), /needs the kind and name/);
});
