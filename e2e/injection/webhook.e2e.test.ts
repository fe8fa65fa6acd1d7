/**
 * The operator's injection webhook on the real control plane, with the test mesh's small injector
 * (this tests the server and its wiring, not a mesh):
 * - the reconcile pass renders the injector's webhook configuration pointing at the operator's URL
 *   with the webhook CA's bundle; a pod created in an enrolled namespace is mutated by the API
 *   server calling the webhook; one in a namespace that is not enrolled is untouched;
 * - admissions are answered from caches: the operator sends no API request while they happen
 *   (the API server's audit log, by the operator's own ServiceAccount);
 * - an injector refusal reaches the client with its message;
 * - an invalid AdmissionReview posted straight to the server gets HTTP 400 and the server keeps serving;
 * - operator stopped: pods of namespaces that are not enrolled are still created, enrolled ones are
 *   refused with the webhook's error (fail closed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../operator/distributions/injection.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents } from '../support/audit.ts';
import { eventually } from '../support/kube.ts';
import { TEST_REFUSE_ANNOTATION, testInjectionWebhookName } from '../support/test-distribution.ts';
import { createWebhookCa } from '../../operator/injection/webhook-ca.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { freePort } from '../cluster/local-cluster.ts';
import { InjectionHarness, type RunningOperator } from './harness.ts';

const harness = new InjectionHarness();
let operator: RunningOperator;

before(async () => {
  await harness.setUp();
  operator = await harness.startOperator();
  await harness.install();
});

after(async () => {
  await harness.tearDown();
});

function postRaw(body: string, ca: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: harness.webhookPort, path: `/inject/${harness.name}`, method: 'POST', ca, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the webhook configuration points at the operator\'s URL under /inject/<installation>, trusting the webhook CA Secret\'s bundle; it fails closed', async () => {
  const configuration = (await harness.webhookConfiguration())!;
  const [webhook] = configuration.webhooks as Array<{ clientConfig: { url: string }; failurePolicy: string }>;
  assert.equal(webhook!.clientConfig.url, `https://127.0.0.1:${harness.webhookPort}/inject/${harness.name}`);
  assert.equal(webhook!.failurePolicy, 'Fail');
  const secret = await harness.caSecret();
  assert.equal(harness.caBundleOf(configuration), Buffer.from(secret.data['ca-bundle.crt']!, 'base64').toString('utf8'));
  assert.equal(configuration.metadata.labels?.['meshwright.dev/installation'], harness.name);
});

test('a pod in an enrolled namespace is injected through the API server, one elsewhere is untouched, with no API request from the operator while admitting', async () => {
  const first = await harness.warmUp();
  assert.equal(first.metadata.labels?.[INJECTED_BY_LABEL], harness.name);
  assert.equal(first.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], '1.1.0');
  // The test mesh publishes no trust anchors: the record hashes the empty bundle it was given.
  assert.equal(first.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256], trustBundleSha256(''));

  // The webhook serves before the installation is Ready; its Ready transition (and that Event) is a
  // pass's work, not admission's, so it is waited for before the window opens.
  await eventually('the installation\'s Ready Event', async () => {
    const { items } = await harness.admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
    return items.some((e) => e.reason === 'Ready' && e.regarding?.name === harness.name);
  }, 60_000, 100);
  const before = InjectionHarness.counter(await operator.metrics(), 'meshwright_webhook_admissions_total', { installation: harness.name, outcome: 'injected' });
  const since = new Date();
  const count = 8;
  for (let i = 0; i < count; i++) {
    const result = await harness.createPod(harness.enrolled);
    assert.ok('created' in result, `refused: ${'refused' in result ? result.refused : ''}`);
    assert.ok(InjectionHarness.injected(result.created), 'every pod of the enrolled namespace carries the proxy');
  }
  const plain = await harness.createPod(harness.plain);
  assert.ok('created' in plain);
  assert.equal(InjectionHarness.injected(plain.created), false);
  assert.equal(plain.created.metadata.labels?.[INJECTED_BY_LABEL], undefined);
  const until = new Date();

  const text = await operator.metrics();
  assert.equal(InjectionHarness.counter(text, 'meshwright_webhook_admissions_total', { installation: harness.name, outcome: 'injected' }) - before, count, 'each pod was admitted once by this operator');
  assert.ok(InjectionHarness.counter(text, 'meshwright_webhook_admission_duration_seconds_count', { installation: harness.name }) >= count + 1);

  // Not the admission path: lease renewals (leader election), and the status write of the pass that
  // injected pods wake (status.dataPlane counts them).
  const requests = auditEvents(since, (event) => event.user?.username === harness.username && event.verb !== 'watch'
    && Date.parse(event.stageTimestamp) <= until.getTime() + 200
    && event.objectRef?.resource !== 'leases'
    && !(event.objectRef?.resource === 'meshinstallations' && event.objectRef.subresource === 'status'));
  // And the audit log sees the operator at all: a lease renewal since the pods began is there (renewals
  // come every 2 s and the pods may take less, so the next one is waited for).
  await eventually('the audit log records this operator\'s lease renewal', async () => auditEvents(since, (event) => event.user?.username === harness.username && event.objectRef?.resource === 'leases').length > 0, 10_000, 100);
  assert.deepEqual(requests.map((e) => `${e.verb} ${e.requestURI}`), [], 'the operator sent no API request while admitting pods');
});

test('a pod the injector refuses is refused by the API server with the injector\'s message', async () => {
  const result = await harness.createPod(harness.enrolled, { [TEST_REFUSE_ANNOTATION]: 'please' });
  assert.ok('refused' in result, 'the pod was created');
  assert.match(result.refused, /inject\.test-mesh\.meshwright\.dev/);
  assert.match(result.refused, /the test mesh refuses this pod: test-mesh\.meshwright\.dev\/refuse=please/);
  const text = await operator.metrics();
  assert.equal(InjectionHarness.counter(text, 'meshwright_webhook_admissions_total', { installation: harness.name, outcome: 'refused' }), 1);
});

test('an invalid AdmissionReview posted to the server gets HTTP 400 with the reason; the server keeps serving', async () => {
  const ca = Buffer.from((await harness.caSecret()).data['ca-bundle.crt']!, 'base64').toString('utf8');
  const cases: Array<[string, RegExp]> = [
    ['{"apiVersion":', /not JSON/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), /expected apiVersion admission\.k8s\.io\/v1/],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /has no request/],
  ];
  for (const [body, message] of cases) {
    const answer = await postRaw(body, ca);
    assert.equal(answer.status, 400);
    assert.match(answer.text, message);
  }
  const notAPod = await postRaw(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-7', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: { metadata: {}, spec: {} } } }), ca);
  assert.equal(notAPod.status, 200);
  const review = JSON.parse(notAPod.text) as { response: { uid: string; allowed: boolean; status: { code: number; message: string } } };
  assert.equal(review.response.uid, 'u-7');
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status.message, /admits Pods only/);
  assert.equal(operator.child.exitCode, null, 'the operator is still running');
  const result = await harness.createPod(harness.enrolled);
  assert.ok('created' in result && InjectionHarness.injected(result.created), 'pods are still injected');
  assert.equal(InjectionHarness.counter(await operator.metrics(), 'meshwright_webhook_admissions_total', { installation: harness.name, outcome: 'invalid' }), 4);
});

test('the webhook CA Secret deleted: written back with the same CA, the webhook configuration keeps its bundle, pods are still injected', async () => {
  const before = await harness.caSecret();
  const bundleBefore = harness.caBundleOf((await harness.webhookConfiguration())!);
  await harness.admin.delete({ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-webhook-ca', harness.operatorNamespace);
  const after = await eventually('the Secret written back', async () => {
    const secret = await harness.caSecret().catch(() => undefined);
    return secret && secret.metadata.uid !== before.metadata.uid ? secret : undefined;
  }, 30_000);
  assert.equal(after.data['ca.crt'], before.data['ca.crt'], 'the same CA');
  assert.equal(after.data['tls.crt'], before.data['tls.crt'], 'the same serving certificate');
  // The step is counted once the operator has the write's response, which may come after the test's GET sees the Secret.
  await eventually('the restore counted once', async () => InjectionHarness.counter(await operator.metrics(), 'meshwright_webhook_ca_steps_total', { step: 'restore' }) === 1, 10_000, 50);
  assert.equal(harness.caBundleOf((await harness.webhookConfiguration())!), bundleBefore);
  const result = await harness.createPod(harness.enrolled);
  assert.ok('created' in result && InjectionHarness.injected(result.created), 'pods are still injected');
});

test('the operator owns caBundle: applied under its field manager, and another writer\'s value is put back from the CA Secret', async () => {
  const type = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' };
  const name = testInjectionWebhookName(harness.name);
  const current = (await harness.webhookConfiguration())!;
  const wanted = harness.caBundleOf(current);
  const fields = await harness.admin.request<{ metadata: { managedFields: Array<{ manager: string; fieldsV1: unknown }> } }>(HttpMethod.GET, `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`);
  const owner = fields.metadata.managedFields.find((entry) => JSON.stringify(entry.fieldsV1).includes('"f:caBundle"'));
  assert.equal(owner?.manager, 'meshwright', 'caBundle is owned by the operator\'s field manager');
  const stranger = (await createWebhookCa({ validityMs: 3_600_000, renewBeforeMs: 600_000, settleMs: 1_000, dnsNames: [], ipAddresses: ['127.0.0.1'] }, Date.now())).ca.certificatePem;
  const patched = await harness.admin.patch(type, name, undefined, [{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from(stranger).toString('base64') }], 'json');
  assert.equal(harness.caBundleOf(patched), stranger, 'the other writer\'s value was stored');
  await eventually('caBundle put back', async () => harness.caBundleOf((await harness.webhookConfiguration())!) === wanted, 30_000);
  const result = await eventually('a pod injected again', async () => {
    const created = await harness.createPod(harness.enrolled);
    return 'created' in created && InjectionHarness.injected(created.created) ? created : undefined;
  }, 30_000, 300);
  assert.ok(result);
});

test('a Secret of the webhook CA\'s name that meshwright did not create is never written: the operator says so and stops', async () => {
  const name = `foreign-${harness.run}`;
  await harness.admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: harness.operatorNamespace }, type: 'Opaque', data: { note: Buffer.from('mine').toString('base64') } } as never);
  const other = await harness.startOperator({ MESHWRIGHT_WEBHOOK_SECRET: name }, [`--webhook-port=${await freePort()}`, '--identity=foreign-check']);
  const code = await new Promise<number | null>((resolve) => (other.child.exitCode !== null ? resolve(other.child.exitCode) : other.child.once('exit', resolve)));
  assert.notEqual(code, 0);
  await eventually('the reason in the log', async () => /was not created by meshwright .*delete it, or set MESHWRIGHT_WEBHOOK_SECRET/.test(readFileSync(other.logFile, 'utf8')), 5_000);
  const secret = await harness.admin.get({ apiVersion: 'v1', kind: 'Secret' }, name, harness.operatorNamespace);
  assert.deepEqual(secret.data, { note: Buffer.from('mine').toString('base64') }, 'untouched');
});

test('a webhook CA Secret the operator cannot reach (a namespace its RBAC does not cover) keeps /readyz not ready with that reason, and is retried rather than fatal', async () => {
  const other = await harness.startOperator({}, [`--webhook-port=${await freePort()}`, '--identity=no-namespace', `--leader-election-namespace=missing-${harness.run}`]);
  const reasons = await eventually('/readyz to name the webhook', async () => {
    const response = await fetch(`http://127.0.0.1:${other.metricsPort}/readyz`);
    const text = await response.text();
    return response.status === 503 && /the injection webhook is not serving yet/.test(text) ? text : undefined;
  }, 20_000);
  assert.match(reasons, /injection webhook is not serving yet/);
  await eventually('the reason logged', async () => /(watching the webhook CA Secret failed|cannot create the webhook CA Secret); retrying/.test(readFileSync(other.logFile, 'utf8')), 10_000);
  assert.equal(other.child.exitCode, null, 'the operator keeps running and retrying');
  await other.stop();
});

test('operator stopped: pods of a namespace that is not enrolled are still created, enrolled ones are refused with the webhook\'s error', async () => {
  await operator.stop();
  const plain = await harness.createPod(harness.plain);
  assert.ok('created' in plain, `refused: ${'refused' in plain ? plain.refused : ''}`);
  const enrolled = await harness.createPod(harness.enrolled);
  assert.ok('refused' in enrolled, 'a pod of the enrolled namespace was created without its proxy');
  assert.match(enrolled.refused, /failed calling webhook "inject\.test-mesh\.meshwright\.dev"/);
  assert.match(enrolled.refused, /connection refused/);
});
