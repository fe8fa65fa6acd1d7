import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';
import { caFiles } from '../distributions/istio/ca-secret.ts';
import { testCertificateAuthority } from '../distributions/linkerd/test-support.ts';
import { publicTrustAnchorView, ReferencedSecrets, referencedSecret } from './referenced-secrets.ts';

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

const b64 = (text: string) => Buffer.from(text).toString('base64');
const dataOf = (object: KubeObject | undefined): Record<string, string> => (object as { data?: Record<string, string> } | undefined)?.data ?? {};
/** A user's Istio plug-in Secret with its issuer key, as the API server sends it. */
function userCacerts(): KubeObject {
  const files = caFiles(testCertificateAuthority());
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name: 'cacerts', namespace: 'istio-system', uid: 'u', resourceVersion: '7', labels: { team: 'pki' }, annotations: { note: 'x' }, managedFields: [{ manager: 'kubectl' }] },
    data: { ...Object.fromEntries(Object.entries(files).map(([key, pem]) => [key, b64(pem)])), 'tls.key': files['ca-key.pem'] ? b64(files['ca-key.pem']) : '' },
  } as KubeObject;
}

/** Whether anything of a private key is in `object` (decoded or not). */
function holdsKey(object: unknown): boolean {
  const text = JSON.stringify(object);
  const decoded = Object.values((object as { data?: Record<string, string> }).data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')).join('\n');
  return /PRIVATE KEY|ca-key\.pem|tls\.key/.test(text) || /PRIVATE KEY/.test(decoded);
}

test('publicTrustAnchorView: metadata, and of the data only the named entries holding certificates and nothing else', () => {
  const secret = userCacerts();
  const data = dataOf(secret);
  const rows: Array<[string, KubeObject, string[], Record<string, string> | undefined]> = [
    ['root-cert.pem named: kept', secret, ['root-cert.pem'], { 'root-cert.pem': data['root-cert.pem']! }],
    ['nothing named: metadata only', secret, [], undefined],
    ['a key entry named: dropped all the same', secret, ['ca-key.pem', 'tls.key', 'root-cert.pem'], { 'root-cert.pem': data['root-cert.pem']! }],
    ['a certificate entry with a key appended: dropped', { ...secret, data: { 'root-cert.pem': b64(`${caFiles(testCertificateAuthority())['root-cert.pem']}${caFiles(testCertificateAuthority())['ca-key.pem']}`) } } as KubeObject, ['root-cert.pem'], undefined],
    ['an entry that is no PEM: dropped', { ...secret, data: { 'root-cert.pem': b64('not a certificate') } } as KubeObject, ['root-cert.pem'], undefined],
    ['a named entry absent: nothing', { ...secret, data: undefined } as KubeObject, ['root-cert.pem'], undefined],
  ];
  for (const [name, object, keys, expected] of rows) {
    const view = publicTrustAnchorView(object, keys);
    assert.deepEqual(view, {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system', uid: 'u', resourceVersion: '7' }, ...(expected ? { data: expected } : {}),
    }, name);
    assert.equal(holdsKey(view), false, `${name}: no key in the view`);
  }
  assert.equal(holdsKey(secret), true, 'the check sees a key where there is one');
});

test('the cached user Secret holds its trust-anchor entries and no key, though the Secret has one', async () => {
  const watches = new SecretWatches();
  const { informer, emit } = installations();
  const secrets = new ReferencedSecrets({
    client: watches.client as unknown as KubeClient, installations: informer, enqueue: () => undefined,
    trustAnchorKeys: (mi, secret) => (secret.name !== 'cacerts' ? [] : mi.metadata.name === 'istio' ? ['root-cert.pem'] : mi.metadata.name === 'third' ? ['ca.crt'] : []),
  });
  emit('add', installation('istio', { namespace: 'istio-system', name: 'cacerts' }));
  const watch = await watches.watchOpened(1);
  const sent = userCacerts();
  watch.send('ADDED', sent);
  while (!secrets.get('istio-system', 'cacerts')) await new Promise((resolve) => setImmediate(resolve));
  const cached = secrets.get('istio-system', 'cacerts')!;
  assert.deepEqual(Object.keys(dataOf(cached)), ['root-cert.pem']);
  assert.equal(dataOf(cached)['root-cert.pem'], dataOf(sent)['root-cert.pem']);
  assert.equal(holdsKey(cached), false);
  assert.equal(cached.metadata.managedFields, undefined);

  // Another installation naming it, whose mesh reads no entry of it: the cache stays as it is.
  emit('add', installation('other', { namespace: 'istio-system', name: 'cacerts' }));
  assert.equal(watches.opened.length, 1, 'no new watch');
  // One whose mesh reads an entry not kept yet: a new cache keeping both (still no key).
  emit('add', installation('third', { namespace: 'istio-system', name: 'cacerts' }));
  const again = await watches.watchOpened(2);
  const withCaCrt = { ...sent, data: { ...dataOf(sent), 'ca.crt': dataOf(sent)['root-cert.pem']! } } as KubeObject;
  again.send('ADDED', withCaCrt);
  while (!dataOf(secrets.get('istio-system', 'cacerts'))['ca.crt']) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(Object.keys(dataOf(secrets.get('istio-system', 'cacerts'))).sort(), ['ca.crt', 'root-cert.pem']);
  assert.equal(holdsKey(secrets.get('istio-system', 'cacerts')), false);
  await secrets.stop();
  assert.equal(secrets.get('istio-system', 'cacerts'), undefined, 'stopped: nothing held');
});
