import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExponentialBackoff } from './backoff.ts';
import { FakeClock } from './clock.ts';
import { Informer, type InformerEventType } from './informer.ts';
import { KubeApiError, type KubeClient, type KubeObject } from './kube.ts';

const configMap = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion },
});

/** One watch connection the test controls: push events, end it, or fail it. */
class ScriptedWatch {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly body = new ReadableStream<Uint8Array>({ start: (c) => void (this.controller = c) });
  constructor(readonly resourceVersion: string) {}
  send(type: string, object: KubeObject): void {
    this.controller.enqueue(new TextEncoder().encode(`${JSON.stringify({ type, object })}\n`));
  }
  fail(error: Error): void {
    this.controller.error(error);
  }
}

/**
 * A KubeClient double covering what an informer calls (list, path, stream). Each list and each watch
 * attempt takes the next scripted outcome, so a test decides exactly which requests fail.
 */
class ScriptedClient {
  lists: Array<() => { items: KubeObject[]; resourceVersion: string }> = [];
  watchFailures: Error[] = [];
  watches: ScriptedWatch[] = [];
  listCalls = 0;
  private waiting: Array<() => void> = [];

  async list() {
    this.listCalls++;
    const next = this.lists.shift();
    if (!next) throw new Error('unexpected list');
    return next();
  }
  async path(_type: unknown, _ns: unknown, _name: unknown, query: Record<string, string | undefined>) {
    return `/api/v1/configmaps?resourceVersion=${query.resourceVersion}`;
  }
  async stream(path: string, signal: AbortSignal) {
    if (signal.aborted) throw new DOMException('aborted', 'AbortError');
    const failure = this.watchFailures.shift();
    if (failure) throw failure;
    const watch = new ScriptedWatch(new URL(path, 'http://x').searchParams.get('resourceVersion') ?? '');
    // Like the real client: aborting the request ends the body.
    signal.addEventListener('abort', () => watch.fail(new DOMException('aborted', 'AbortError')));
    this.watches.push(watch);
    for (const wake of this.waiting.splice(0)) wake();
    return watch.body;
  }
  /** Resolves once `count` watches have been opened. */
  async watchOpened(count: number): Promise<ScriptedWatch> {
    while (this.watches.length < count) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.watches[count - 1]!;
  }
}

function informerWith(client: ScriptedClient) {
  const clock = new FakeClock();
  const errors: Array<{ message: string; retryInMs: number }> = [];
  const events: Array<[InformerEventType, string]> = [];
  const informer = new Informer({
    client: client as unknown as KubeClient,
    type: { apiVersion: 'v1', kind: 'ConfigMap' },
    clock,
    backoff: new ExponentialBackoff({ baseMs: 500, maxMs: 4_000 }),
    onError: (error, retryInMs) => errors.push({ message: (error as Error).message, retryInMs }),
  });
  informer.on((type, object) => events.push([type, object.metadata.name]));
  return { informer, clock, errors, events };
}

/** Lets pending promise callbacks (the informer's loop) run. */
const settle = async () => { for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve)); };

test('a failing watch is retried with growing backoff, and the retry resumes from the last resourceVersion', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [configMap('a', '10')], resourceVersion: '10' }));
  client.watchFailures.push(new KubeApiError(503, 'ServiceUnavailable', 'apiserver shutting down'), new Error('ECONNREFUSED'), new Error('ECONNREFUSED'));
  const { informer, clock, errors, events } = informerWith(client);
  await informer.start();
  await settle();
  assert.deepEqual(errors.map((e) => e.retryInMs), [500], 'first failure waits the base delay');

  clock.advance(499);
  await settle();
  assert.equal(errors.length, 1, 'no retry before the delay');
  clock.advance(1);
  await settle();
  assert.deepEqual(errors.map((e) => e.retryInMs), [500, 1000]);
  clock.advance(1000);
  await settle();
  assert.deepEqual(errors.map((e) => e.retryInMs), [500, 1000, 2000], 'each consecutive failure doubles the wait');

  clock.advance(2000);
  const watch = await client.watchOpened(1);
  assert.equal(watch.resourceVersion, '10', 'watch resumes where the list left off, without relisting');
  assert.equal(client.listCalls, 1);
  watch.send('ADDED', configMap('b', '11'));
  await settle();
  assert.deepEqual(informer.list().map((o) => o.metadata.name).sort(), ['a', 'b']);
  assert.deepEqual(events, [['add', 'a'], ['add', 'b']]);

  // Events arrived, so the connection counts as healthy again: the next failure starts from the base delay.
  watch.fail(new Error('socket hang up'));
  await settle();
  assert.equal(errors.at(-1)?.retryInMs, 500);
  clock.advance(500);
  const resumed = await client.watchOpened(2);
  assert.equal(resumed.resourceVersion, '11');
  await informer.stop();
});

test('410 Gone relists at once and reports objects deleted while the watch was down', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [configMap('a', '10'), configMap('b', '10')], resourceVersion: '10' }));
  client.lists.push(() => ({ items: [configMap('a', '15')], resourceVersion: '20' }));
  const { informer, errors, events } = informerWith(client);
  await informer.start();
  const watch = await client.watchOpened(1);
  watch.send('ERROR', { apiVersion: 'v1', kind: 'Status', metadata: { name: '' }, code: 410, message: 'too old resource version' } as KubeObject);
  const next = await client.watchOpened(2);
  assert.equal(client.listCalls, 2, 'relisted');
  assert.equal(next.resourceVersion, '20');
  assert.deepEqual(errors, [], 'a compaction is not an error to back off from');
  assert.deepEqual(events, [['add', 'a'], ['add', 'b'], ['update', 'a'], ['delete', 'b']]);
  assert.equal(informer.get('b', 'ns'), undefined);
  await informer.stop();
});

test('a failing first list keeps start() pending until a retry succeeds', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => {
    throw new KubeApiError(429, 'TooManyRequests', 'slow down');
  });
  client.lists.push(() => ({ items: [configMap('a', '3')], resourceVersion: '3' }));
  const { informer, clock, errors } = informerWith(client);
  let synced = false;
  const started = informer.start().then(() => void (synced = true));
  await settle();
  assert.equal(synced, false);
  assert.equal(informer.hasSynced(), false);
  assert.deepEqual(errors, [{ message: 'slow down', retryInMs: 500 }]);
  clock.advance(500);
  await started;
  assert.equal(informer.get('a', 'ns')?.metadata.resourceVersion, '3');
  await informer.stop();
});

test('stop() during a backoff wait ends the loop without another attempt', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [], resourceVersion: '1' }));
  client.watchFailures.push(new Error('ECONNREFUSED'));
  const { informer, clock, errors } = informerWith(client);
  await informer.start();
  await settle();
  assert.equal(errors.length, 1);
  await informer.stop();
  clock.advance(60_000);
  await settle();
  assert.equal(client.watches.length, 0);
  assert.equal(clock.pendingTimers(), 0);
});

const notServed = () => {
  throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
};

test('a kind that is not served counts as an empty, complete cache: start() resolves, and the informer keeps trying', async () => {
  const client = new ScriptedClient();
  client.lists.push(notServed, notServed);
  const { informer, clock, errors, events } = informerWith(client);
  await informer.start();
  assert.equal(informer.isNotServed(), true);
  assert.equal(informer.hasSynced(), false, 'nothing was listed');
  assert.deepEqual(informer.list(), []);
  assert.equal(informer.lastError(), undefined, 'not served is not a failure');
  await informer.start(); // a second caller is not kept waiting either
  clock.advance(500);
  await settle();
  assert.equal(client.listCalls, 2, 'still asking, with backoff');
  assert.deepEqual(errors.map((e) => e.retryInMs), [500, 1000]);

  // The kind appears (someone installed its CRD): the next attempt lists and watches it.
  client.lists.push(() => ({ items: [configMap('a', '1')], resourceVersion: '1' }));
  clock.advance(1000);
  await client.watchOpened(1);
  assert.equal(informer.isNotServed(), false);
  assert.equal(informer.hasSynced(), true);
  assert.deepEqual(events, [['add', 'a']]);
  await informer.stop();
});

test('a kind that stops being served (its CRD deleted) empties the cache and reports the objects deleted', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [configMap('a', '1'), configMap('b', '1')], resourceVersion: '1' }));
  client.lists.push(notServed);
  const { informer, events } = informerWith(client);
  await informer.start();
  const watch = await client.watchOpened(1);
  watch.fail(new KubeApiError(404, 'NotFound', 'the server could not find the requested resource'));
  await settle();
  assert.equal(informer.isNotServed(), true);
  assert.deepEqual(informer.list(), []);
  assert.deepEqual(events, [['add', 'a'], ['add', 'b'], ['delete', 'a'], ['delete', 'b']]);
  await informer.stop();
});

test('a list that fails for another reason is remembered, to say why the cache has not synced', async () => {
  const client = new ScriptedClient();
  client.lists.push(() => {
    throw new KubeApiError(403, 'Forbidden', 'configmaps is forbidden');
  });
  client.lists.push(() => ({ items: [], resourceVersion: '1' }));
  const { informer, clock } = informerWith(client);
  const started = informer.start();
  await settle();
  assert.equal(informer.lastError(), 'configmaps is forbidden');
  assert.equal(informer.isNotServed(), false);
  clock.advance(500);
  await started;
  assert.equal(informer.lastError(), undefined, 'cleared by the next successful list');
  await informer.stop();
});

test('retryNow() ends a backoff wait at once (the kind\'s CRD was just installed)', async () => {
  const client = new ScriptedClient();
  client.lists.push(notServed);
  client.lists.push(() => ({ items: [configMap('a', '1')], resourceVersion: '1' }));
  const { informer, errors } = informerWith(client);
  await informer.start();
  assert.deepEqual(errors.map((e) => e.retryInMs), [500]);
  assert.equal(informer.hasSynced(), false);
  informer.retryNow();
  await client.watchOpened(1);
  assert.ok(informer.hasSynced(), 'synced without the clock moving');
  assert.equal(informer.get('a', 'ns')?.metadata.resourceVersion, '1');
  await informer.stop();
});
