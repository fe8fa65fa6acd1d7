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
import { createHash, createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { Clock, Timer } from '../runtime/clock.ts';

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

function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(new Uint8Array(der)).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
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

function extensionsFor(request: CertificateRequest, publicKey: CryptoKey, issuerSpki: Uint8Array): x509.Extension[] {
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
  extensions.push(new x509.SubjectKeyIdentifierExtension(keyIdentifier(spkiOf(publicKey))));
  extensions.push(new x509.AuthorityKeyIdentifierExtension(keyIdentifier(issuerSpki)));
  return extensions;
}

/** The DER SubjectPublicKeyInfo of a key, synchronously (no trip to the thread pool, as WebCrypto's export takes). */
function spkiOf(key: CryptoKey): Uint8Array {
  return KeyObject.from(key).export({ type: 'spki', format: 'der' });
}

/**
 * A key identifier as RFC 5280 4.2.1.2 method (1) has it, and as `@peculiar/x509`'s
 * `getKeyIdentifier` computes it: the SHA-1 of the subjectPublicKey BIT STRING's bits, from the DER
 * SubjectPublicKeyInfo — synchronously: creating a CA on a busy machine paid a thread-pool round
 * trip for each of these. Lower-case hex.
 */
export function keyIdentifier(spki: Uint8Array): string {
  let offset = 0;
  const header = () => {
    const tag = spki[offset++];
    let length = spki[offset++]!;
    if (length & 0x80) {
      const octets = length & 0x7f;
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + spki[offset++]!;
    }
    return { tag, length };
  };
  header(); // SubjectPublicKeyInfo SEQUENCE
  const algorithm = header(); // AlgorithmIdentifier, skipped
  offset += algorithm.length;
  const bits = header();
  if (bits.tag !== 0x03) throw new Error('not a SubjectPublicKeyInfo: no BIT STRING after the algorithm');
  // The BIT STRING's first octet counts its unused bits (0 for a key); the key is the rest.
  return createHash('sha1').update(spki.subarray(offset + 1, offset + bits.length)).digest('hex');
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithms[algorithm], true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** A fresh key pair, opaque outside this module; generate several at once to use both cores (RSA is slow). */
export type KeyPair = CryptoKeyPair;

/** Where a taken value came from: a spare made before it was asked for, a spare still being made (waited for), or made on demand. */
export type SpareSource = 'ready' | 'pending' | 'made';

/** Settings of {@link SparePool}. */
export interface SparePoolOptions {
  /**
   * Runs a refill after a take. By default at once; the operator hands refills to a
   * {@link RefillGate}, so that making spares (RSA keys are CPU-heavy) never competes with the
   * pass that took one.
   */
  schedule?: (refill: () => void) => void;
}

interface Spare<T> {
  value: Promise<T>;
  /** Made and fulfilled: taking it costs nothing. */
  ready: boolean;
}

/**
 * Values made ahead of need, by key, and made again after they are taken, so that `target` are
 * always ready or on their way. Each value is handed out once. A value whose making failed is
 * dropped when taken, and a fresh one is made instead. Every take is counted by where its value
 * came from ({@link SpareSource}): what proves that a path made nothing on demand.
 */
export class SparePool<K, T> {
  private readonly spares = new Map<K, Array<Spare<T>>>();
  private readonly targets = new Map<K, number>();
  private readonly taken = new Map<K, Record<SpareSource, number>>();
  private refillScheduled = false;

  constructor(private readonly make: (key: K) => Promise<T>, private options: SparePoolOptions = {}) {}

  /** Replaces how refills are run (see {@link SparePoolOptions.schedule}). */
  refillWith(schedule: SparePoolOptions['schedule']): void {
    this.options = { ...this.options, schedule };
  }

  /** Keeps `count` values of each key ready (0 stops making more); the missing ones are started at once. */
  keep(keys: readonly K[], count: number): void {
    for (const key of keys) {
      this.targets.set(key, count);
      this.refill(key);
    }
  }

  /** A spare when one is there (a refill is then scheduled), otherwise a fresh value. */
  async take(key: K): Promise<T> {
    const spare = this.spares.get(key)?.shift();
    this.scheduleRefill();
    if (spare) {
      // Judged when taken: a spare that became ready while the caller waited was still waited for.
      const source: SpareSource = spare.ready ? 'ready' : 'pending';
      try {
        const value = await spare.value;
        this.count(key, source);
        return value;
      } catch {
        // fall through to a fresh one
      }
    }
    this.count(key, 'made');
    return this.make(key);
  }

  /** How many values of `key` are ready or being made. */
  size(key: K): number {
    return this.spares.get(key)?.length ?? 0;
  }

  /** How many values of `key` are made and waiting to be taken. */
  ready(key: K): number {
    return this.spares.get(key)?.filter((spare) => spare.ready).length ?? 0;
  }

  /** The number of values of `key` kept ready. */
  target(key: K): number {
    return this.targets.get(key) ?? 0;
  }

  /** Takes of `key` so far, by where the value came from. */
  takes(key: K): Record<SpareSource, number> {
    return { ...(this.taken.get(key) ?? { ready: 0, pending: 0, made: 0 }) };
  }

  /** Every key with a target or a take. */
  keys(): K[] {
    return [...new Set([...this.targets.keys(), ...this.taken.keys()])];
  }

  private count(key: K, source: SpareSource): void {
    const counts = this.taken.get(key) ?? { ready: 0, pending: 0, made: 0 };
    counts[source]++;
    this.taken.set(key, counts);
  }

  private scheduleRefill(): void {
    if (!this.options.schedule) {
      for (const key of this.targets.keys()) this.refill(key);
      return;
    }
    if (this.refillScheduled) return;
    this.refillScheduled = true;
    this.options.schedule(() => {
      this.refillScheduled = false;
      for (const key of this.targets.keys()) this.refill(key);
    });
  }

  private refill(key: K): void {
    const spares = this.spares.get(key) ?? [];
    this.spares.set(key, spares);
    while (spares.length < (this.targets.get(key) ?? 0)) {
      const spare: Spare<T> = { value: this.make(key), ready: false };
      // Not unhandled: take() drops a failed spare and makes a fresh one.
      spare.value.then(() => { spare.ready = true; }, () => undefined);
      spares.push(spare);
    }
  }
}

/**
 * Defers work (refilling spare key pairs) until nothing it could slow down runs: until no pass is
 * in flight and none has ended for `quietMs` (passes come in bursts: an install's pass, then the
 * ones its own status writes wake), and at the latest `maxDelayMs` after it was first asked for,
 * so that a process never idle still refills.
 */
export class RefillGate {
  private busy = 0;
  private pending: Array<() => void> = [];
  private askedAt: number | undefined;
  private timer: Timer | undefined;

  constructor(private readonly clock: Clock, private readonly quietMs = 1_000, private readonly maxDelayMs = 30_000) {}

  /** Runs `work`; deferred work waits while any such work runs. */
  async busyWhile<R>(work: () => Promise<R>): Promise<R> {
    this.busy++;
    this.arm();
    try {
      return await work();
    } finally {
      this.busy--;
      this.arm();
    }
  }

  /** Runs `run` once the gate is quiet (see the class). */
  schedule(run: () => void): void {
    this.pending.push(run);
    this.askedAt ??= this.clock.now();
    this.arm();
  }

  /** Drops the timer (deferred work is not run). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.pending = [];
    this.askedAt = undefined;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.askedAt === undefined) return;
    const untilDeadline = this.askedAt + this.maxDelayMs - this.clock.now();
    const wait = this.busy > 0 ? untilDeadline : Math.min(this.quietMs, untilDeadline);
    this.timer = this.clock.setTimer(Math.max(0, wait), () => this.flush());
  }

  private flush(): void {
    this.timer = undefined;
    this.askedAt = undefined;
    for (const run of this.pending.splice(0)) run();
  }
}

/**
 * Key pairs generated ahead of need. Creating a CA is the only slow step of an install (an RSA-2048
 * pair takes a few hundred milliseconds on a small machine); with pairs ready, it is only
 * signing. Pairs never leave the process and each is handed out once.
 */
const spareKeyPairs = new SparePool<KeyAlgorithm, KeyPair>(generateKeys);

/** Keeps key pairs ready, `targets` per algorithm (the operator does this at start); the missing ones are generated at once. */
export function keepSpareKeyPairs(targets: Partial<Record<KeyAlgorithm, number>>): void {
  for (const [algorithm, count] of Object.entries(targets) as Array<[KeyAlgorithm, number]>) spareKeyPairs.keep([algorithm], count);
}

/** Pairs taken are generated again when `schedule` runs its refill (a {@link RefillGate}'s); undefined: at once. */
export function refillSpareKeyPairsWhen(schedule: SparePoolOptions['schedule']): void {
  spareKeyPairs.refillWith(schedule);
}

/** How many spare key pairs of `algorithm` are ready or being generated. */
export function spareKeyPairCount(algorithm: KeyAlgorithm): number {
  return spareKeyPairs.size(algorithm);
}

/** What the spare key pairs look like now, per algorithm: kept ready, ready now, and every take by source (for /metrics). */
export function spareKeyPairStats(): Array<{ algorithm: KeyAlgorithm; target: number; ready: number; taken: Record<SpareSource, number> }> {
  return spareKeyPairs.keys().map((algorithm) => ({ algorithm, target: spareKeyPairs.target(algorithm), ready: spareKeyPairs.ready(algorithm), taken: spareKeyPairs.takes(algorithm) }));
}

/** A key pair for a new certificate: a spare when one is there, otherwise a fresh one. */
export function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  return spareKeyPairs.take(algorithm);
}

function exportPrivateKey(key: CryptoKey): string {
  return toPem(KeyObject.from(key).export({ type: 'pkcs8', format: 'der' }), 'PRIVATE KEY');
}

/** Creates a self-signed certificate (a root CA when `isCA` is set) with a fresh key (a spare one when there is one, {@link generateKeyPair}). */
export async function createSelfSigned(request: CertificateRequest, pregenerated?: KeyPair): Promise<CertificateWithKey> {
  const keys = pregenerated ?? await generateKeyPair(request.keyAlgorithm);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: request.subject,
    issuer: request.subject,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: extensionsFor(request, keys.publicKey, spkiOf(keys.publicKey)),
  });
  return { certificatePem: certificate.toString('pem') + '\n', privateKeyPem: exportPrivateKey(keys.privateKey) };
}

/** Creates a certificate with a fresh key (a spare one when there is one), signed by `issuer`. */
export async function issueCertificate(request: CertificateRequest, issuer: CertificateWithKey, pregenerated?: KeyPair): Promise<CertificateWithKey> {
  const keys = pregenerated ?? await generateKeyPair(request.keyAlgorithm);
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
    extensions: extensionsFor(request, keys.publicKey, new Uint8Array(issuerCertificate.publicKey.rawData)),
  });
  return { certificatePem: certificate.toString('pem') + '\n', privateKeyPem: exportPrivateKey(keys.privateKey) };
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

/**
 * Results of pure functions of certificate text, for the texts seen last: every pass reads the
 * same few certificates (the CA state, the published bundle, a user's Secret), and parsing them
 * (ASN.1, extensions, signature checks) was most of a steady pass's CPU time. Bounded, least
 * recently used out first.
 */
export class CertificateMemo<T> {
  private readonly entries = new Map<string, T>();
  constructor(private readonly limit = 256) {}

  get(key: string, compute: () => T): T {
    if (this.entries.has(key)) {
      const value = this.entries.get(key)!;
      this.entries.delete(key);
      this.entries.set(key, value);
      return value;
    }
    const value = compute();
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

const described = new CertificateMemo<CertificateInfo>();
const fingerprinted = new CertificateMemo<string | undefined>();
const issuers = new CertificateMemo<string | undefined>();
const keyMatches = new CertificateMemo<boolean>();

/** Parses the first certificate of a PEM string. Throws a readable error on malformed input. */
export async function describeCertificate(pem: string): Promise<CertificateInfo> {
  // A copy: the caller may change what it gets (a failure is not kept: it throws each time).
  const info = described.get(pem, () => parseCertificateInfo(pem));
  return { ...info, notBefore: new Date(info.notBefore), notAfter: new Date(info.notAfter), dnsNames: [...info.dnsNames], ipAddresses: [...info.ipAddresses] };
}

function parseCertificateInfo(pem: string): CertificateInfo {
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(pem);
  } catch (error) {
    throw new Error(`not a PEM-encoded X.509 certificate: ${(error as Error).message}`);
  }
  const basic = certificate.getExtension(x509.BasicConstraintsExtension);
  // Synchronous, like every other step here: WebCrypto's digest would be a trip to the thread pool.
  const digest = createHash('sha256').update(new Uint8Array(certificate.rawData)).digest('hex');
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
    const fingerprint = fingerprinted.get(block, () => {
      try {
        return new NodeX509Certificate(block).fingerprint256.toLowerCase();
      } catch {
        return undefined; // Not a certificate after all: it cannot be a root anyone trusts.
      }
    });
    if (fingerprint !== undefined) fingerprints.push(fingerprint);
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
  // Kept by a digest of the pair: the cache never holds the key itself.
  const pair = createHash('sha256').update(privateKeyPem).update('\0').update(certificatePem).digest('hex');
  return keyMatches.get(pair, () => keyMatchesCertificateUncached(privateKeyPem, certificatePem));
}

function keyMatchesCertificateUncached(privateKeyPem: string, certificatePem: string): boolean {
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
  // The key joins the texts with a character PEM never holds.
  return issuers.get([certificatePem, ...candidatePems].join('\0'), () => findIssuerUncached(certificatePem, candidatePems));
}

function findIssuerUncached(certificatePem: string, candidatePems: readonly string[]): string | undefined {
  const certificate = new NodeX509Certificate(certificatePem);
  return candidatePems.find((pem) => {
    const candidate = new NodeX509Certificate(pem);
    // verify() checks the signature only: validity periods are judged separately, with the caller's clock.
    return certificate.checkIssued(candidate) && certificate.verify(candidate.publicKey);
  });
}
