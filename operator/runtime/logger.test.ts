import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { createLogger, sanitizeForLog, serializeKubernetesObject } from './logger.ts';
import { redactKeyMaterial, REDACTED_KEY_MATERIAL as REDACTED_PEM } from './redact.ts';

/** A pino destination that keeps every line. */
function capture(): DestinationStream & { lines: string[]; text(): string; records(): Array<Record<string, unknown>> } {
  const lines: string[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(line);
    },
    text: () => lines.join(''),
    // Every line must stay valid JSON after redaction.
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keys = {
  pkcs8: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  sec1: ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  pkcs1: rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
};

/** Fragments of a PEM key that must never show up: each base64 body line, and the base64 of the whole PEM. */
function fingerprints(pem: string): string[] {
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
  return [...body.filter((l) => l.length >= 40), Buffer.from(pem).toString('base64').slice(0, 60)];
}

function assertNoKey(output: string, pem: string, shape: string): void {
  for (const fragment of fingerprints(pem)) assert.ok(!output.includes(fragment), `${shape}: key material leaked: ${fragment}`);
  assert.ok(!/PRIVATE KEY/.test(output), `${shape}: a PEM header leaked`);
}

for (const [format, pem] of Object.entries(keys)) {
  test(`a ${format} private key never reaches the output, whatever shape it is logged in`, () => {
    const base64 = Buffer.from(pem).toString('base64');
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'cacerts',
        namespace: 'istio-system',
        managedFields: [{ manager: 'meshwright', fieldsV1: { 'f:data': { 'f:ca-key.pem': {} } } }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ data: { 'ca-key.pem': base64 } }) },
      },
      type: 'Opaque',
      data: { 'ca-key.pem': base64, 'ca-cert.pem': 'Y2VydA==' },
      stringData: { 'key.pem': pem },
    };
    const { kind: _kind, apiVersion: _apiVersion, ...listItem } = secret; // list items come without kind
    const shapes: Array<[string, (log: ReturnType<typeof createLogger>) => void]> = [
      ['top-level privateKeyPem', (log) => log.info({ privateKeyPem: pem }, 'issued')],
      ['nested privateKeyPem', (log) => log.info({ ca: { privateKeyPem: pem } }, 'issued')],
      ['nested privateKey', (log) => log.info({ issuer: { privateKey: pem } }, 'issued')],
      ['deeply nested privateKey', (log) => log.info({ a: { b: { c: { d: { privateKey: pem } } } } }, 'deep')],
      ['*.key', (log) => log.info({ pair: { key: pem, cert: 'c' } }, 'pair')],
      ['Secret object', (log) => log.info({ obj: secret }, 'applied')],
      ['Secret inside a list, deep', (log) => log.info({ result: { list: { items: [secret] } } }, 'listed')],
      ['Secret list item without kind', (log) => log.info({ seen: { nested: listItem } }, 'seen')],
      ['*.data', (log) => log.info({ cm: { data: { 'tls.key': pem } } }, 'data')],
      ['*.stringData', (log) => log.info({ s: { stringData: { anything: pem } } }, 'stringData')],
      ['a field with an innocent name', (log) => log.info({ detail: pem, reason: `bad input ${pem}` }, 'innocent')],
      ['base64 in an innocent field', (log) => log.info({ blob: base64 }, 'blob')],
      ['the message', (log) => log.warn(`could not parse ${pem}`)],
      ['a truncated PEM in the message', (log) => log.warn(`cut: ${pem.slice(0, pem.length - 40)}`)],
      ['an error message and stack', (log) => log.error({ err: new Error(`bad key:\n${pem}`) }, 'failed')],
      ['an error as the only argument', (log) => log.error(new Error(`bad key:\n${pem}`))],
      ['child bindings', (log) => log.child({ material: pem, ca: { privateKeyPem: pem } }).info('child')],
      ['printf-style argument', (log) => log.info('key is %s', pem)],
    ];
    for (const [shape, write] of shapes) {
      const out = capture();
      write(createLogger({ level: 'info', name: 'test', destination: out }));
      assert.equal(out.lines.length, 1, `${shape}: one line`);
      assertNoKey(out.text(), pem, shape);
      out.records(); // still valid JSON
    }
  });
}

test('key material that is not PEM is caught by field name and object shape, at any depth', () => {
  const raw = 'c2VjcmV0LXJhdy1rZXktYnl0ZXMtdGhhdC1hcmUtbm90LXBlbQ'; // e.g. a raw or DER key, base64
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data: { token: raw }, stringData: { other: raw } };
  const shapes: Array<[string, Record<string, unknown>]> = [
    ['top-level privateKey', { privateKey: raw }],
    ['*.privateKeyPem', { ca: { privateKeyPem: raw } }],
    ['deep privateKey', { a: { b: { c: { privateKey: raw } } } }],
    ['deep ca-key.pem', { a: { b: { files: { 'ca-key.pem': raw } } } }],
    ['deep tls.key', { a: { b: { files: { 'tls.key': raw } } } }],
    ['*.key', { pair: { key: raw } }],
    ['*.data', { cm: { data: { x: raw } } }],
    ['Secret, deep', { a: { b: { c: secret } } }],
    ['Secret in an array', { changes: [{ before: secret }] }],
  ];
  for (const [shape, object] of shapes) {
    const out = capture();
    createLogger({ destination: out }).info(object, shape);
    assert.ok(!out.text().includes(raw), `${shape}: leaked`);
  }
});

test('redaction keeps what is useful for debugging', () => {
  const out = capture();
  const log = createLogger({ level: 'debug', name: 'meshwright', destination: out });
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'cacerts', namespace: 'istio-system', managedFields: [{ manager: 'x' }], labels: { app: 'istiod' } },
    type: 'Opaque',
    data: { 'ca-key.pem': Buffer.from(keys.pkcs8).toString('base64'), 'root-cert.pem': 'eA==' },
  };
  log.debug({ obj: secret, count: 3 }, 'applied %s', 'cacerts');
  const [record] = out.records();
  assert.equal(record!.level, 'debug');
  assert.equal(record!.name, 'meshwright');
  assert.equal(record!.msg, 'applied cacerts');
  assert.equal(record!.count, 3);
  assert.match(String(record!.time), /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(record!.obj, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'cacerts', namespace: 'istio-system', labels: { app: 'istiod' } },
    type: 'Opaque',
    dataKeys: ['ca-key.pem', 'root-cert.pem'],
  });
});

test('managedFields are dropped from every Kubernetes object, but a ConfigMap keeps its data in the serializer', () => {
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mesh', managedFields: [{ manager: 'kubectl' }] }, data: { mesh: 'x' } };
  assert.deepEqual(serializeKubernetesObject(configMap), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mesh' }, data: { mesh: 'x' } });
  assert.deepEqual(sanitizeForLog({ wrapper: { inner: [configMap] } }), { wrapper: { inner: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mesh' }, data: { mesh: 'x' } }] } });
  const list = serializeKubernetesObject({ apiVersion: 'v1', kind: 'SecretList', metadata: {}, items: [{ metadata: { name: 's' }, type: 'Opaque', data: { k: 'dg==' } }] });
  assert.deepEqual(list, { apiVersion: 'v1', kind: 'SecretList', metadata: {}, items: [{ metadata: { name: 's' }, type: 'Opaque', dataKeys: ['k'] }] });
});

test('sanitizeForLog survives cycles and leaves the input untouched', () => {
  const input: Record<string, unknown> = { name: 'a', privateKey: 'secret' };
  input.self = input;
  const out = sanitizeForLog(input) as Record<string, unknown>;
  assert.equal(out.self, '[Circular]');
  assert.equal(out.privateKey, '[Redacted]');
  assert.equal(input.privateKey, 'secret');
  const out2 = capture();
  createLogger({ destination: out2 }).info({ loop: input }, 'cyclic');
  assert.equal((out2.records()[0]!.loop as Record<string, unknown>).self, '[Circular]');
});

test('the work queue key a controller logs (`key`) is not mistaken for key material', () => {
  const out = capture();
  createLogger({ destination: out }).warn({ key: 'istio-system/istiod', reason: 'VersionNotInCatalog' }, 'reconcile stopped');
  assert.equal(out.records()[0]!.key, 'istio-system/istiod');
});

test('the level filters lines', () => {
  const out = capture();
  const log = createLogger({ level: 'warn', destination: out });
  log.info('hidden');
  log.warn('shown');
  assert.deepEqual(out.records().map((r) => r.msg), ['shown']);
});

test('the redaction every line passes removes any PEM block, certificates too, and keeps JSON valid', () => {
  const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
  const text = `before ${cert} middle ${keys.sec1} after`;
  const cleaned = redactKeyMaterial(text);
  assert.equal(cleaned, `before ${REDACTED_PEM}\n middle ${REDACTED_PEM}\n after`);
  const json = JSON.stringify({ a: keys.pkcs1, b: 'keep me', c: Buffer.from(keys.pkcs8).toString('base64') });
  assert.deepEqual(JSON.parse(redactKeyMaterial(json)), { a: `${REDACTED_PEM}\n`, b: 'keep me', c: REDACTED_PEM });
  assert.equal(redactKeyMaterial('nothing to see'), 'nothing to see');
});
