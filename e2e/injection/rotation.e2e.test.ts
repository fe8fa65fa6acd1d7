/**
 * The webhook's serving certificate is renewed while pods are being created, and no admission
 * fails: with a 14 s validity renewed 7 s ahead (a 3 s settle), the operator goes through several
 * renewals (new CA joins the bundle → servers switch once it is published → old CA leaves) while
 * pods are created one after another in an enrolled namespace; every one is created and injected.
 * The renewals are read from the CA Secret and the operator's metrics, and seen on the wire (the
 * certificate the server presents changes). The order is observed from outside too: sampling the
 * webhook configuration and the Secret, every CA that came to serve was in the published bundle at
 * least half a settle before it did, and the bundle never lacked the CA of the certificate served.
 *
 * (Zero refusals alone would not show the order: the API server reuses its TLS connections, so a
 * one-step rotation — new CA and certificate at once — also passed with none refused when tried.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { WEBHOOK_CA_ANNOTATIONS } from '../../operator/injection/webhook-ca.ts';
import { splitCertificates } from '../../operator/pki/x509.ts';
import { InjectionHarness, type RunningOperator } from './harness.ts';

const harness = new InjectionHarness();
/** How long the operator lets a published bundle, and a switch, settle. */
const SETTLE_MS = 3_000;
let operator: RunningOperator;

before(async () => {
  await harness.setUp();
  operator = await harness.startOperator({ MESHWRIGHT_WEBHOOK_CERT_VALIDITY: '14s', MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE: '7s', MESHWRIGHT_WEBHOOK_CA_SETTLE: `${SETTLE_MS / 1000}s` });
  await harness.install();
  await harness.warmUp();
});

after(async () => {
  await harness.tearDown();
});

/** SHA-256 fingerprint of the certificate the webhook server presents right now. */
function presentedCertificate(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: harness.webhookPort, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

async function renewals(): Promise<{ renewals: number; previous: boolean }> {
  const secret = await harness.caSecret();
  return { renewals: Number(secret.metadata.annotations?.[WEBHOOK_CA_ANNOTATIONS.renewals] ?? 0), previous: 'previous-ca.crt' in secret.data };
}

interface Sample {
  at: number;
  /** The published bundle's certificates (whitespace removed). */
  bundle: Set<string>;
  /** The CA that signed the Secret's serving certificate (whitespace removed). */
  servingCa: string;
}

const squash = (pem: string) => pem.replace(/\s/g, '');

/** Samples the webhook configuration, then the Secret, until `done` resolves. */
async function sample(samples: Sample[], done: { stop: boolean }): Promise<void> {
  while (!done.stop) {
    const configuration = await harness.webhookConfiguration();
    const secret = await harness.caSecret();
    if (configuration) {
      samples.push({
        at: Date.now(),
        bundle: new Set(splitCertificates(harness.caBundleOf(configuration)).map(squash)),
        servingCa: squash(Buffer.from(secret.data['ca.crt']!, 'base64').toString('utf8')),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('the serving certificate is renewed at least twice while pods are created continuously, and none is refused', async () => {
  const samples: Sample[] = [];
  const sampling = { stop: false };
  const sampler = sample(samples, sampling);
  const start = await renewals();
  const seen = new Set<string>([await presentedCertificate()]);
  let created = 0;
  const createdAt: number[] = [];
  let injected = 0;
  const refusals: string[] = [];
  const deadline = Date.now() + 60_000;
  // Until two renewals completed (the second old CA left the bundle), or the deadline.
  for (;;) {
    const result = await harness.createPod(harness.enrolled);
    if ('created' in result) {
      created++;
      createdAt.push(Date.now());
      if (InjectionHarness.injected(result.created)) injected++;
    } else {
      refusals.push(result.refused);
    }
    seen.add(await presentedCertificate());
    const now = await renewals();
    if ((now.renewals - start.renewals >= 2 && !now.previous) || Date.now() > deadline) break;
  }
  sampling.stop = true;
  await sampler;
  const end = await renewals();
  const text = await operator.metrics();
  const switches = InjectionHarness.counter(text, 'meshwright_webhook_ca_steps_total', { step: 'switch' });
  const added = InjectionHarness.counter(text, 'meshwright_webhook_ca_steps_total', { step: 'addNext' });
  const dropped = InjectionHarness.counter(text, 'meshwright_webhook_ca_steps_total', { step: 'dropPrevious' });
  process.stderr.write(`[rotation] ${created} pods created (${injected} injected), ${refusals.length} refused; renewals ${start.renewals} → ${end.renewals}; steps addNext=${added} switch=${switches} dropPrevious=${dropped}; ${seen.size} distinct serving certificates seen\n`);
  assert.deepEqual(refusals, [], 'no pod was refused during the renewals');
  // The order, as the cluster showed it.
  const lacking = samples.filter((s) => !s.bundle.has(s.servingCa));
  assert.equal(lacking.length, 0, `${lacking.length} of ${samples.length} samples: the published bundle lacked the CA of the certificate being served`);
  const cas = [...new Set(samples.map((s) => s.servingCa))];
  assert.ok(cas.length >= 3, `${cas.length} serving CAs sampled`);
  for (const ca of cas.slice(1)) {
    const published = samples.find((s) => s.bundle.has(ca))!.at;
    const serving = samples.find((s) => s.servingCa === ca)!.at;
    assert.ok(serving - published >= SETTLE_MS / 2, `a new CA served ${serving - published} ms after it was first seen published (the settle is ${SETTLE_MS} ms)`);
    // And pods were being created right when it started serving: the load spanned each switch.
    assert.ok(createdAt.some((at) => Math.abs(at - serving) <= 3_000), `no pod was created within 3 s of the switch to a new CA`);
  }
  assert.ok(end.renewals - start.renewals >= 2, `renewals during the load: ${end.renewals - start.renewals}`);
  assert.ok(switches >= 2 && added >= 2 && dropped >= 2, `steps: addNext=${added} switch=${switches} dropPrevious=${dropped}`);
  assert.ok(seen.size >= 3, `the server presented ${seen.size} distinct certificates`);
  assert.equal(injected, created, 'every pod created during the renewals carries the proxy');
});
