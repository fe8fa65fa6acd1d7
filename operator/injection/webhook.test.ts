import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWebhookCa } from './webhook-ca.ts';
import { bundlePublished, servingNames, webhookSettingsFrom, WEBHOOK_DEFAULTS, type WebhookTarget } from './webhook.ts';

test('webhook settings: defaults, flags over environment, durations from the environment', () => {
  const defaults = webhookSettingsFrom({}, {});
  assert.equal(defaults.port, 9443);
  assert.equal(defaults.target, undefined);
  assert.equal(defaults.secretName, 'meshwright-webhook-ca');
  assert.equal(defaults.validityMs, WEBHOOK_DEFAULTS.validityMs);
  assert.equal(defaults.renewBeforeMs, WEBHOOK_DEFAULTS.renewBeforeMs);

  const fromEnv = webhookSettingsFrom({}, { MESHWRIGHT_WEBHOOK_PORT: '0', MESHWRIGHT_WEBHOOK_URL: 'https://127.0.0.1:9555/', MESHWRIGHT_WEBHOOK_CERT_VALIDITY: '20s', MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE: '10s', MESHWRIGHT_WEBHOOK_CA_SETTLE: '2s' });
  assert.equal(fromEnv.port, 0);
  assert.deepEqual(fromEnv.target, { url: 'https://127.0.0.1:9555' });
  assert.equal(fromEnv.validityMs, 20_000);
  assert.equal(fromEnv.renewBeforeMs, 10_000);
  assert.equal(fromEnv.settleMs, 2_000);

  const flags = webhookSettingsFrom({ port: '8443', service: 'meshwright-system/meshwright-operator-webhook:443' }, { MESHWRIGHT_WEBHOOK_PORT: '1' });
  assert.equal(flags.port, 8443);
  assert.deepEqual(flags.target, { service: { namespace: 'meshwright-system', name: 'meshwright-operator-webhook', port: 443 } });
});

const bad: Array<[string, Parameters<typeof webhookSettingsFrom>[0], NodeJS.ProcessEnv, RegExp]> = [
  ['a port out of range', { port: '70000' }, {}, /--webhook-port must be a port from 0/],
  ['a port that is no number', { port: 'https' }, {}, /--webhook-port/],
  ['a plain-http URL', { url: 'http://127.0.0.1:9443' }, {}, /must use https/],
  ['a URL with a path', { url: 'https://127.0.0.1:9443/inject' }, {}, /without path/],
  ['not a URL', { url: '127.0.0.1:9443' }, {}, /must be an https URL/],
  ['a Service without a port', { service: 'ns/name' }, {}, /namespace\/name:port/],
  ['both URL and Service', { url: 'https://a:1', service: 'ns/name:443' }, {}, /both given/],
  ['renew-before longer than validity', {}, { MESHWRIGHT_WEBHOOK_CERT_VALIDITY: '10s', MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE: '20s' }, /must be shorter than MESHWRIGHT_WEBHOOK_CERT_VALIDITY/],
  ['renew-before within two settles', {}, { MESHWRIGHT_WEBHOOK_CERT_VALIDITY: '60s', MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE: '8s', MESHWRIGHT_WEBHOOK_CA_SETTLE: '5s' }, /longer than two MESHWRIGHT_WEBHOOK_CA_SETTLE/],
  ['a validity that is no duration', {}, { MESHWRIGHT_WEBHOOK_CERT_VALIDITY: '1 year' }, /MESHWRIGHT_WEBHOOK_CERT_VALIDITY must be a duration/],
  ['a Secret name that is not one', {}, { MESHWRIGHT_WEBHOOK_SECRET: 'Webhook_CA' }, /MESHWRIGHT_WEBHOOK_SECRET must be a Secret name/],
];

for (const [name, values, env, message] of bad) {
  test(`webhook settings refuse ${name}, naming the setting`, () => {
    assert.throws(() => webhookSettingsFrom(values, env), message);
  });
}

test('serving names: the Service\'s two DNS names, a URL\'s IP as an IP SAN, its host name as a DNS SAN', () => {
  assert.deepEqual(servingNames({ service: { namespace: 'ns', name: 'hook', port: 443 } }), { dnsNames: ['hook.ns.svc', 'hook.ns.svc.cluster.local'], ipAddresses: [] });
  assert.deepEqual(servingNames({ url: 'https://127.0.0.1:9443' }), { dnsNames: [], ipAddresses: ['127.0.0.1'] });
  assert.deepEqual(servingNames({ url: 'https://[::1]:9443' }), { dnsNames: [], ipAddresses: ['::1'] });
  assert.deepEqual(servingNames({ url: 'https://webhook.example:9443' }), { dnsNames: ['webhook.example'], ipAddresses: [] });
});

test('bundlePublished: every webhook of a managed installation pointing at us must carry the whole bundle', async () => {
  const settings = { validityMs: 3_600_000, renewBeforeMs: 600_000, settleMs: 1_000, dnsNames: [], ipAddresses: ['127.0.0.1'] };
  const [a, b] = await Promise.all([createWebhookCa(settings, 0), createWebhookCa(settings, 0)]);
  const both = a.ca.certificatePem + b.ca.certificatePem;
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const target = { url: 'https://127.0.0.1:9443' };
  const configuration = (owner: string | undefined, ...webhooks: Array<{ url?: string; service?: Record<string, unknown>; caBundle?: string }>) => ({
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration',
    metadata: { name: `c-${owner}`, labels: owner ? { 'meshwright.dev/installation': owner } : {} },
    webhooks: webhooks.map((clientConfig, i) => ({ name: `w${i}.example`, clientConfig })),
  });
  const managed = (name: string) => name === 'mesh';
  const rows: Array<[string, ReturnType<typeof configuration>[], WebhookTarget, boolean]> = [
    ['no configuration at all', [], target, true],
    ['ours carries both CAs', [configuration('mesh', { url: 'https://127.0.0.1:9443/inject/mesh', caBundle: b64(both) })], target, true],
    ['ours carries only the old CA', [configuration('mesh', { url: 'https://127.0.0.1:9443/inject/mesh', caBundle: b64(a.ca.certificatePem) })], target, false],
    ['one of two webhooks lags', [configuration('mesh', { url: 'https://127.0.0.1:9443/inject/mesh', caBundle: b64(both) }, { url: 'https://127.0.0.1:9443/inject/mesh/canary', caBundle: b64(a.ca.certificatePem) })], target, false],
    ['no caBundle yet', [configuration('mesh', { url: 'https://127.0.0.1:9443/inject/mesh' })], target, false],
    ['an installation another operator manages', [configuration('other', { url: 'https://127.0.0.1:9443/inject/other', caBundle: b64(a.ca.certificatePem) })], target, true],
    ['not ours at all (no installation label)', [configuration(undefined, { url: 'https://127.0.0.1:9443/inject/x' })], target, true],
    ['pointing at another server', [configuration('mesh', { url: 'https://127.0.0.1:9444/inject/mesh', caBundle: b64(a.ca.certificatePem) })], target, true],
    ['service mode, ours lags', [configuration('mesh', { service: { namespace: 'ns', name: 'hook', port: 443, path: '/inject/mesh' }, caBundle: b64(a.ca.certificatePem) })], { service: { namespace: 'ns', name: 'hook', port: 443 } }, false],
    ['service mode, another port', [configuration('mesh', { service: { namespace: 'ns', name: 'hook', port: 8443 }, caBundle: b64(a.ca.certificatePem) })], { service: { namespace: 'ns', name: 'hook', port: 443 } }, true],
  ];
  for (const [name, configurations, where, expected] of rows) {
    assert.equal(bundlePublished(configurations as never, managed, where, both), expected, name);
  }
});
