import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CertificateAuthorityError, checkMaterial, createSelfSignedAuthority, decodeAuthorityState, encodeAuthorityState, externalMaterial,
  issueServing, issuingAlgorithm, keyPairsForNewAuthority, materialOf, planAuthority, renewIssuer, type AuthoritySettings,
} from './authority.ts';
import { createSelfSigned, describeCertificate, issueCertificate, keepSpareKeyPairs, spareKeyPairStats } from './x509.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-22T12:00:00Z');

const settings = (keyAlgorithm: AuthoritySettings['keyAlgorithm'] = 'RSA2048'): AuthoritySettings => ({
  profile: {
    root: { organization: 'Istio', commonName: 'Root CA' },
    issuer: { organization: 'Istio', commonName: 'Intermediate CA' },
    defaultKeyAlgorithm: 'RSA2048',
    servingCertificates: [{ name: 'sp-validator', dnsNames: ['linkerd-sp-validator.linkerd.svc'] }],
    keyAlgorithms: ['RSA2048', 'ECDSAP256'],
    published: { trustAnchors: [], keyHolders: [] },
  },
  keyAlgorithm,
  rootTtlMs: 87_600 * HOUR,
  issuerTtlMs: 8_760 * HOUR,
  renewBeforeMs: 720 * HOUR,
});

function openssl(files: Record<string, string>, args: (dir: string) => string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-ca-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return execFileSync('openssl', args(dir), { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const keyAlgorithm of ['RSA2048', 'ECDSAP256'] as const) {
  test(`${keyAlgorithm}: a self-signed authority's chain verifies with openssl and the issuer is a path-length-0 CA`, async () => {
    const state = await createSelfSignedAuthority(settings(keyAlgorithm), NOW);
    const material = materialOf(state);
    const at = String(Math.floor(NOW / 1000));
    const out = openssl({ 'root.pem': material.trustAnchorsPem, 'issuer.pem': material.issuerChainPem }, (dir) => ['verify', '-attime', at, '-CAfile', join(dir, 'root.pem'), join(dir, 'issuer.pem')]);
    assert.match(out, /issuer\.pem: OK/);
    const text = openssl({ 'issuer.pem': material.issuerChainPem }, (dir) => ['x509', '-noout', '-text', '-in', join(dir, 'issuer.pem')]);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /Subject: O\s?=\s?Istio, CN\s?=\s?Intermediate CA/);
    assert.match(text, keyAlgorithm === 'RSA2048' ? /Public-Key: \(2048 bit\)/ : /ASN1 OID: prime256v1/);
    const summary = await checkMaterial(material, NOW, { mesh: 'istio', accepted: [keyAlgorithm], asked: keyAlgorithm });
    const fingerprint = openssl({ 'root.pem': material.trustAnchorsPem }, (dir) => ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, 'root.pem')]);
    assert.equal(summary.rootFingerprint, fingerprint.split('=')[1]!.trim().toLowerCase());
    assert.equal(summary.rootNotAfter, '2036-11-19T12:00:00Z');
    assert.equal(summary.intermediateNotAfter, '2027-11-22T12:00:00Z');
    assert.match(summary.trustBundleHash, /^sha256:[0-9a-f]{64}$/);
  });
}

test('the state survives its Secret encoding exactly, and a Secret missing keys is reported, not replaced', async () => {
  let state = await createSelfSignedAuthority(settings('ECDSAP256'), NOW);
  state = await issueServing(state, settings('ECDSAP256'), ['sp-validator'], NOW);
  const data = encodeAuthorityState(state);
  assert.deepEqual(decodeAuthorityState(data, 'linkerd/meshwright-ca'), state);
  const { 'issuer.key': _dropped, ...broken } = data;
  assert.throws(() => decodeAuthorityState(broken, 'linkerd/meshwright-ca'), (e: unknown) => e instanceof CertificateAuthorityError && e.reason === 'StateSecretInvalid' && /lacks issuer\.key/.test(e.message));
});

test('plan: nothing to do on a fresh CA; the issuer renews renewBefore ahead of expiry, from the same root', async () => {
  const s = settings('ECDSAP256');
  const state = await issueServing(await createSelfSignedAuthority(s, NOW), s, ['sp-validator'], NOW);
  const fresh = await planAuthority(state, s, NOW);
  assert.equal(fresh.renewIssuer, false);
  assert.deepEqual(fresh.issueServing, []);
  assert.equal(fresh.nextCheckAt, NOW + (8_760 - 720) * HOUR, 'next look: when the issuer enters its renewal window');
  const later = NOW + (8_760 - 720) * HOUR;
  assert.equal((await planAuthority(state, s, later - 1)).renewIssuer, false);
  assert.equal((await planAuthority(state, s, later)).renewIssuer, true);
  const renewed = await renewIssuer(state, s, later);
  assert.equal(renewed.trustAnchorsPem, state.trustAnchorsPem, 'the root is not regenerated');
  assert.notEqual(renewed.issuer.chainPem, state.issuer.chainPem);
  await checkMaterial(materialOf(renewed), later);
});

test('plan: serving certificates are issued when missing and reissued when their names change', async () => {
  const s = settings('ECDSAP256');
  const state = await createSelfSignedAuthority(s, NOW);
  assert.deepEqual((await planAuthority(state, s, NOW)).issueServing, ['sp-validator']);
  const withServing = await issueServing(state, s, ['sp-validator'], NOW);
  const serving = materialOf(withServing).serving!['sp-validator']!;
  const info = await describeCertificate(serving.certificatePem);
  assert.deepEqual(info.dnsNames, ['linkerd-sp-validator.linkerd.svc']);
  const out = openssl({ 'ca.pem': serving.caBundlePem, 'leaf.pem': serving.certificatePem }, (dir) => ['verify', '-attime', String(NOW / 1000), '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
  assert.match(out, /OK/);
  assert.notEqual(serving.caBundlePem, withServing.trustAnchorsPem, 'webhook TLS is not signed by the mesh root');
  const renamed: AuthoritySettings = { ...s, profile: { ...s.profile, servingCertificates: [{ name: 'sp-validator', dnsNames: ['linkerd-sp-validator.other.svc'] }] } };
  assert.deepEqual((await planAuthority(withServing, renamed, NOW)).issueServing, ['sp-validator']);
});

/** A user's CA as cert-manager would write it: root, intermediate with key. */
async function userCa(options: { rootNotAfter?: Date; intermediateNotAfter?: Date; keyAlgorithm?: 'RSA2048' | 'ECDSAP256' } = {}) {
  const keyAlgorithm = options.keyAlgorithm ?? 'ECDSAP256';
  const root = await createSelfSigned({ subject: 'CN=corp root', notBefore: new Date(NOW - HOUR), notAfter: options.rootNotAfter ?? new Date(NOW + 1000 * HOUR), keyAlgorithm, isCA: true });
  const intermediate = await issueCertificate({ subject: 'CN=corp mesh issuer', notBefore: new Date(NOW - HOUR), notAfter: options.intermediateNotAfter ?? new Date(NOW + 100 * HOUR), keyAlgorithm, isCA: true, pathLength: 0 }, root);
  return { root, intermediate };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('External: a good Secret passes, with the root that tls.crt may carry dropped from the chain', async () => {
  const { root, intermediate } = await userCa();
  const material = externalMaterial({ 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(intermediate.certificatePem + root.certificatePem), 'tls.key': b64(intermediate.privateKeyPem) }, 'istio-system/corp-ca');
  assert.equal(material.issuerChainPem, intermediate.certificatePem);
  const summary = await checkMaterial(material, NOW, { mesh: 'linkerd', accepted: ['ECDSAP256'] });
  assert.equal(summary.rootFingerprint, (await describeCertificate(root.certificatePem)).sha256Fingerprint);
});

test('External: broken, expired, mismatched or incomplete material fails with a reason and an actionable message', async () => {
  const good = await userCa();
  const other = await userCa();
  const expired = await userCa({ intermediateNotAfter: new Date(NOW - 1000) });
  const rsa = await userCa({ keyAlgorithm: 'RSA2048' });
  const ecdsaUnderRsa = await issueCertificate({ subject: 'CN=corp mesh issuer', notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, rsa.root);
  const origin = { source: 'Secret linkerd/corp-ca', trustAnchors: 'ca.crt', issuer: 'tls.crt', key: 'tls.key' };
  const leafNotCa = await issueCertificate({ subject: 'CN=not a ca', notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR), keyAlgorithm: 'ECDSAP256' }, good.root);
  const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
    ['chain to another root', () => checkMaterial({ trustAnchorsPem: other.root.certificatePem, issuerChainPem: good.intermediate.certificatePem, issuerKeyPem: good.intermediate.privateKeyPem }, NOW), 'ChainBroken', /does not lead to a trust anchor: CN=corp mesh issuer/],
    ['expired issuer', () => checkMaterial({ trustAnchorsPem: expired.root.certificatePem, issuerChainPem: expired.intermediate.certificatePem, issuerKeyPem: expired.intermediate.privateKeyPem }, NOW), 'CertificateExpired', /CN=corp mesh issuer expired at 2026-11-22T11:59:59Z/],
    ['key of another certificate', () => checkMaterial({ trustAnchorsPem: good.root.certificatePem, issuerChainPem: good.intermediate.certificatePem, issuerKeyPem: other.intermediate.privateKeyPem }, NOW), 'KeyMismatch', /does not belong/],
    ['issuer is no CA', () => checkMaterial({ trustAnchorsPem: good.root.certificatePem, issuerChainPem: leafNotCa.certificatePem, issuerKeyPem: leafNotCa.privateKeyPem }, NOW), 'NotACertificateAuthority', /CN=not a ca is not a CA/],
    ['not the algorithm the spec asks for', () => checkMaterial({ trustAnchorsPem: good.root.certificatePem, issuerChainPem: good.intermediate.certificatePem, issuerKeyPem: good.intermediate.privateKeyPem }, NOW, { mesh: 'istio', accepted: ['RSA2048', 'ECDSAP256'], asked: 'RSA2048' }), 'KeyAlgorithmMismatch', /is ECDSAP256, but spec.certificateAuthority.keyAlgorithm asks for RSA2048/],
    ['an issuer the mesh cannot use, whatever the spec leaves unset', () => checkMaterial({ trustAnchorsPem: rsa.root.certificatePem, issuerChainPem: rsa.intermediate.certificatePem, issuerKeyPem: rsa.intermediate.privateKeyPem }, NOW, { mesh: 'linkerd', accepted: ['ECDSAP256'] }, origin), 'KeyAlgorithmMismatch', /^the issuer key is RSA2048, but mesh linkerd accepts only ECDSAP256 \(tls.crt of Secret linkerd\/corp-ca\)/],
    ['a root the mesh cannot use under an accepted issuer', () => checkMaterial({ trustAnchorsPem: rsa.root.certificatePem, issuerChainPem: ecdsaUnderRsa.certificatePem, issuerKeyPem: ecdsaUnderRsa.privateKeyPem }, NOW, { mesh: 'linkerd', accepted: ['ECDSAP256'] }), 'KeyAlgorithmMismatch', /the trust anchor CN=corp root has a key of RSA2048, but mesh linkerd accepts only ECDSAP256/],
    ['a garbage issuer certificate, said where', () => checkMaterial({ trustAnchorsPem: good.root.certificatePem, issuerChainPem: 'garbage', issuerKeyPem: good.intermediate.privateKeyPem }, NOW, undefined, origin), 'IssuerInvalid', /^the issuer certificate \(tls.crt of Secret linkerd\/corp-ca\) is missing or not PEM$/],
    ['a garbage key, said where', () => checkMaterial({ trustAnchorsPem: good.root.certificatePem, issuerChainPem: good.intermediate.certificatePem, issuerKeyPem: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n' }, NOW, undefined, origin), 'KeyInvalid', /^the private key \(tls.key of Secret linkerd\/corp-ca\) cannot be read as a PEM private key$/],
    ['garbage', () => checkMaterial({ trustAnchorsPem: 'hello', issuerChainPem: good.intermediate.certificatePem, issuerKeyPem: good.intermediate.privateKeyPem }, NOW), 'TrustAnchorsInvalid', /no PEM certificate/],
    ['missing keys', async () => externalMaterial({ 'ca.crt': b64(good.root.certificatePem) }, 'istio-system/corp-ca'), 'SecretIncomplete', /Secret istio-system\/corp-ca lacks tls\.crt, tls\.key/],
  ];
  for (const [name, run, reason, message] of cases) {
    await assert.rejects(run, (e: unknown) => e instanceof CertificateAuthorityError && e.reason === reason && message.test(e.message), name);
  }
});

test('the summary and errors never carry key material', async () => {
  const { root, intermediate } = await userCa();
  const summary = await checkMaterial({ trustAnchorsPem: root.certificatePem, issuerChainPem: intermediate.certificatePem, issuerKeyPem: intermediate.privateKeyPem }, NOW);
  assert.doesNotMatch(JSON.stringify(summary), /PRIVATE KEY|BEGIN/);
});

test('what the operator issues with: the spec\'s algorithm or the mesh\'s default, never one the mesh does not accept', () => {
  const profile = { ...settings().profile, defaultKeyAlgorithm: 'ECDSAP256' as const, keyAlgorithms: ['ECDSAP256'] as const };
  assert.equal(issuingAlgorithm(undefined, profile, 'linkerd'), 'ECDSAP256');
  assert.throws(() => issuingAlgorithm('RSA2048', profile, 'linkerd'), (e: unknown) => e instanceof CertificateAuthorityError && e.reason === 'KeyAlgorithmMismatch' && /keyAlgorithm is RSA2048, but mesh linkerd accepts only ECDSAP256: set one of those, or leave it unset/.test(e.message));
});

test('an edited state whose issuer or serving certificate no longer parses: a reason for the issuer, a new serving certificate for the webhook', async () => {
  const s = settings();
  const state = await issueServing(await createSelfSignedAuthority(s, NOW), s, ['sp-validator'], NOW);
  await assert.rejects(planAuthority({ ...state, issuer: { ...state.issuer, chainPem: 'garbage' } }, s, NOW), (e: unknown) => e instanceof CertificateAuthorityError && e.reason === 'IssuerInvalid');
  const broken = { ...state, serving: { 'sp-validator': { ...state.serving['sp-validator']!, certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' } } };
  assert.deepEqual((await planAuthority(broken, s, NOW)).issueServing, ['sp-validator']);
});

test('the next check is due when the first of the issuer\'s renewal and the root\'s expiry comes', async () => {
  const s = { ...settings('ECDSAP256'), rootTtlMs: 10 * HOUR };
  const state = await createSelfSignedAuthority(s, NOW);
  assert.equal((await planAuthority(state, s, NOW)).nextCheckAt, NOW + 10 * HOUR, 'the root lapses long before the issuer is due');
  const longRoot = await createSelfSignedAuthority(settings('ECDSAP256'), NOW);
  assert.equal((await planAuthority(longRoot, settings('ECDSAP256'), NOW)).nextCheckAt, NOW + (8_760 - 720) * HOUR, 'otherwise the issuer\'s renewal');
});

test('keyPairsForNewAuthority: a root and an issuer per accepted algorithm, plus a webhook CA and a pair per serving certificate in ECDSA P-256; the most any profile needs', () => {
  const istio = { ...settings().profile, servingCertificates: undefined };
  const linkerd = { ...settings().profile, defaultKeyAlgorithm: 'ECDSAP256' as const, keyAlgorithms: ['ECDSAP256' as const], servingCertificates: [{ name: 'a', dnsNames: ['a'] }, { name: 'b', dnsNames: ['b'] }] };
  assert.deepEqual(keyPairsForNewAuthority([]), {});
  assert.deepEqual(keyPairsForNewAuthority([istio]), { RSA2048: 2, ECDSAP256: 2 });
  assert.deepEqual(keyPairsForNewAuthority([linkerd]), { ECDSAP256: 5 });
  assert.deepEqual(keyPairsForNewAuthority([istio, linkerd]), { RSA2048: 2, ECDSAP256: 5 }, 'one installation at a time: the most, not the sum');
});

test('with the spares keyPairsForNewAuthority asks for kept ready, creating a CA and its serving certificates generates no key pair: every pair is a spare, only signing happens', async () => {
  const targets = keyPairsForNewAuthority([settings().profile]);
  keepSpareKeyPairs(targets);
  // Ready: every spare made before the CA is asked for, as the operator's are before the first installation.
  while (spareKeyPairStats().some((s) => s.ready < s.target)) await new Promise((resolve) => setTimeout(resolve, 5));
  const before = spareKeyPairStats();
  const state = await createSelfSignedAuthority(settings('RSA2048'), NOW);
  await issueServing(state, settings('RSA2048'), ['sp-validator'], NOW);
  const taken = (algorithm: string) => {
    const now = spareKeyPairStats().find((s) => s.algorithm === algorithm)!.taken;
    const then = before.find((s) => s.algorithm === algorithm)!.taken;
    return { ready: now.ready - then.ready, pending: now.pending - then.pending, made: now.made - then.made };
  };
  assert.deepEqual(taken('RSA2048'), { ready: 2, pending: 0, made: 0 }, 'root and issuer: spares');
  assert.deepEqual(taken('ECDSAP256'), { ready: 2, pending: 0, made: 0 }, 'webhook CA and serving certificate: spares');
  keepSpareKeyPairs({ RSA2048: 0, ECDSAP256: 0 });
});
