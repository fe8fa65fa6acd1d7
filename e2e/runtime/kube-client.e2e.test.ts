/**
 * The operator's client against the real API server: watches hold their connections for minutes,
 * so they must never take the connections requests need. Before watches had a pool of their own,
 * an Istio operator and a test mesh's sharing one client held 32 watches, and every request of a
 * pass waited until a watch timed out (passes stalled for five minutes in the full test suite).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpMethod } from '@kubernetes/client-node';
import { KubeClient, REQUEST_CONNECTIONS } from '../../operator/runtime/kube.ts';
import { testKubeConfig } from '../support/kube.ts';

test(`with more open watches than the request pool's ${REQUEST_CONNECTIONS} connections, a request is still answered at once`, async () => {
  const client = new KubeClient(testKubeConfig(), 'meshwright-e2e-watches');
  const stop = new AbortController();
  try {
    const watches = REQUEST_CONNECTIONS + 8;
    // Each watch stays open (the API server holds it for 120 s): it keeps its connection busy. They
    // are opened as informers open them, all at once, and a request follows while they are.
    const opened = Promise.all(Array.from({ length: watches }, () => client.stream('/api/v1/namespaces?watch=true&timeoutSeconds=120', stop.signal)));
    const started = Date.now();
    const answered = await Promise.race([
      client.request<{ metadata: { name: string } }>(HttpMethod.GET, '/api/v1/namespaces/default').then((ns) => ns.metadata.name),
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5_000)),
    ]);
    assert.equal(answered, 'default', `a GET while ${watches} watches are opened (${Date.now() - started} ms)`);
    assert.equal((await opened).length, watches, 'and every watch is open');
  } finally {
    stop.abort();
    await client.close().catch(() => undefined);
  }
});
