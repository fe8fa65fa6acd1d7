import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';
import { ReferencedSecrets, referencedSecret } from './referenced-secrets.ts';

/** Watch connections the test controls: one per informer, events pushed by hand. */
class SecretWatches {
  readonly opened: Array<{ selector: string; send(type: string, object: KubeObject): void }> = [];
  readonly lists: string[] = [];
  private waiting: Array<() => void> = [];
  client = {
    list: async (_type: unknown, options: { namespace?: string; fieldSelector?: string }) => {
      this.lists.push(`${options.namespace}:${options.fieldSelector}`);
      return { items: [], resourceVersion: '1' };
    },
    path: async (_type: unknown, namespace: string, _name: unknown, query: Record<string, string | undefined>) => `/api/v1/namespaces/${namespace}/secrets?fieldSelector=${query.fieldSelector}`,
    stream: async (path: string, signal: AbortSignal) => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
      signal.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
      this.opened.push({ selector: decodeURIComponent(path), send: (type, object) => controller.enqueue(new TextEncoder().encode(`${JSON.stringify({ type, object })}\n`)) });
      for (const wake of this.waiting.splice(0)) wake();
      return body;
    },
  };
  async watchOpened(count: number) {
    while (this.opened.length < count) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.opened[count - 1]!;
  }
}

const installation = (name: string, secretRef?: { namespace: string; name: string }, type = 'External'): KubeObject => ({
  apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name },
  spec: { certificateAuthority: { type, ...(secretRef ? { secretRef } : {}) } },
} as KubeObject);

/** An installations informer whose events the test emits. */
function installations() {
  const informer = new Informer({ client: {} as KubeClient, type: { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation' } });
  const handlers: Array<Parameters<Informer['on']>[0]> = [];
  informer.on = (handler) => void handlers.push(handler);
  return { informer, emit: (type: 'add' | 'update' | 'delete', object: KubeObject) => handlers.forEach((h) => h(type, object)) };
}

test('only an External CA references a Secret', () => {
  assert.deepEqual(referencedSecret(installation('a', { namespace: 'cert-manager', name: 'issuer' })), { namespace: 'cert-manager', name: 'issuer' });
  assert.equal(referencedSecret(installation('a', undefined, 'SelfSigned')), undefined);
  assert.equal(referencedSecret({ apiVersion: 'v1', kind: 'X', metadata: { name: 'a' } }), undefined);
});

test('one watch per referenced Secret, by name; a change enqueues every installation naming it; the last one gone stops it', async () => {
  const watches = new SecretWatches();
  const { informer, emit } = installations();
  const enqueued: string[] = [];
  const secrets = new ReferencedSecrets({ client: watches.client as unknown as KubeClient, installations: informer, enqueue: (name) => enqueued.push(name) });
  emit('add', installation('a', { namespace: 'cert-manager', name: 'issuer' }));
  emit('add', installation('b', { namespace: 'cert-manager', name: 'issuer' }));
  emit('add', installation('c', undefined, 'SelfSigned'));
  assert.deepEqual(secrets.watched(), ['cert-manager/issuer'], 'shared by both, none for a SelfSigned CA');
  const watch = await watches.watchOpened(1);
  assert.deepEqual(watches.lists, ['cert-manager:metadata.name=issuer'], 'listed by name in its namespace');
  assert.match(watch.selector, /fieldSelector=metadata.name=issuer/);

  watch.send('MODIFIED', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'issuer', namespace: 'cert-manager', resourceVersion: '2' }, data: { 'tls.key': 'eA==' } } as KubeObject);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(enqueued.sort(), ['a', 'b']);

  emit('update', installation('a', { namespace: 'cert-manager', name: 'other' }));
  assert.deepEqual(secrets.watched(), ['cert-manager/issuer', 'cert-manager/other'], 'a moved reference watches the new Secret');
  emit('delete', installation('b', { namespace: 'cert-manager', name: 'issuer' }));
  assert.deepEqual(secrets.watched(), ['cert-manager/other'], 'nobody names it any more: no watch');
  await secrets.stop();
  assert.deepEqual(secrets.watched(), []);
  emit('add', installation('d', { namespace: 'x', name: 'y' }));
  assert.deepEqual(secrets.watched(), [], 'nothing starts after stop');
});
