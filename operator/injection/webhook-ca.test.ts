import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describeCertificate, findIssuer, keyMatchesCertificate, splitCertificates } from '../pki/x509.ts';
import {
  bundleCovers, caBundleOf, createWebhookCa, decodeWebhookCa, encodeWebhookCa, planWebhookCa, takeWebhookCaStep, type WebhookCaSettings, type WebhookCaState,
} from './webhook-ca.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2026-11-27T12:00:00Z');
const settings: WebhookCaSettings = {
  validityMs: 24 * HOUR, renewBeforeMs: 8 * HOUR, settleMs: 5_000,
  dnsNames: ['meshwright-webhook.meshwright-system.svc', 'meshwright-webhook.meshwright-system.svc.cluster.local'], ipAddresses: [],
};

const fingerprint = (pem: string) => createHash('sha256').update(pem).digest('hex').slice(0, 12);

test('a new webhook CA: ECDSA P-256, the serving certificate issued by it for the Service names, not a CA, valid for the validity', async () => {
  const state = await createWebhookCa(settings, NOW);
  const ca = await describeCertificate(state.ca.certificatePem);
  const serving = await describeCertificate(state.serving.certificatePem);
  assert.equal(ca.isCA, true);
  assert.equal(ca.keyAlgorithm, 'ECDSAP256');
  assert.equal(serving.isCA, false);
  assert.equal(serving.keyAlgorithm, 'ECDSAP256');
  assert.deepEqual(serving.dnsNames, settings.dnsNames);
  assert.equal(serving.notAfter.getTime(), NOW + settings.validityMs);
  assert.ok(findIssuer(state.serving.certificatePem, [state.ca.certificatePem]));
  assert.ok(keyMatchesCertificate(state.serving.privateKeyPem, state.serving.certificatePem));
  assert.equal(caBundleOf(state), state.ca.certificatePem);
});

test('URL mode: the IP address goes into the serving certificate as an IP SAN', async () => {
  const state = await createWebhookCa({ ...settings, dnsNames: [], ipAddresses: ['127.0.0.1'] }, NOW);
  const serving = await describeCertificate(state.serving.certificatePem);
  assert.deepEqual(serving.ipAddresses, ['127.0.0.1']);
  assert.deepEqual(serving.dnsNames, []);
});

test('a full renewal on a fixed clock: next CA joins the bundle, servers switch only once it is published and settled, the old CA leaves after the switch settled', async () => {
  let state: WebhookCaState = await createWebhookCa(settings, NOW);
  const original = state;
  const plan = (now: number, publishedSince?: number) => planWebhookCa(state, settings, { now, publishedSince });

  // Steady: nothing until renewBefore ahead of the expiry.
  const steady = await plan(NOW + HOUR);
  assert.deepEqual(steady.step, { kind: 'none' });
  assert.equal(steady.nextCheckAt, NOW + settings.validityMs - settings.renewBeforeMs);

  // Step 1: a new CA joins the bundle; the serving certificate stays.
  const due = steady.nextCheckAt;
  assert.equal((await plan(due)).step.kind, 'addNext');
  state = await takeWebhookCaStep(state, (await plan(due)).step, settings, due);
  assert.equal(state.serving.certificatePem, original.serving.certificatePem, 'servers keep presenting the old certificate');
  assert.equal(splitCertificates(caBundleOf(state)).length, 2);
  assert.ok(bundleCovers(caBundleOf(state), original.ca.certificatePem), 'the old CA is still trusted');

  // Not published yet: no switch, however long it takes (until the serving certificate expires).
  const unpublished = await plan(due + HOUR);
  assert.deepEqual(unpublished.step, { kind: 'none' });
  assert.equal(unpublished.nextCheckAt, NOW + settings.validityMs);
  // Published, but not settled: wait for settleMs.
  const published = due + 2 * MINUTE;
  const settling = await plan(published + 1_000, published);
  assert.deepEqual(settling.step, { kind: 'none' });
  assert.equal(settling.nextCheckAt, published + settings.settleMs);

  // Step 2: switch.
  const switchAt = published + settings.settleMs;
  const switching = await plan(switchAt, published);
  assert.equal(switching.step.kind, 'switch');
  const before = state;
  state = await takeWebhookCaStep(state, switching.step, settings, switchAt);
  assert.equal(state.ca.certificatePem, before.next!.certificatePem);
  assert.ok(findIssuer(state.serving.certificatePem, [before.next!.certificatePem]), 'the new serving certificate comes from the new CA');
  assert.equal(state.previousCaPem, original.ca.certificatePem);
  assert.equal(state.renewals, 1);
  assert.equal(splitCertificates(caBundleOf(state)).length, 2, 'both CAs stay in the bundle right after the switch');

  // Step 3: the old CA leaves once the switch settled.
  assert.deepEqual((await plan(switchAt + 1_000)).step, { kind: 'none' });
  const drop = await plan(switchAt + settings.settleMs);
  assert.equal(drop.step.kind, 'dropPrevious');
  state = await takeWebhookCaStep(state, drop.step, settings, switchAt + settings.settleMs);
  assert.equal(caBundleOf(state), before.next!.certificatePem);
  assert.equal(fingerprint(caBundleOf(state)), fingerprint(state.ca.certificatePem));
  // And the cycle starts over from the new CA's expiry.
  const again = await plan(switchAt + settings.settleMs + 1);
  assert.deepEqual(again.step, { kind: 'none' });
  assert.equal(again.nextCheckAt, due + settings.validityMs - settings.renewBeforeMs);
});

test('planWebhookCa table: what each state needs at a fixed time', async () => {
  const base = await createWebhookCa(settings, NOW);
  const withNext = await takeWebhookCaStep(base, { kind: 'addNext', why: '' }, settings, NOW);
  const rows: Array<{ name: string; state: WebhookCaState; now: number; publishedSince?: number; step: string; settings?: WebhookCaSettings }> = [
    { name: 'fresh', state: base, now: NOW, step: 'none' },
    { name: 'inside the renewal window', state: base, now: NOW + 16 * HOUR, step: 'addNext' },
    { name: 'expired outright', state: base, now: NOW + 25 * HOUR, step: 'addNext' },
    { name: 'other Service names wanted', state: base, now: NOW, step: 'reissue', settings: { ...settings, dnsNames: ['other.ns.svc'] } },
    { name: 'an IP wanted as well', state: base, now: NOW, step: 'reissue', settings: { ...settings, ipAddresses: ['127.0.0.1'] } },
    { name: 'unreadable serving certificate', state: { ...base, serving: { ...base.serving, certificatePem: 'garbage' } }, now: NOW, step: 'reissue' },
    { name: 'next CA, never published', state: withNext, now: NOW + HOUR, step: 'none' },
    { name: 'next CA, published and settled', state: withNext, now: NOW + HOUR, publishedSince: NOW, step: 'switch' },
    { name: 'next CA, published a moment ago', state: withNext, now: NOW + 1_000, publishedSince: NOW, step: 'none' },
    { name: 'next CA unpublished, the old certificate expired: switch anyway', state: withNext, now: NOW + 24 * HOUR, step: 'switch' },
  ];
  for (const row of rows) {
    const plan = await planWebhookCa(row.state, row.settings ?? settings, { now: row.now, publishedSince: row.publishedSince });
    assert.equal(plan.step.kind, row.step, row.name);
  }
});

test('a reissue keeps the CA (the bundle does not change) and takes the new names', async () => {
  const state = await createWebhookCa(settings, NOW);
  const wider = { ...settings, ipAddresses: ['127.0.0.1'] };
  const reissued = await takeWebhookCaStep(state, { kind: 'reissue', why: '' }, wider, NOW + MINUTE);
  assert.equal(caBundleOf(reissued), caBundleOf(state));
  assert.deepEqual((await describeCertificate(reissued.serving.certificatePem)).ipAddresses, ['127.0.0.1']);
  assert.deepEqual((await planWebhookCa(reissued, wider, { now: NOW + MINUTE })).step, { kind: 'none' });
});

test('the serving certificate never outlives its CA', async () => {
  const state = await createWebhookCa(settings, NOW);
  const late = await takeWebhookCaStep(state, { kind: 'reissue', why: '' }, settings, NOW + 10 * HOUR);
  assert.equal((await describeCertificate(late.serving.certificatePem)).notAfter.getTime(), NOW + settings.validityMs);
});

test('encode/decode round-trips every phase; the Secret also carries the bundle; a Secret missing keys is refused naming them', async () => {
  const base = await createWebhookCa(settings, NOW);
  const withNext = await takeWebhookCaStep(base, { kind: 'addNext', why: '' }, settings, NOW + 1);
  const switched = await takeWebhookCaStep(withNext, { kind: 'switch', why: '' }, settings, NOW + 2);
  for (const state of [base, withNext, switched]) {
    const { data, annotations } = encodeWebhookCa(state);
    assert.deepEqual(decodeWebhookCa(data, annotations, 'ns/name'), state);
    assert.equal(Buffer.from(data['ca-bundle.crt']!, 'base64').toString(), caBundleOf(state));
  }
  const { data } = encodeWebhookCa(base);
  delete data['tls.key'];
  assert.throws(() => decodeWebhookCa(data, {}, 'ns/name'), (error: Error) => /lacks tls\.key/.test(error.message) && !error.message.includes('PRIVATE'));
});

test('bundleCovers: every wanted certificate must be present, whitespace aside', async () => {
  const a = await createWebhookCa(settings, NOW);
  const b = await createWebhookCa(settings, NOW);
  assert.equal(bundleCovers(a.ca.certificatePem + b.ca.certificatePem, a.ca.certificatePem + b.ca.certificatePem), true);
  assert.equal(bundleCovers(a.ca.certificatePem.replaceAll('\n', '\r\n'), a.ca.certificatePem), true);
  assert.equal(bundleCovers(a.ca.certificatePem, a.ca.certificatePem + b.ca.certificatePem), false);
  assert.equal(bundleCovers('', a.ca.certificatePem), false);
  assert.equal(bundleCovers(a.ca.certificatePem, ''), false);
});
