/**
 * Issuer renewal end to end (issue #17, point 1): the test mesh's issuer lives 10 minutes and is
 * renewed within 9m50s of expiry, so about 10 s after it was issued. The operator renews it under
 * the same root, the mesh's own layout (`cacerts` ca-cert.pem) gets it, the trust bundle stays
 * byte for byte the same, no workload is restarted (the audit log), no rotation starts, and an
 * `IssuerRenewed` Event says so.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { findIssuer, splitCertificates } from '../../operator/pki/x509.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import type { RolloutWorld, TestWorkload } from '../rollout/world.ts';
import { rotationWhen, rotationWorld } from './support.ts';

let world: RolloutWorld;
let workloads: TestWorkload[] = [];

before(async () => {
  ({ world, workloads } = await rotationWorld({ certificateAuthority: { intermediateTTL: '10m', renewBefore: '9m50s' }, rootRotation: { automatic: true }, count: 2 }));
});

after(async () => {
  await world?.tearDown();
});

async function cacerts(): Promise<Record<string, string>> {
  const secret = await world.admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', world.harness.meshNamespace);
  return Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

test('the issuer is renewed under the same root into the mesh\'s layout, with an Event and no workload restart', async () => {
  const before = await cacerts();
  const renewedSince = new Date();
  const eventsBefore = (await world.events('IssuerRenewed')).length;
  const after = await eventually('cacerts carries a renewed issuer', async () => {
    const now = await cacerts();
    return now['ca-cert.pem'] !== before['ca-cert.pem'] ? now : undefined;
  }, 60_000, 200);
  assert.equal(after['root-cert.pem'], before['root-cert.pem'], 'the trust bundle is unchanged');
  assert.ok(findIssuer(splitCertificates(after['ca-cert.pem']!)[0]!, splitCertificates(after['root-cert.pem']!)), 'the new issuer is signed by the same root');
  await eventually('an IssuerRenewed Event', async () => (await world.events('IssuerRenewed')).length > eventsBefore, 30_000, 200);
  const event = (await world.events('IssuerRenewed')).at(-1)!;
  assert.equal(event.type, 'Normal');
  assert.match(event.note ?? '', /no workload restarts/);
  // Judged after the operator looked again, with renewals every ~10 s.
  await world.operatorLookedAgain(3, 3_000);
  assert.deepEqual([...world.workloadWrites(renewedSince).keys()], [], 'no workload restarted');
  const hash = await world.publishedHash();
  for (const workload of workloads) await world.assertPodsRecord(workload, hash);
  const mi = await rotationWhen(world, 'no rotation', (r) => r?.phase === 'Idle');
  assert.equal(mi.status?.certificateAuthority?.rotation?.startedAt, undefined);
});
