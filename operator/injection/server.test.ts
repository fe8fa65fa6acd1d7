import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import { createLogger } from '../runtime/logger.ts';
import { certificateFingerprints } from '../pki/x509.ts';
import type { AdmissionSources } from './admission.ts';
import { InjectionMetrics } from './metrics.ts';
import { startWebhookServer } from './server.ts';
import { createWebhookCa, type WebhookCaSettings } from './webhook-ca.ts';

const NOW = Date.now();
const settings: WebhookCaSettings = { validityMs: 3_600_000, renewBeforeMs: 600_000, settleMs: 1_000, dnsNames: [], ipAddresses: ['127.0.0.1'] };
const log = createLogger({ level: 'silent', name: 'test' });
const noSources: AdmissionSources = { installation: () => undefined, namespace: () => undefined, distribution: () => undefined, owned: () => undefined };

function post(port: number, ca: string, path: string, body: string, method = 'POST'): Promise<{ status: number; body: string; peerFingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), peerFingerprint: peer.fingerprint256.toLowerCase() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the server answers over TLS with the CA\'s certificate, survives invalid reviews, counts them, and switches certificates without a restart', async () => {
  const first = await createWebhookCa(settings, NOW);
  const second = await createWebhookCa(settings, NOW);
  const registry = new Registry();
  const server = await startWebhookServer({ address: '127.0.0.1:0', certificate: first.serving, sources: noSources, log, metrics: new InjectionMetrics(registry) });
  try {
    const invalid = await post(server.port, first.ca.certificatePem, '/inject/mesh', 'not json');
    assert.equal(invalid.status, 400);
    assert.match(invalid.body, /not JSON/);
    assert.equal(invalid.peerFingerprint, certificateFingerprints(first.serving.certificatePem)[0]);

    const unknown = await post(server.port, first.ca.certificatePem, '/inject/mesh', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', namespace: 'ns', object: { metadata: {}, spec: { containers: [] } } } }));
    assert.equal(unknown.status, 200);
    assert.match(unknown.body, /"allowed":false/);
    assert.match(unknown.body, /not known to this operator/);

    assert.equal((await post(server.port, first.ca.certificatePem, '/metrics', '')).status, 404);
    assert.equal((await post(server.port, first.ca.certificatePem, '/inject/mesh', '', 'GET')).status, 405);

    server.setCertificate(second.serving);
    // The old CA no longer verifies the new certificate: the switch is real.
    await assert.rejects(post(server.port, first.ca.certificatePem, '/inject/mesh', '{}'), /self-signed|unable to verify|certificate/i);
    const after = await post(server.port, second.ca.certificatePem, '/inject/mesh', '{}');
    assert.equal(after.status, 400);
    assert.equal(after.peerFingerprint, certificateFingerprints(second.serving.certificatePem)[0]);

    const text = await registry.metrics();
    assert.match(text, /meshwright_webhook_admissions_total\{installation="mesh",outcome="invalid"\} 2/);
    assert.match(text, /meshwright_webhook_admissions_total\{installation="mesh",outcome="denied"\} 1/);
    assert.match(text, /meshwright_webhook_admission_duration_seconds_count\{installation="mesh"\} 3/);
  } finally {
    await server.close();
  }
});

test('a namespace the cache has not seen yet is waited for briefly instead of denied; one that never comes is denied after the waits', async () => {
  const { ca, serving } = await createWebhookCa(settings, NOW);
  let lookups = 0;
  const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: { mesh: 'istio', version: '1.0.0', namespace: 'mesh-system' } };
  const lagging: AdmissionSources = {
    ...noSources,
    installation: (name) => (name === 'mesh' ? installation : undefined),
    // Appears on the third look, as a namespace created a moment before its first pod.
    namespace: (name) => (name === 'late' && ++lookups >= 3 ? { name, labels: {}, annotations: {} } : undefined),
  };
  const server = await startWebhookServer({ address: '127.0.0.1:0', certificate: serving, sources: lagging, log });
  try {
    const review = (namespace: string) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', namespace, operation: 'CREATE', object: { metadata: {}, spec: { containers: [] } } } });
    const late = await post(server.port, ca.certificatePem, '/inject/mesh', review('late'));
    // The namespace was found: the answer goes on to the next thing the test sources lack (no distribution).
    assert.match(late.body, /has no sidecar injector/);
    assert.equal(lookups, 3);
    const started = Date.now();
    const never = await post(server.port, ca.certificatePem, '/inject/mesh', review('never'));
    assert.match((JSON.parse(never.body) as { response: { status: { message: string } } }).response.status.message, /namespace "never" is not in the operator's cache yet/);
    assert.ok(Date.now() - started >= 700, 'the waits were taken before denying');
  } finally {
    await server.close();
  }
});

test('a port in use is said plainly, naming the flag', async () => {
  const { serving } = await createWebhookCa(settings, NOW);
  const first = await startWebhookServer({ address: '127.0.0.1:0', certificate: serving, sources: noSources, log });
  try {
    await assert.rejects(startWebhookServer({ address: `127.0.0.1:${first.port}`, certificate: serving, sources: noSources, log }), /cannot listen on 127\.0\.0\.1:\d+ \(--webhook-port\): .*EADDRINUSE.*choose a free port, or 0/);
  } finally {
    await first.close();
  }
});

test('close() lets an admission in flight finish, then stops listening', async () => {
  const { ca, serving } = await createWebhookCa(settings, NOW);
  let asked = 0;
  // The namespace lookup is the slow part here: the first answer waits (cache lag), then it appears.
  const slow: AdmissionSources = {
    ...noSources,
    installation: () => ({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: { mesh: 'istio', version: '1.0.0', namespace: 'm' } }),
    namespace: (name) => (++asked > 1 ? { name, labels: {}, annotations: {} } : undefined),
  };
  const server = await startWebhookServer({ address: '127.0.0.1:0', certificate: serving, sources: slow, log });
  const review = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', namespace: 'ns', operation: 'CREATE', object: { metadata: {}, spec: { containers: [] } } } });
  const inFlight = post(server.port, ca.certificatePem, '/inject/mesh', review);
  // Wait until the request is being handled (its first namespace lookup happened).
  while (asked === 0) await new Promise((resolve) => setImmediate(resolve));
  const closed = server.close();
  const answer = await inFlight;
  assert.equal(answer.status, 200, 'the admission in flight was answered');
  assert.match(answer.body, /has no sidecar injector/);
  await closed;
  await assert.rejects(post(server.port, ca.certificatePem, '/inject/mesh', review), /ECONNREFUSED/);
});

test('an idle keep-alive connection outlives Node\'s 5 s default, so the API server, not the webhook, closes it (no reset on a reused connection)', async () => {
  const { ca, serving } = await createWebhookCa(settings, NOW);
  const server = await startWebhookServer({ address: '127.0.0.1:0', certificate: serving, sources: noSources, log });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.certificatePem });
  const once = () => new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/inject/mesh', method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end('{}');
  });
  try {
    assert.equal((await once()).status, 400);
    let closedByServer = false;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.once('close', () => (closedByServer = true));
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    assert.equal(closedByServer, false, 'the idle connection is still open after 6 s');
    const second = await once();
    assert.equal(second.status, 400);
    assert.equal(second.reused, true, 'the second request went over the first connection');
  } finally {
    agent.destroy();
    await server.close();
  }
});
