import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { OperatorMetrics } from './metrics.ts';
import { parseListenAddress, startOperatorHttpServer, type ReadinessStatus } from './http-server.ts';

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, type: response.headers.get('content-type') ?? undefined, body: await response.text() };
}

test('serves /metrics, /healthz and /readyz over real HTTP', async (t) => {
  const metrics = new OperatorMetrics();
  metrics.incDriftCorrection('ConfigMap');
  let readiness: ReadinessStatus = { ready: false, reasons: ['informer caches not synced', 'not the leader yet'] };
  const server = await startOperatorHttpServer({ address: '127.0.0.1:0', metrics, readiness: () => readiness });
  t.after(() => server.close());
  assert.ok(server.port > 0);

  const scraped = await get(server.port, '/metrics');
  assert.equal(scraped.status, 200);
  assert.match(scraped.type!, /^text\/plain; version=0\.0\.4/);
  assert.match(scraped.body, /^meshwright_drift_corrections_total\{kind="ConfigMap"\} 1$/m);
  assert.match(scraped.body, /^process_resident_memory_bytes \d+/m);

  const live = await get(server.port, '/healthz');
  assert.deepEqual([live.status, live.body], [200, 'ok\n']);

  const notReady = await get(server.port, '/readyz');
  assert.equal(notReady.status, 503);
  assert.equal(notReady.body, 'informer caches not synced\nnot the leader yet\n');

  readiness = { ready: true, reasons: [] };
  const ready = await get(server.port, '/readyz');
  assert.deepEqual([ready.status, ready.body], [200, 'ok\n']);

  const head = await get(server.port, '/readyz', 'HEAD');
  assert.deepEqual([head.status, head.body], [200, '']);
  assert.equal((await get(server.port, '/nope')).status, 404);
  assert.equal((await get(server.port, '/metrics', 'POST')).status, 405);
  assert.equal((await get(server.port, '/readyz?verbose=1')).status, 200);
});

test('a throwing readiness check answers 503 with the reason; /healthz stays 200', async (t) => {
  const server = await startOperatorHttpServer({
    address: '127.0.0.1:0',
    metrics: new OperatorMetrics({ processMetrics: false }),
    readiness: () => {
      throw new Error('cache lookup exploded');
    },
  });
  t.after(() => server.close());
  assert.deepEqual(await get(server.port, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n'], 'not ready is not dead: a restart would not help');
  assert.deepEqual(await get(server.port, '/readyz').then((r) => [r.status, r.body]), [503, 'readiness check failed: cache lookup exploded\n']);
});

test('close() ends keep-alive connections and frees the port', async () => {
  const server = await startOperatorHttpServer({ address: '127.0.0.1:0', metrics: new OperatorMetrics({ processMetrics: false }), readiness: () => ({ ready: true, reasons: [] }) });
  // A keep-alive connection left open would make a plain server.close() wait for its idle timeout.
  const agentResponse = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path: '/healthz', headers: { Connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    })
      .on('error', reject)
      .end();
  });
  assert.equal(agentResponse, 200);
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 1_000, 'close did not wait for idle connections');
  await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`));
  // The port is free again.
  await new Promise<void>((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(server.port, '127.0.0.1', () => probe.close(() => resolve()));
  });
});

test('a port in use is reported, not swallowed', async (t) => {
  const first = await startOperatorHttpServer({ address: '127.0.0.1:0', metrics: new OperatorMetrics({ processMetrics: false }), readiness: () => ({ ready: true, reasons: [] }) });
  t.after(() => first.close());
  await assert.rejects(
    startOperatorHttpServer({ address: `127.0.0.1:${first.port}`, metrics: new OperatorMetrics({ processMetrics: false }), readiness: () => ({ ready: true, reasons: [] }) }),
    /EADDRINUSE/,
  );
});

test('parseListenAddress accepts host:port, :port and [v6]:port', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListenAddress(':8080'), { host: '', port: 8080 });
  assert.deepEqual(parseListenAddress('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:9090'), { host: '::1', port: 9090 });
  assert.deepEqual(parseListenAddress('localhost:9090'), { host: 'localhost', port: 9090 });
  for (const bad of ['8080', 'host:', 'host:70000', 'a:b:c', '::1:80']) assert.throws(() => parseListenAddress(bad), /invalid listen address/, bad);
});
