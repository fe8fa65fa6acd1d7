import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../runtime/clock.ts';
import { CertificateMemo, createSelfSigned, describeCertificate, findIssuer, generateKeyPair, keyMatchesCertificate, issueCertificate, keepSpareKeyPairs, keyIdentifier, RefillGate, spareKeyPairCount, SparePool, type KeyAlgorithm } from './x509.ts';
// After ./x509.ts: it loads the Reflect metadata polyfill @peculiar/x509 needs.
import * as x509 from '@peculiar/x509';

const notBefore = new Date('2026-01-01T00:00:00Z');
const notAfter = new Date('2036-01-01T00:00:00Z');

for (const keyAlgorithm of ['ECDSAP256', 'RSA2048'] as KeyAlgorithm[]) {
  test(`${keyAlgorithm}: root -> intermediate -> leaf verifies with openssl`, async () => {
    const root = await createSelfSigned({ subject: 'CN=root.test', notBefore, notAfter, keyAlgorithm, isCA: true, pathLength: 1 });
    const intermediate = await issueCertificate({ subject: 'CN=issuer.test', notBefore, notAfter, keyAlgorithm, isCA: true, pathLength: 0 }, root);
    const leaf = await issueCertificate({ subject: 'CN=leaf', notBefore, notAfter, keyAlgorithm, dnsNames: ['leaf.test'], ipAddresses: ['127.0.0.1'] }, intermediate);
    const dir = mkdtempSync(join(tmpdir(), 'x509-'));
    writeFileSync(join(dir, 'root.pem'), root.certificatePem);
    writeFileSync(join(dir, 'intermediate.pem'), intermediate.certificatePem);
    writeFileSync(join(dir, 'leaf.pem'), leaf.certificatePem);
    const out = execFileSync('openssl', ['verify', '-attime', String(Date.parse('2030-01-01') / 1000), '-CAfile', join(dir, 'root.pem'),
      '-untrusted', join(dir, 'intermediate.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    assert.match(out, /leaf\.pem: OK/);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'leaf.pem')], { encoding: 'utf8' });
    assert.match(text, /DNS:leaf\.test, IP Address:127\.0\.0\.1/);
    assert.match(text, keyAlgorithm === 'ECDSAP256' ? /ecdsa-with-SHA256/ : /sha256WithRSAEncryption/);

    const info = await describeCertificate(intermediate.certificatePem);
    assert.equal(info.subject, 'CN=issuer.test');
    assert.equal(info.issuer, 'CN=root.test');
    assert.equal(info.isCA, true);
    assert.equal(info.keyAlgorithm, keyAlgorithm);
    assert.equal(info.notAfter.toISOString(), notAfter.toISOString());
    const fingerprint = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, 'intermediate.pem')], { encoding: 'utf8' });
    assert.equal(info.sha256Fingerprint, fingerprint.split('=')[1]!.trim().toLowerCase());
  });
}

test('describeCertificate rejects garbage with a readable error', async () => {
  await assert.rejects(describeCertificate('not a certificate'), /not a PEM-encoded X\.509 certificate/);
});

test('spare key pairs: each is handed out once, and the pool refills to its target', async () => {
  keepSpareKeyPairs({ ECDSAP256: 2 });
  assert.equal(spareKeyPairCount('ECDSAP256'), 2);
  const pairs = await Promise.all([generateKeyPair('ECDSAP256'), generateKeyPair('ECDSAP256'), generateKeyPair('ECDSAP256')]);
  assert.equal(new Set(pairs).size, 3, 'never the same pair twice');
  assert.equal(spareKeyPairCount('ECDSAP256'), 2, 'refilled after taking three');
  const later = await generateKeyPair('ECDSAP256');
  assert.ok(!pairs.includes(later), 'a refilled spare is a new pair');
  const now = new Date();
  const a = await createSelfSigned({ subject: 'CN=a', notBefore: now, notAfter: new Date(now.getTime() + 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true }, pairs[0]);
  const b = await createSelfSigned({ subject: 'CN=b', notBefore: now, notAfter: new Date(now.getTime() + 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true }, pairs[1]);
  assert.notEqual(a.privateKeyPem, b.privateKeyPem);
  keepSpareKeyPairs({ ECDSAP256: 0 });
  await generateKeyPair('ECDSAP256');
  assert.equal(spareKeyPairCount('ECDSAP256'), 1, 'a target of 0 makes no more (one was left over)');
  await generateKeyPair('ECDSAP256');
  assert.equal(spareKeyPairCount('ECDSAP256'), 0);
});

test('SparePool: takes are served from spares, each replaced at once; a failed spare is replaced by a fresh value', async () => {
  let made = 0;
  let failNext = false;
  const pool = new SparePool<string, number>(async () => {
    made++;
    if (failNext) {
      failNext = false;
      throw new Error('generation failed');
    }
    return made;
  });
  pool.keep(['rsa'], 2);
  assert.deepEqual([made, pool.size('rsa')], [2, 2]);
  assert.deepEqual([await pool.take('rsa'), await pool.take('rsa'), await pool.take('rsa')], [1, 2, 3], 'spares, oldest first');
  assert.deepEqual([made, pool.size('rsa')], [5, 2], 'each take made one more: back at the target');
  assert.equal(pool.size('ecdsa'), 0);
  assert.equal(await pool.take('ecdsa'), 6, 'without a target: made on demand');
  assert.deepEqual([made, pool.size('ecdsa')], [6, 0], 'and none kept');

  failNext = true;
  pool.keep(['p256'], 1); // made 7: fails
  assert.equal(await pool.take('p256'), 9, 'the failed spare is dropped (8 replaces it in the pool), 9 is made for the caller');
  assert.equal(pool.size('p256'), 1);
  assert.equal(await pool.take('p256'), 8);
});

test('SparePool: every take is counted by where its value came from — ready, still being made, or made on demand', async () => {
  const made: Array<(value: number) => void> = [];
  let n = 0;
  const pool = new SparePool<string, number>(() => new Promise<number>((resolve) => made.push(() => resolve(++n))));
  pool.keep(['rsa'], 2);
  made.shift()!(0);
  await Promise.resolve();
  assert.deepEqual([pool.ready('rsa'), pool.size('rsa'), pool.target('rsa')], [1, 2, 2], 'one made, one on its way');
  assert.equal(await pool.take('rsa'), 1);
  const waited = pool.take('rsa');
  made.shift()!(0);
  assert.equal(await waited, 2);
  assert.deepEqual(pool.takes('rsa'), { ready: 1, pending: 1, made: 0 }, 'the second was taken while it was being made');
  const fresh = pool.take('ecdsa');
  made.at(-1)!(0);
  await fresh;
  assert.deepEqual(pool.takes('ecdsa'), { ready: 0, pending: 0, made: 1 }, 'no spare kept: made on demand');
});

test('SparePool with a schedule: a take refills only when the schedule runs the refill, once for several takes', async () => {
  let made = 0;
  const refills: Array<() => void> = [];
  const pool = new SparePool<string, number>(async () => ++made, { schedule: (refill) => refills.push(refill) });
  pool.keep(['rsa'], 2);
  assert.equal(made, 2, 'keep fills at once');
  await new Promise((resolve) => setImmediate(resolve));
  await pool.take('rsa');
  await pool.take('rsa');
  assert.deepEqual([made, pool.size('rsa'), refills.length], [2, 0, 1], 'nothing made on the takes; one refill asked for');
  refills.shift()!();
  assert.deepEqual([made, pool.size('rsa')], [4, 2], 'the refill makes both back');
  assert.deepEqual(pool.takes('rsa'), { ready: 2, pending: 0, made: 0 });
});

test('RefillGate: deferred work runs once no pass has run for quietMs, never while one runs, and at the latest maxDelayMs after it was asked for', async () => {
  const clock = new FakeClock();
  const gate = new RefillGate(clock, 1_000, 30_000);
  let runs = 0;
  let endPass!: () => void;
  const pass = gate.busyWhile(() => new Promise<void>((resolve) => { endPass = resolve; }));
  gate.schedule(() => runs++);
  clock.advance(5_000);
  assert.equal(runs, 0, 'not while a pass runs');
  endPass();
  await pass;
  clock.advance(999);
  assert.equal(runs, 0, 'not before the gate was quiet for quietMs');
  clock.advance(1);
  assert.equal(runs, 1, 'after it');

  // A pass that never ends holds it back only until the deadline.
  void gate.busyWhile(() => new Promise<void>(() => undefined));
  gate.schedule(() => runs++);
  clock.advance(29_999);
  assert.equal(runs, 1);
  clock.advance(1);
  assert.equal(runs, 2, 'maxDelayMs after it was asked for, busy or not');

  // Quiet from the start: quietMs after the ask.
  const idle = new RefillGate(clock, 1_000, 30_000);
  idle.schedule(() => runs++);
  clock.advance(1_000);
  assert.equal(runs, 3);
});

for (const keyAlgorithm of ['RSA2048', 'ECDSAP256'] as const) {
  test(`${keyAlgorithm}: keyIdentifier (synchronous) is @peculiar/x509's key identifier, and a certificate's subject and authority key identifiers chain`, async () => {
    const notBefore = new Date(Date.now() - 60_000);
    const notAfter = new Date(Date.now() + 3_600_000);
    const root = await createSelfSigned({ subject: 'CN=root.test', notBefore, notAfter, keyAlgorithm, isCA: true });
    const issuer = await issueCertificate({ subject: 'CN=issuer.test', notBefore, notAfter, keyAlgorithm, isCA: true, pathLength: 0 }, root);
    const [rootCert, issuerCert] = [new x509.X509Certificate(root.certificatePem), new x509.X509Certificate(issuer.certificatePem)];
    const expected = Buffer.from(await rootCert.publicKey.getKeyIdentifier()).toString('hex');
    assert.equal(keyIdentifier(new Uint8Array(rootCert.publicKey.rawData)), expected);
    assert.equal(rootCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId, expected);
    assert.equal(issuerCert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, expected, "the issuer's AKI is the root's SKI");
    assert.notEqual(issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId, expected);
  });
}

test('parsed certificates are kept by their text: the same answers, copies the caller may change, failures not kept', async () => {
  const now = Date.now();
  const root = await createSelfSigned({ subject: 'CN=memo root', notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const other = await createSelfSigned({ subject: 'CN=memo other', notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const leaf = await issueCertificate({ subject: 'CN=memo leaf', notBefore: new Date(now - 60_000), notAfter: new Date(now + 600_000), keyAlgorithm: 'ECDSAP256', dnsNames: ['a.example'] }, root);

  const first = await describeCertificate(leaf.certificatePem);
  first.dnsNames.push('changed.example');
  first.notAfter.setTime(0);
  const second = await describeCertificate(leaf.certificatePem);
  assert.deepEqual(second.dnsNames, ['a.example'], 'a change to one answer does not reach the next');
  assert.equal(second.notAfter.getTime() > now, true);
  await assert.rejects(describeCertificate('garbage'), /not a PEM-encoded X\.509 certificate/);
  await assert.rejects(describeCertificate('garbage'), /not a PEM-encoded X\.509 certificate/, 'a failure is not kept as an answer');

  for (let i = 0; i < 2; i++) {
    assert.equal(findIssuer(leaf.certificatePem, [other.certificatePem, root.certificatePem]), root.certificatePem);
    assert.equal(findIssuer(leaf.certificatePem, [other.certificatePem]), undefined, 'another candidate list is another question');
    assert.equal(keyMatchesCertificate(leaf.privateKeyPem, leaf.certificatePem), true);
    assert.equal(keyMatchesCertificate(root.privateKeyPem, leaf.certificatePem), false);
  }
});

test('the certificate memo keeps the texts used last, up to its limit', () => {
  const memo = new CertificateMemo<number>(2);
  let computed = 0;
  const get = (key: string) => memo.get(key, () => ++computed);
  assert.equal(get('a'), 1);
  assert.equal(get('b'), 2);
  assert.equal(get('a'), 1, 'kept');
  assert.equal(get('c'), 3);
  assert.equal(get('a'), 1, 'used last, so kept');
  assert.equal(get('b'), 4, 'the least recently used went first');
});
