/**
 * Every replica serves the injection webhook, not only the leader: two operator processes with
 * leader election share the webhook CA Secret; the API server is pointed (by URL) at the one that
 * is *not* leading, and pods are injected by it — its admission counter moves, the leader's does
 * not, and it reads the same CA as the leader (one Secret, created once). Then the installation is
 * deleted: its webhook configuration goes with it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { certificateFingerprints } from '../../operator/pki/x509.ts';
import { eventually } from '../support/kube.ts';
import { freePort } from '../cluster/local-cluster.ts';
import { InjectionHarness, type RunningOperator } from './harness.ts';

const harness = new InjectionHarness();
let leader: RunningOperator;
let standby: RunningOperator;
let leaderPort = 0;

const leading = async (operator: RunningOperator) => InjectionHarness.counter(await operator.metrics(), 'meshwright_leader');

function presentedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256.toLowerCase();
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

before(async () => {
  await harness.setUp();
  // The leader serves on a port of its own; the API server calls harness.webhookPort, the standby's.
  leaderPort = await freePort();
  leader = await harness.startOperator({}, ['--identity=replica-a', `--webhook-port=${leaderPort}`]);
  await eventually('replica-a to lead', async () => (await leading(leader)) === 1, 30_000);
  standby = await harness.startOperator({}, ['--identity=replica-b']);
  await harness.install();
});

after(async () => {
  await harness.tearDown();
});

test('the standby replica serves admissions: pods are injected through it while the other replica leads', async () => {
  await harness.warmUp();
  for (let i = 0; i < 3; i++) {
    const result = await harness.createPod(harness.enrolled);
    assert.ok('created' in result && InjectionHarness.injected(result.created));
  }
  assert.equal(await leading(standby), 0, 'replica-b is not the leader');
  assert.equal(await leading(leader), 1, 'replica-a still leads');
  const served = InjectionHarness.counter(await standby.metrics(), 'meshwright_webhook_admissions_total', { installation: harness.name, outcome: 'injected' });
  assert.ok(served >= 4, `the standby injected ${served} pods`);
  assert.equal(InjectionHarness.counter(await leader.metrics(), 'meshwright_webhook_admissions_total'), 0, 'the leader was not called');
  // One CA for both: each presents the Secret's serving certificate, which only one of them created.
  const secret = await harness.caSecret();
  const expected = certificateFingerprints(Buffer.from(secret.data['tls.crt']!, 'base64').toString('utf8'))[0];
  assert.equal(await presentedCertificate(harness.webhookPort), expected);
  assert.equal(await presentedCertificate(leaderPort), expected);
  const creates = InjectionHarness.counter(await leader.metrics(), 'meshwright_webhook_ca_steps_total', { step: 'create' })
    + InjectionHarness.counter(await standby.metrics(), 'meshwright_webhook_ca_steps_total', { step: 'create' });
  assert.equal(creates, 1, 'the CA Secret was created once');
});

test('the installation deleted: its webhook configuration goes with it, and pods of the namespace it enrolled are created as they are', async () => {
  await harness.admin.delete({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation' }, harness.name);
  await eventually('the webhook configuration deleted', async () => (await harness.webhookConfiguration()) === undefined, 60_000);
  // The API server drops a deleted webhook within about a second: until then, pods would still be injected.
  const plain = await eventually('a pod created without the proxy', async () => {
    const result = await harness.createPod(harness.enrolled);
    return 'created' in result && !InjectionHarness.injected(result.created) ? result.created : undefined;
  }, 30_000, 300);
  assert.equal(plain.metadata.labels?.['meshwright.dev/injected-by'], undefined);
});
