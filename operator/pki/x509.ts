/**
 * The one module that knows which X.509 library we use (`@peculiar/x509` on WebCrypto).
 *
 * Why this library: Linkerd's identity requires ECDSA P-256 certificates, which node-forge cannot
 * create; `@peculiar/x509` signs with both ECDSA and RSA through Node's built-in WebCrypto.
 * Everything else in meshwright (the mesh CA, the webhook serving certificate, the local test
 * cluster) works with PEM strings and the small types below, so the library can be swapped here.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type RsaHashedKeyAlgorithm = webcrypto.RsaHashedKeyAlgorithm;
type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

/** The key algorithms meshwright issues certificates with. */
export type KeyAlgorithm = 'ECDSAP256' | 'RSA2048';

/** A certificate and its private key, both PEM-encoded (the key as PKCS#8 "PRIVATE KEY"). */
export interface CertificateWithKey {
  certificatePem: string;
  privateKeyPem: string;
}

/** What to put in a certificate. Names follow RFC 5280; times are absolute. */
export interface CertificateRequest {
  /** Distinguished name, e.g. `CN=root.linkerd.cluster.local` or `O=Istio, CN=Root CA`. */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  keyAlgorithm: KeyAlgorithm;
  /** A CA may sign other certificates; `pathLength` limits how many CAs may follow it. */
  isCA?: boolean;
  pathLength?: number;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Extended key usages; defaults to none for a CA and to server+client auth for a leaf. */
  usages?: Array<'serverAuth' | 'clientAuth'>;
}

const algorithms: Record<KeyAlgorithm, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  RSA2048: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ECDSAP256: { name: 'ECDSA', namedCurve: 'P-256' },
};

function signingAlgorithm(key: CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

/** A positive 128-bit serial number, as RFC 5280 asks (at most 20 octets, no sign bit). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Imports a PEM private key (PKCS#8, PKCS#1 or SEC1) for signing. */
async function importSigningKey(privateKeyPem: string): Promise<CryptoKey> {
  const key = createPrivateKey(privateKeyPem);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const algorithm = key.asymmetricKeyType === 'ec'
    ? { name: 'ECDSA', namedCurve: key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : String(key.asymmetricKeyDetails?.namedCurve) }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return crypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

async function extensionsFor(request: CertificateRequest, publicKey: CryptoKey, issuerPublicKey: CryptoKey): Promise<x509.Extension[]> {
  const extensions: x509.Extension[] = [];
  if (request.isCA) {
    extensions.push(new x509.BasicConstraintsExtension(true, request.pathLength, true));
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
  } else {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
    const rsa = publicKey.algorithm.name !== 'ECDSA';
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0), true));
  }
  const usages = request.usages ?? (request.isCA ? [] : ['serverAuth', 'clientAuth']);
  if (usages.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension(usages.map((u) => x509.ExtendedKeyUsage[u]), false));
  }
  const names = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey));
  return extensions;
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithms[algorithm], true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A fresh key pair, opaque outside this module; generate several at once to use both cores (RSA is slow). */
export type KeyPair = CryptoKeyPair;

/**
 * Values made ahead of need, by key, and made again as they are taken, so that `target` are always
 * ready or on their way. Each value is handed out once. A value whose making failed is dropped when
 * taken, and a fresh one is made instead.
 */
export class SparePool<K, T> {
  private readonly spares = new Map<K, Array<Promise<T>>>();
  private readonly targets = new Map<K, number>();

  constructor(private readonly make: (key: K) => Promise<T>) {}

  /** Keeps `count` values of each key ready (0 stops making more). */
  keep(keys: readonly K[], count: number): void {
    for (const key of keys) {
      this.targets.set(key, count);
      this.refill(key);
    }
  }

  /** A spare when one is ready (and another is started in its place), otherwise a fresh value. */
  async take(key: K): Promise<T> {
    const spare = this.spares.get(key)?.shift();
    this.refill(key);
    if (spare) {
      try {
        return await spare;
      } catch {
        // fall through to a fresh one
      }
    }
    return this.make(key);
  }

  /** How many values of `key` are ready or being made. */
  size(key: K): number {
    return this.spares.get(key)?.length ?? 0;
  }

  private refill(key: K): void {
    const spares = this.spares.get(key) ?? [];
    this.spares.set(key, spares);
    while (spares.length < (this.targets.get(key) ?? 0)) {
      const value = this.make(key);
      value.catch(() => undefined); // not unhandled: take() drops it and makes a fresh one
      spares.push(value);
    }
  }
}

/**
 * Key pairs generated ahead of need. Creating a CA is the only slow step of an install (an RSA-2048
 * pair takes a few hundred milliseconds on a small machine); with a pair ready, it is only
 * signing. Pairs never leave the process and each is handed out once.
 */
const spareKeyPairs = new SparePool<KeyAlgorithm, KeyPair>(generateKeys);

/** Keeps `count` key pairs of each algorithm ready (the operator does this at start). */
export function keepSpareKeyPairs(algorithms: readonly KeyAlgorithm[], count: number): void {
  spareKeyPairs.keep(algorithms, count);
}

/** How many spare key pairs of `algorithm` are ready or being generated. */
export function spareKeyPairCount(algorithm: KeyAlgorithm): number {
  return spareKeyPairs.size(algorithm);
}

/** A key pair for a new certificate: a spare when one is ready, otherwise a fresh one. */
export function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  return spareKeyPairs.take(algorithm);
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return toPem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Creates a self-signed certificate (a root CA when `isCA` is set) with a fresh key. */
export async function createSelfSigned(request: CertificateRequest, pregenerated?: KeyPair): Promise<CertificateWithKey> {
  const keys = pregenerated ?? await generateKeys(request.keyAlgorithm);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: request.subject,
    issuer: request.subject,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: await extensionsFor(request, keys.publicKey, keys.publicKey),
  });
  return { certificatePem: certificate.toString('pem') + '\n', privateKeyPem: await exportPrivateKey(keys.privateKey) };
}

/** Creates a certificate with a fresh key, signed by `issuer`. */
export async function issueCertificate(request: CertificateRequest, issuer: CertificateWithKey, pregenerated?: KeyPair): Promise<CertificateWithKey> {
  const keys = pregenerated ?? await generateKeys(request.keyAlgorithm);
  const issuerCertificate = new x509.X509Certificate(issuer.certificatePem);
  const signingKey = await importSigningKey(issuer.privateKeyPem);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: request.subject,
    issuer: issuerCertificate.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithm(signingKey),
    extensions: await extensionsFor(request, keys.publicKey, await issuerCertificate.publicKey.export()),
  });
  return { certificatePem: certificate.toString('pem') + '\n', privateKeyPem: await exportPrivateKey(keys.privateKey) };
}

/** The facts about a certificate that status and checks need; never includes key material. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  /** SHA-256 of the DER encoding, lower-case hex with colons (as `openssl x509 -fingerprint -sha256`). */
  sha256Fingerprint: string;
  keyAlgorithm: KeyAlgorithm | 'other';
  /** DNS names of the subjectAltName extension. */
  dnsNames: string[];
  /** IP addresses of the subjectAltName extension. */
  ipAddresses: string[];
}

/** Parses the first certificate of a PEM string. Throws a readable error on malformed input. */
export async function describeCertificate(pem: string): Promise<CertificateInfo> {
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(pem);
  } catch (error) {
    throw new Error(`not a PEM-encoded X.509 certificate: ${(error as Error).message}`);
  }
  const basic = certificate.getExtension(x509.BasicConstraintsExtension);
  const digest = Buffer.from(await certificate.getThumbprint('SHA-256')).toString('hex');
  const algorithm = certificate.publicKey.algorithm as RsaHashedKeyAlgorithm | EcKeyAlgorithm;
  const keyAlgorithm: CertificateInfo['keyAlgorithm'] =
    algorithm.name === 'ECDSA' && (algorithm as EcKeyAlgorithm).namedCurve === 'P-256' ? 'ECDSAP256'
      : algorithm.name.startsWith('RSA') && (algorithm as RsaHashedKeyAlgorithm).modulusLength === 2048 ? 'RSA2048' : 'other';
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    isCA: basic?.ca ?? false,
    sha256Fingerprint: digest.match(/../g)!.join(':'),
    keyAlgorithm,
    dnsNames: certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.filter((n) => n.type === 'dns').map((n) => n.value) ?? [],
    ipAddresses: certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.filter((n) => n.type === 'ip').map((n) => n.value) ?? [],
  };
}

/** Splits concatenated PEM into its certificate blocks (anything else is ignored). */
export function splitCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((block) => `${block}\n`) ?? [];
}

/**
 * SHA-256 fingerprints (as {@link CertificateInfo.sha256Fingerprint}) of every certificate in
 * `pem` that parses; anything else is skipped. Synchronous and cheap, for deciding without I/O.
 */
export function certificateFingerprints(pem: string): string[] {
  const fingerprints: string[] = [];
  for (const block of splitCertificates(pem)) {
    try {
      fingerprints.push(new NodeX509Certificate(block).fingerprint256.toLowerCase());
    } catch {
      // Not a certificate after all: it cannot be a root anyone trusts.
    }
  }
  return fingerprints;
}

/** Whether `pem` reads as a private key (PKCS#8, PKCS#1 or SEC1 PEM). */
export function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

/** Whether `privateKeyPem` is the private half of the key in `certificatePem`. */
export function keyMatchesCertificate(privateKeyPem: string, certificatePem: string): boolean {
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch {
    return false;
  }
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCertificate = Buffer.from(new x509.X509Certificate(certificatePem).publicKey.rawData);
  return Buffer.compare(fromKey, fromCertificate) === 0;
}

/**
 * The candidate that issued `certificatePem` (name and signature checked), or undefined. The one
 * issuance check: synchronous, so pure renderers use it too (Node's own X509Certificate verifies
 * without WebCrypto's promises).
 */
export function findIssuer(certificatePem: string, candidatePems: readonly string[]): string | undefined {
  const certificate = new NodeX509Certificate(certificatePem);
  return candidatePems.find((pem) => {
    const candidate = new NodeX509Certificate(pem);
    // verify() checks the signature only: validity periods are judged separately, with the caller's clock.
    return certificate.checkIssued(candidate) && certificate.verify(candidate.publicKey);
  });
}
