/**
 * Generates the TEST-ONLY CA material of this folder (run once: `npx tsx generate-pki.ts`). The
 * files are committed so golden renders stay byte-stable; nothing here protects anything.
 */
import { writeFileSync } from 'node:fs';
import { createSelfSigned, issueCertificate } from '../../../../pki/x509.ts';
import { linkerdCertificateAuthority } from '../../ca.ts';
import { installation } from '../../test-support.ts';

const profile = linkerdCertificateAuthority(installation());
const window = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2126-01-01T00:00:00Z') };
const write = (name: string, pem: string) => writeFileSync(new URL(`./${name}`, import.meta.url), pem);

const root = await createSelfSigned({ subject: `CN=${profile.root.commonName}`, ...window, keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 1 });
const issuer = await issueCertificate({ subject: `CN=${profile.issuer.commonName}`, ...window, keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0, dnsNames: profile.issuerDnsNames }, root);
const webhookCa = await createSelfSigned({ subject: 'CN=meshwright-webhook-ca', ...window, keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 });
write('root.crt', root.certificatePem);
write('issuer.crt', issuer.certificatePem);
write('issuer.key', issuer.privateKeyPem);
write('webhook-ca.crt', webhookCa.certificatePem);
for (const { name, dnsNames } of profile.servingCertificates ?? []) {
  const serving = await issueCertificate({ subject: `CN=${dnsNames[0]}`, ...window, keyAlgorithm: 'ECDSAP256', dnsNames, usages: ['serverAuth'] }, webhookCa);
  write(`${name}.crt`, serving.certificatePem);
  write(`${name}.key`, serving.privateKeyPem);
}
