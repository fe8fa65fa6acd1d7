/**
 * The mesh certificate authority as data: creating a root and issuer, renewing the issuer, issuing
 * serving certificates for mesh webhooks, checking material a user brings (External), and the
 * state Secret's encoding. No I/O: the caller passes the time and stores the result, so all of it
 * is tested with a fixed clock.
 *
 * The state lives in one Secret per installation (see {@link encodeAuthorityState}); the mesh's own
 * layout (Istio's `cacerts`, Linkerd's issuer Secret and trust roots) is rendered from it. Keeping
 * the root key apart from what the mesh reads means the mesh never holds the root key, and a
 * foreign edit of the mesh's Secret is repaired from the state instead of adopted.
 */
import { createHash } from 'node:crypto';
import type { CertificateAuthorityMaterial, CertificateAuthorityProfile, CertificateSubject, ServingCertificate } from '../distributions/distribution.ts';
import {
  createSelfSigned, describeCertificate, findIssuer, generateKeyPair, isPrivateKey, issueCertificate, keyMatchesCertificate, splitCertificates,
  type CertificateInfo, type CertificateWithKey, type KeyAlgorithm, type KeyPair,
} from './x509.ts';
import { ReconcileError } from '../runtime/errors.ts';

/**
 * Why CA material cannot be used. `needsPerson`: nothing will change until someone fixes a Secret
 * (shown as Stalled); otherwise the material may still arrive (e.g. cert-manager has not written
 * it yet). Either way the fix happens outside the spec, so the reconcile keeps retrying with backoff.
 */
export class CertificateAuthorityError extends ReconcileError {
  constructor(reason: string, message: string, readonly needsPerson = true) {
    super(reason, message, { stalls: needsPerson });
    this.name = 'CertificateAuthorityError';
  }
}

/** Lifetimes and algorithm for what the operator issues. */
export interface AuthoritySettings {
  profile: CertificateAuthorityProfile;
  keyAlgorithm: KeyAlgorithm;
  rootTtlMs: number;
  issuerTtlMs: number;
  /** Renew the issuer (and serving certificates) when less than this is left. */
  renewBeforeMs: number;
}

/** Everything the operator keeps about one installation's CA. */
export interface AuthorityState {
  /** The self-signed root with its key; absent for External (the user keeps the root key). */
  root?: CertificateWithKey;
  /**
   * The new root of a root rotation under way (pki/rotation-state.ts), with its key: created once
   * per rotation and kept here, beside the root in use, until it is promoted to root.
   */
  nextRoot?: CertificateWithKey;
  /**
   * External: the user's new material a root rotation moves the mesh onto (their Secret holds a
   * root the mesh does not trust yet), kept here until the rotation makes it the material in use.
   */
  nextExternal?: { trustAnchorsPem: string; issuer: { chainPem: string; privateKeyPem: string } };
  /** The trust anchors proxies must hold. */
  trustAnchorsPem: string;
  /** The issuer chain (issuer first, root excluded) and its key. */
  issuer: { chainPem: string; privateKeyPem: string };
  /** The CA of the mesh's webhook serving certificates (separate from the mesh root). */
  webhookCa?: CertificateWithKey;
  serving: Record<string, CertificateWithKey>;
}

/** What status may show about the CA: never key material. */
export interface AuthoritySummary {
  rootFingerprint: string;
  rootNotAfter: string;
  intermediateNotAfter: string;
  /** sha256 of the trust anchors, so pods can record which bundle they started with. */
  trustBundleHash: string;
  keyAlgorithm: KeyAlgorithm | 'other';
}

/** Serving certificates last a year, their CA ten; both renewed like the issuer. */
const SERVING_TTL_MS = 365 * 24 * 3_600_000;
const WEBHOOK_CA_TTL_MS = 10 * SERVING_TTL_MS;
/** Backdating tolerates clock skew between the operator and the nodes. */
const BACKDATE_MS = 5 * 60_000;

function distinguishedName(subject: CertificateSubject): string {
  return subject.organization ? `O=${subject.organization}, CN=${subject.commonName}` : `CN=${subject.commonName}`;
}

const window = (now: number, ttlMs: number) => ({ notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + ttlMs) });

async function issueIssuer(root: CertificateWithKey, settings: AuthoritySettings, now: number, keys?: KeyPair): Promise<CertificateWithKey> {
  return issueCertificate({
    subject: distinguishedName(settings.profile.issuer), ...window(now, settings.issuerTtlMs), keyAlgorithm: settings.keyAlgorithm,
    isCA: true, pathLength: 0, dnsNames: settings.profile.issuerDnsNames,
  }, root, keys);
}

/** A new self-signed root and an issuer signed by it. */
export async function createSelfSignedAuthority(settings: AuthoritySettings, now: number): Promise<AuthorityState> {
  // Both key pairs at once: key generation runs off the main thread, and RSA takes long enough to matter.
  const [rootKeys, issuerKeys] = await Promise.all([generateKeyPair(settings.keyAlgorithm), generateKeyPair(settings.keyAlgorithm)]);
  const root = await createSelfSigned({
    subject: distinguishedName(settings.profile.root), ...window(now, settings.rootTtlMs), keyAlgorithm: settings.keyAlgorithm, isCA: true, pathLength: 1,
  }, rootKeys);
  const issuer = await issueIssuer(root, settings, now, issuerKeys);
  return { root, trustAnchorsPem: root.certificatePem, issuer: { chainPem: issuer.certificatePem, privateKeyPem: issuer.privateKeyPem }, serving: {} };
}

/**
 * The key pairs that creating the CA of one installation takes, per algorithm, at most, for any of
 * `profiles`: a root and an issuer in each algorithm the mesh accepts (the spec may choose any of
 * them), and where the mesh asks for serving certificates a webhook CA and a pair for each, all
 * ECDSA P-256 (see {@link issueServing}). Kept spare, an install generates no key pair on its
 * pass; installations arrive one at a time, and the spares are made again between them.
 */
export function keyPairsForNewAuthority(profiles: readonly CertificateAuthorityProfile[]): Partial<Record<KeyAlgorithm, number>> {
  const most: Partial<Record<KeyAlgorithm, number>> = {};
  for (const profile of profiles) {
    const needs: Partial<Record<KeyAlgorithm, number>> = {};
    for (const algorithm of profile.keyAlgorithms) needs[algorithm] = 2;
    const serving = profile.servingCertificates?.length ?? 0;
    if (serving > 0) needs.ECDSAP256 = (needs.ECDSAP256 ?? 0) + 1 + serving;
    for (const [algorithm, count] of Object.entries(needs) as Array<[KeyAlgorithm, number]>) most[algorithm] = Math.max(most[algorithm] ?? 0, count);
  }
  return most;
}

/** A fresh issuer from the existing root (the root, and so the trust, stay the same). */
export async function renewIssuer(state: AuthorityState, settings: AuthoritySettings, now: number): Promise<AuthorityState> {
  if (!state.root) throw new CertificateAuthorityError('IssuerNotRenewable', 'the issuer of an External CA is renewed by whoever owns the Secret (e.g. cert-manager), not by the operator');
  const issuer = await issueIssuer(state.root, settings, now);
  return { ...state, issuer: { chainPem: issuer.certificatePem, privateKeyPem: issuer.privateKeyPem } };
}

/** What the issuer's key must be: one the mesh accepts, and the one the spec asks for when it names one. */
export interface KeyRequirement {
  mesh: string;
  /** Every algorithm the mesh can work with (its CA profile's `keyAlgorithms`). */
  accepted: readonly KeyAlgorithm[];
  /** spec.certificateAuthority.keyAlgorithm, where it binds (External). */
  asked?: KeyAlgorithm;
}

/** Where checked material came from (a Secret and its keys), so that a message points at what to fix. */
export interface MaterialOrigin {
  /** e.g. `Secret cert-manager/linkerd-identity-issuer`. */
  source: string;
  trustAnchors: string;
  issuer: string;
  key: string;
}

/** The key algorithm in words, for messages. */
const algorithmName = (algorithm: KeyAlgorithm | 'other') => (algorithm === 'other' ? 'another algorithm (neither ECDSAP256 nor RSA2048)' : algorithm);

/**
 * The algorithm the operator issues with: the spec's, or the mesh's default; one the mesh does
 * not accept is refused (a mesh's own CEL rule says so at admission; this holds for every mesh).
 */
export function issuingAlgorithm(asked: KeyAlgorithm | undefined, profile: CertificateAuthorityProfile, mesh: string): KeyAlgorithm {
  const algorithm = asked ?? profile.defaultKeyAlgorithm;
  if (!profile.keyAlgorithms.includes(algorithm)) {
    throw new CertificateAuthorityError('KeyAlgorithmMismatch', `spec.certificateAuthority.keyAlgorithm is ${algorithm}, but mesh ${mesh} accepts only ${profile.keyAlgorithms.join(' or ')}: set one of those, or leave it unset`);
  }
  return algorithm;
}

/** When a certificate must be renewed: renewBefore ahead of its expiry. */
function renewalDue(info: CertificateInfo, renewBeforeMs: number): number {
  return info.notAfter.getTime() - renewBeforeMs;
}

/** What the state needs next, and when to look again. */
export interface AuthorityPlan {
  renewIssuer: boolean;
  /** Serving certificates to (re)issue: missing, expiring, or with other DNS names than wanted. */
  issueServing: string[];
  /** The earliest time something will need renewing (epoch ms). */
  nextCheckAt: number;
}

/** Decides what the state needs at `now` (the CA state machine's pure step). */
export async function planAuthority(state: AuthorityState, settings: AuthoritySettings, now: number): Promise<AuthorityPlan> {
  // An edited state is a reason on the condition, never an unexplained failure.
  const issuer = await describeCertificate(state.issuer.chainPem).catch((error: Error) => {
    throw new CertificateAuthorityError('IssuerInvalid', `the issuer certificate cannot be parsed: ${error.message}`);
  });
  const issuerDue = renewalDue(issuer, settings.renewBeforeMs);
  // An External issuer is not ours to renew, but its renewal window is when status should warn.
  const dues = [issuerDue];
  const issueServing: string[] = [];
  for (const wanted of settings.profile.servingCertificates ?? []) {
    const current = state.serving[wanted.name];
    if (!current || !state.webhookCa) {
      issueServing.push(wanted.name);
      continue;
    }
    const info = await describeCertificate(current.certificatePem).catch(() => undefined);
    // A serving certificate that cannot be read is issued again, like a missing one.
    if (!info) {
      issueServing.push(wanted.name);
      continue;
    }
    const due = renewalDue(info, settings.renewBeforeMs);
    const sameNames = [...info.dnsNames].sort().join() === [...wanted.dnsNames].sort().join();
    if (due <= now || !sameNames) issueServing.push(wanted.name);
    else dues.push(due);
  }
  // A root is not renewed here (rotation is its own step), but the check must run again when one
  // lapses, so that status says so then rather than at the next renewal.
  for (const anchor of splitCertificates(state.trustAnchorsPem)) {
    const info = await describeCertificate(anchor).catch(() => undefined);
    if (info) dues.push(info.notAfter.getTime());
  }
  return { renewIssuer: state.root !== undefined && issuerDue <= now, issueServing, nextCheckAt: Math.min(...dues) };
}

/** Issues the named serving certificates (creating the webhook CA first if there is none). */
export async function issueServing(state: AuthorityState, settings: AuthoritySettings, names: readonly string[], now: number): Promise<AuthorityState> {
  // Serving certificates are always ECDSA P-256: the API server and every mesh accept it, and
  // the choice of the mesh CA's algorithm says nothing about webhook TLS.
  const webhookCa = state.webhookCa ?? await createSelfSigned({ subject: 'CN=meshwright-webhook-ca', ...window(now, WEBHOOK_CA_TTL_MS), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 });
  const serving = { ...state.serving };
  for (const name of names) {
    const wanted = settings.profile.servingCertificates?.find((s) => s.name === name);
    if (!wanted) continue;
    serving[name] = await issueCertificate({ subject: `CN=${wanted.dnsNames[0] ?? name}`, ...window(now, SERVING_TTL_MS), keyAlgorithm: 'ECDSAP256', dnsNames: wanted.dnsNames, usages: ['serverAuth'] }, webhookCa);
  }
  return { ...state, webhookCa, serving };
}

/** The material a renderer receives (the root key never leaves the state). */
export function materialOf(state: AuthorityState): CertificateAuthorityMaterial {
  const serving: Record<string, ServingCertificate> = {};
  for (const [name, cert] of Object.entries(state.serving)) {
    serving[name] = { certificatePem: cert.certificatePem, privateKeyPem: cert.privateKeyPem, caBundlePem: state.webhookCa?.certificatePem ?? '' };
  }
  return { trustAnchorsPem: state.trustAnchorsPem, issuerChainPem: state.issuer.chainPem, issuerKeyPem: state.issuer.privateKeyPem, serving };
}

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Checks that material can serve as the mesh CA at `now`: trust anchors are valid CA certificates,
 * the issuer is a CA whose chain leads to one of them, nothing has expired, the key is a private
 * key and belongs to the issuer, and (when given) the issuer and its anchor use an algorithm the
 * mesh accepts, the issuer the one the spec asks for. Each failure says what to fix, and where
 * (`origin`), never quoting a value.
 */
export async function checkMaterial(material: CertificateAuthorityMaterial, now: number, requirement?: KeyRequirement, origin?: MaterialOrigin): Promise<AuthoritySummary> {
  const at = (what: string, part: keyof Omit<MaterialOrigin, 'source'>) => (origin ? `${what} (${origin[part]} of ${origin.source})` : what);
  const anchors = splitCertificates(material.trustAnchorsPem);
  if (anchors.length === 0) throw new CertificateAuthorityError('TrustAnchorsInvalid', `${at('the trust anchors', 'trustAnchors')} hold no PEM certificate`);
  const chain = splitCertificates(material.issuerChainPem);
  if (chain.length === 0) throw new CertificateAuthorityError('IssuerInvalid', `${at('the issuer certificate', 'issuer')} is missing or not PEM`);
  const describe = async (pem: string, what: string) => {
    try {
      return await describeCertificate(pem);
    } catch (error) {
      const anchor = what === 'trust anchor';
      throw new CertificateAuthorityError(anchor ? 'TrustAnchorsInvalid' : 'IssuerInvalid', `${at(`the ${what}`, anchor ? 'trustAnchors' : 'issuer')} cannot be parsed: ${(error as Error).message}`);
    }
  };
  const anchorInfos = await Promise.all(anchors.map((pem) => describe(pem, 'trust anchor')));
  const chainInfos = await Promise.all(chain.map((pem) => describe(pem, 'issuer certificate')));
  for (const info of [...anchorInfos, ...chainInfos]) {
    if (info.notAfter.getTime() <= now) throw new CertificateAuthorityError('CertificateExpired', `${info.subject} expired at ${iso(info.notAfter)}; renew it or replace the Secret`);
    if (info.notBefore.getTime() > now + BACKDATE_MS) throw new CertificateAuthorityError('CertificateNotYetValid', `${info.subject} is not valid before ${iso(info.notBefore)}`);
  }
  const notCa = [...anchorInfos, chainInfos[0]!].find((info) => !info.isCA);
  if (notCa) throw new CertificateAuthorityError('NotACertificateAuthority', `${notCa.subject} is not a CA certificate (basicConstraints CA:TRUE is missing): the issuer and trust anchors must be CAs`);
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!findIssuer(chain[i]!, [chain[i + 1]!])) {
      throw new CertificateAuthorityError('ChainBroken', `the issuer chain is broken: ${chainInfos[i]!.subject} is not signed by the next certificate, ${chainInfos[i + 1]!.subject}`);
    }
  }
  // The chain's last certificate is a trust anchor itself, or is signed by one.
  const topFingerprint = chainInfos.at(-1)!.sha256Fingerprint;
  const issuingAnchor = anchorInfos.findIndex((info) => info.sha256Fingerprint === topFingerprint);
  const anchorIndex = issuingAnchor >= 0 ? issuingAnchor : anchors.indexOf(findIssuer(chain.at(-1)!, anchors) ?? '');
  if (anchorIndex < 0) {
    throw new CertificateAuthorityError('ChainBroken', `the issuer chain does not lead to a trust anchor: ${chainInfos.at(-1)!.subject} (issued by ${chainInfos.at(-1)!.issuer}) is signed by none of ${anchorInfos.map((a) => a.subject).join('; ')}`);
  }
  if (!isPrivateKey(material.issuerKeyPem)) {
    throw new CertificateAuthorityError('KeyInvalid', `${at('the private key', 'key')} cannot be read as a PEM private key`);
  }
  if (!keyMatchesCertificate(material.issuerKeyPem, chain[0]!)) {
    throw new CertificateAuthorityError('KeyMismatch', `${at('the private key', 'key')} does not belong to the issuer certificate ${chainInfos[0]!.subject}`);
  }
  const anchor = anchorInfos[anchorIndex]!;
  if (requirement) {
    const issuerAlgorithm = chainInfos[0]!.keyAlgorithm;
    const accepted = requirement.accepted.join(' or ');
    const where = origin ? ` (${origin.issuer} of ${origin.source})` : '';
    if (!(requirement.accepted as readonly string[]).includes(issuerAlgorithm)) {
      throw new CertificateAuthorityError('KeyAlgorithmMismatch', `the issuer key is ${algorithmName(issuerAlgorithm)}, but mesh ${requirement.mesh} accepts only ${accepted}${where}: issue the issuer with one of those`);
    }
    if (!(requirement.accepted as readonly string[]).includes(anchor.keyAlgorithm)) {
      throw new CertificateAuthorityError('KeyAlgorithmMismatch', `the trust anchor ${anchor.subject} has a key of ${algorithmName(anchor.keyAlgorithm)}, but mesh ${requirement.mesh} accepts only ${accepted}: use a root with one of those`);
    }
    if (requirement.asked && issuerAlgorithm !== requirement.asked) {
      throw new CertificateAuthorityError('KeyAlgorithmMismatch', `the issuer key is ${algorithmName(issuerAlgorithm)}, but spec.certificateAuthority.keyAlgorithm asks for ${requirement.asked}${where}`);
    }
  }
  return {
    rootFingerprint: anchor.sha256Fingerprint,
    rootNotAfter: iso(anchor.notAfter),
    intermediateNotAfter: iso(chainInfos[0]!.notAfter),
    trustBundleHash: `sha256:${createHash('sha256').update(material.trustAnchorsPem.trim()).digest('hex')}`,
    keyAlgorithm: chainInfos[0]!.keyAlgorithm,
  };
}

/**
 * Material from an External Secret in cert-manager's layout: `ca.crt` (trust anchors), `tls.crt`
 * (issuer, optionally followed by its chain; a trailing root is dropped), `tls.key`.
 */
export function externalMaterial(data: Record<string, string> | undefined, where: string): CertificateAuthorityMaterial {
  const decoded = (key: string) => data?.[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8');
  const missing = ['ca.crt', 'tls.crt', 'tls.key'].filter((key) => !decoded(key)?.trim());
  if (missing.length > 0) throw new CertificateAuthorityError('SecretIncomplete', `Secret ${where} lacks ${missing.join(', ')}: it must hold ca.crt (trust anchors), tls.crt (issuer certificate) and tls.key (issuer key)`);
  const anchors = decoded('ca.crt')!;
  const anchorSet = new Set(splitCertificates(anchors).map((pem) => pem.replace(/\s/g, '')));
  const chain = splitCertificates(decoded('tls.crt')!).filter((pem, i) => i === 0 || !anchorSet.has(pem.replace(/\s/g, '')));
  return { trustAnchorsPem: anchors, issuerChainPem: chain.join('') || decoded('tls.crt')!, issuerKeyPem: decoded('tls.key')! };
}

/** Keys of the state Secret. */
const KEYS = {
  rootCert: 'root.crt', rootKey: 'root.key', nextRootCert: 'next-root.crt', nextRootKey: 'next-root.key',
  nextAnchors: 'next-trust-anchors.crt', nextIssuerChain: 'next-issuer.crt', nextIssuerKey: 'next-issuer.key', anchors: 'trust-anchors.crt', issuerChain: 'issuer.crt', issuerKey: 'issuer.key',
  webhookCaCert: 'webhook-ca.crt', webhookCaKey: 'webhook-ca.key',
} as const;
const SERVING_PREFIX = 'serving.';

/** The state as Secret `data` (base64 values). */
export function encodeAuthorityState(state: AuthorityState): Record<string, string> {
  const plain: Record<string, string> = {
    [KEYS.anchors]: state.trustAnchorsPem, [KEYS.issuerChain]: state.issuer.chainPem, [KEYS.issuerKey]: state.issuer.privateKeyPem,
  };
  if (state.root) Object.assign(plain, { [KEYS.rootCert]: state.root.certificatePem, [KEYS.rootKey]: state.root.privateKeyPem });
  if (state.nextRoot) Object.assign(plain, { [KEYS.nextRootCert]: state.nextRoot.certificatePem, [KEYS.nextRootKey]: state.nextRoot.privateKeyPem });
  if (state.nextExternal) {
    Object.assign(plain, { [KEYS.nextAnchors]: state.nextExternal.trustAnchorsPem, [KEYS.nextIssuerChain]: state.nextExternal.issuer.chainPem, [KEYS.nextIssuerKey]: state.nextExternal.issuer.privateKeyPem });
  }
  if (state.webhookCa) Object.assign(plain, { [KEYS.webhookCaCert]: state.webhookCa.certificatePem, [KEYS.webhookCaKey]: state.webhookCa.privateKeyPem });
  for (const [name, cert] of Object.entries(state.serving)) {
    plain[`${SERVING_PREFIX}${name}.crt`] = cert.certificatePem;
    plain[`${SERVING_PREFIX}${name}.key`] = cert.privateKeyPem;
  }
  return Object.fromEntries(Object.entries(plain).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** Reads the state back; a Secret that lost required keys is an error to show, never to overwrite. */
export function decodeAuthorityState(data: Record<string, string> | undefined, where: string): AuthorityState {
  const get = (key: string) => data?.[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8');
  const required = [KEYS.anchors, KEYS.issuerChain, KEYS.issuerKey];
  const missing = required.filter((key) => !get(key));
  if (missing.length > 0) {
    throw new CertificateAuthorityError('StateSecretInvalid', `the CA state Secret ${where} lacks ${missing.join(', ')}; the operator will not replace a CA that may be in use: restore the Secret from a backup (the root key is nowhere else); to start a new CA instead, delete the Secret and follow what the installation's status then says`);
  }
  const pair = (cert: string, key: string) => (get(cert) && get(key) ? { certificatePem: get(cert)!, privateKeyPem: get(key)! } : undefined);
  const serving: Record<string, CertificateWithKey> = {};
  for (const key of Object.keys(data ?? {})) {
    const match = key.startsWith(SERVING_PREFIX) && key.endsWith('.crt') ? key.slice(SERVING_PREFIX.length, -'.crt'.length) : undefined;
    const cert = match ? pair(key, `${SERVING_PREFIX}${match}.key`) : undefined;
    if (match && cert) serving[match] = cert;
  }
  const nextRoot = pair(KEYS.nextRootCert, KEYS.nextRootKey);
  const [nextAnchors, nextChain, nextKey] = [get(KEYS.nextAnchors), get(KEYS.nextIssuerChain), get(KEYS.nextIssuerKey)];
  return {
    root: pair(KEYS.rootCert, KEYS.rootKey),
    ...(nextRoot ? { nextRoot } : {}),
    ...(nextAnchors && nextChain && nextKey ? { nextExternal: { trustAnchorsPem: nextAnchors, issuer: { chainPem: nextChain, privateKeyPem: nextKey } } } : {}),
    trustAnchorsPem: get(KEYS.anchors)!,
    issuer: { chainPem: get(KEYS.issuerChain)!, privateKeyPem: get(KEYS.issuerKey)! },
    webhookCa: pair(KEYS.webhookCaCert, KEYS.webhookCaKey),
    serving,
  };
}
