import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { containsKeyMaterial, redactKeyMaterial, redactKeyMaterialInPlace, REDACTED_KEY_MATERIAL as R } from './redact.ts';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const pem = {
  pkcs8: ec.export({ type: 'pkcs8', format: 'pem' }) as string,
  sec1: ec.export({ type: 'sec1', format: 'pem' }) as string,
  pkcs1: rsa.export({ type: 'pkcs1', format: 'pem' }) as string,
  rsaPkcs8: rsa.export({ type: 'pkcs8', format: 'pem' }) as string,
};
const der = {
  pkcs8: (ec.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('base64'),
  sec1: (ec.export({ type: 'sec1', format: 'der' }) as Buffer).toString('base64'),
  pkcs1: (rsa.export({ type: 'pkcs1', format: 'der' }) as Buffer).toString('base64'),
};
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** The body of a PEM block: DER in base64, broken into 64-character lines. */
const body = (block: string) => block.split('\n').filter((line) => line && !line.startsWith('-----')).join('\n');

test('PEM blocks (keys of every format, certificates) are replaced, in longer text too', () => {
  for (const block of Object.values(pem)) {
    assert.equal(redactKeyMaterial(`the key ${block.trim()} does not match`), `the key ${R} does not match`);
  }
  assert.equal(redactKeyMaterial(`cut: ${pem.pkcs8.slice(0, 90)}`), `cut: ${R}`, 'a block cut short');
});

test('base64 of PEM is replaced at any alignment, inside a longer string and base64 of it once more', () => {
  for (const prefix of ['', 'x', 'xy']) {
    const encoded = b64(prefix + pem.pkcs8);
    assert.equal(redactKeyMaterial(`data: token=${encoded};end`), `data: token=${R};end`, `prefix ${JSON.stringify(prefix)}`);
  }
  assert.equal(redactKeyMaterial(`twice: ${b64(b64(pem.sec1))}`), `twice: ${R}`);
});

test('DER in base64 is replaced by its shape: PKCS#8, SEC1, PKCS#1, one line or broken into lines, raw or JSON-escaped, cut short, glued to other text', () => {
  for (const [name, value] of Object.entries(der)) {
    assert.equal(redactKeyMaterial(`key=${value} ok`), `key=${R} ok`, name);
    assert.equal(redactKeyMaterial(`prefix${value}`), R, `${name} glued to base64-looking text`);
    assert.equal(redactKeyMaterial(`start ${value.slice(0, 100)}`), `start ${R}`, `${name} cut short`);
  }
  assert.equal(redactKeyMaterial(`body:\n${body(pem.pkcs1)}\nend`), `body:\n${R}\nend`, 'a PEM body without its armour');
  const line = JSON.stringify({ msg: `body ${body(pem.rsaPkcs8)}`, other: 'x' });
  assert.deepEqual(JSON.parse(redactKeyMaterial(line)), { msg: `body ${R}`, other: 'x' }, 'JSON-escaped line breaks, and the JSON stays valid');
});

test('DER in hex is replaced', () => {
  const hex = (ec.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('hex');
  assert.equal(redactKeyMaterial(`hex ${hex}.`), `hex ${R}.`);
});

test('what is not key material is left alone: fingerprints, hashes, UIDs, names, prose, other base64', () => {
  const innocent = [
    'root valid until 2036-11-19T12:00:00Z, issuer until 2027-11-22T12:00:00Z',
    `rootFingerprint ${createHash('sha256').update('x').digest('hex').match(/../g)!.join(':')}`,
    `trustBundleHash sha256:${createHash('sha256').update('y').digest('hex')}`,
    `sha512 ${createHash('sha512').update('z').digest('hex')}`,
    `uid ${randomUUID()}`,
    'not available yet: Deployment istio-system/istiod (0/1), Deployment istio-ingress/istio-ingressgateway (0/2)',
    '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator-with-a-long-name',
    `config ${b64('meshConfig:\n  accessLogFile: /dev/stdout\n  defaultConfig:\n    discoveryAddress: istiod.istio-system.svc:15012\n')}`,
  ];
  for (const text of innocent) {
    assert.equal(redactKeyMaterial(text), text);
    assert.equal(containsKeyMaterial(text), false, text);
  }
});

test('every string of a value is redacted in place, at any depth', () => {
  const status = { conditions: [{ type: 'Stalled', message: `patch failed: ${der.pkcs8}` }], inventory: [{ name: 'cacerts' }], progress: 'Stalled', observedGeneration: 2 };
  redactKeyMaterialInPlace(status);
  assert.deepEqual(status, { conditions: [{ type: 'Stalled', message: `patch failed: ${R}` }], inventory: [{ name: 'cacerts' }], progress: 'Stalled', observedGeneration: 2 });
  assert.equal(containsKeyMaterial(JSON.stringify(status)), false);
});
