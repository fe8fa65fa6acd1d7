/**
 * KubeClient.separate(): the same API server and credentials over pools of its own, so a request
 * on it (the leader lease's renewal) never waits behind the other client's requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterCredentials } from './credentials.ts';
import { KubeClient, REQUEST_CONNECTIONS } from './kube.ts';

test('a separate client is not queued behind a client whose every connection is busy', async () => {
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/api/v1/namespaces/busy/')) return void held.push(response);
    response.setHeader('Content-Type', 'application/json');
    // Discovery, which a client reads once before its first request of a group/version.
    if (request.url === '/api/v1') return void response.end(JSON.stringify({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true, verbs: ['get'] }] }));
    response.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lease', namespace: 'free' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const credentials: ClusterCredentials = {
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source: 'test', tls: async () => ({}), headers: async () => ({}),
  };
  const busy = new KubeClient(credentials, 'meshwright-test');
  const separate = busy.separate();
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap' };
  try {
    // Every connection of `busy` held by the server, and one more request waiting for one.
    const pending = Array.from({ length: REQUEST_CONNECTIONS + 1 }, (_, i) => busy.get(configMap, `held-${i}`, 'busy').catch(() => undefined));
    while (held.length < REQUEST_CONNECTIONS) await new Promise((resolve) => setTimeout(resolve, 5));
    const got = await Promise.race([
      separate.get(configMap, 'lease', 'free'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the separate client waited behind the busy one')), 5_000).unref()),
    ]);
    assert.equal(got.metadata.name, 'lease');
    assert.equal(held.length, REQUEST_CONNECTIONS, 'the busy client still waits for a connection');
    // The same client, by contrast, would queue: its next request is not answered while all are held.
    let answered = false;
    const queued = busy.get(configMap, 'lease', 'free').then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(answered, false, 'a request on the busy client waits behind the held ones');
    for (const response of held) response.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
    while (held.length < REQUEST_CONNECTIONS + 1 || held.some((r) => !r.writableEnded)) {
      for (const response of held) if (!response.writableEnded) response.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(pending);
    await queued;
  } finally {
    await busy.close();
    await separate.close();
    server.closeAllConnections();
    server.close();
  }
});
