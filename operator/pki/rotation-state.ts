/**
 * The CA-state side of a root rotation: what each action of {@link planRootRotation} does to the
 * operator's CA state, and the public facts the planner reads from it. Pure (the clock a
 * parameter, no I/O): the caller stores the result in the state Secret and renders the mesh's
 * layout from it (controllers/meshinstallation/rotation.ts runs them).
 *
 * Every transform is idempotent — run again after a kill it returns the state it returned the
 * first time, or one just as safe — because phased-work.ts may run an action twice.
 */
import { trustBundleSha256 } from '../distributions/injection.ts';
import { createSelfSignedAuthority, renewIssuer, type AuthoritySettings, type AuthorityState } from './authority.ts';
import type { RotationObservation } from './rotation.ts';
import { describeCertificate, findIssuer, splitCertificates, type CertificateWithKey } from './x509.ts';

/** The CA state during a rotation: the new root (`nextRoot`) is kept beside the one in use until it is promoted. */
export type RotatingAuthorityState = AuthorityState;

function requireRoots(state: RotatingAuthorityState, action: string): { root: CertificateWithKey; next: CertificateWithKey } {
  if (!state.root || !state.nextRoot) throw new Error(`${action}: the CA state holds no ${state.root ? 'new' : 'current'} root (a self-signed rotation needs both)`);
  return { root: state.root, next: state.nextRoot };
}

/** generateNewRoot: a new root kept in the state; a state that already has one is returned as it is (never a second). */
export async function stageNewRoot(state: RotatingAuthorityState, settings: AuthoritySettings, now: number): Promise<RotatingAuthorityState> {
  if (state.nextRoot) return state;
  // Only the root of a fresh authority is kept: the issuer is issued at the switch, so its lifetime starts there.
  const { root } = await createSelfSignedAuthority(settings, now);
  return { ...state, nextRoot: root };
}

/** publishOverlapBundle: trust anchors [root, next]; the issuer unchanged. */
export function publishOverlap(state: RotatingAuthorityState): RotatingAuthorityState {
  const { root, next } = requireRoots(state, 'publishOverlapBundle');
  return { ...state, trustAnchorsPem: root.certificatePem + next.certificatePem };
}

/**
 * switchIssuer: an issuer signed by the new root, and the anchors [root, next, next]. The bundle
 * must change, or the data plane would not restart again (its hash is the rollout's target, see
 * rotation.ts); it changes by repeating the new root rather than by reordering, because istiod
 * takes a changed `root-cert.pem` only when the new bytes contain the old ones or the reverse
 * (pilot's cacerts watcher, ISTIO_MULTIROOT_MESH): [R] ⊂ [R, N] ⊂ [R, N, N] ⊃ [N], every step
 * of the rotation is one it accepts. A duplicate certificate in a trust bundle is harmless to
 * every proxy. An issuer already signed by the new root is kept.
 */
export async function switchIssuerToNewRoot(state: RotatingAuthorityState, settings: AuthoritySettings, now: number): Promise<RotatingAuthorityState> {
  const { root, next } = requireRoots(state, 'switchIssuer');
  const issuerFirst = splitCertificates(state.issuer.chainPem)[0] ?? '';
  const switched = findIssuer(issuerFirst, [next.certificatePem]) ? state : await renewIssuer({ ...state, root: next }, settings, now).then((renewed) => ({ ...renewed, root }));
  return { ...switched, nextRoot: next, trustAnchorsPem: root.certificatePem + next.certificatePem + next.certificatePem };
}

/**
 * A renewed issuer, signed by the root that signs the issuer in use: after the switch (and until
 * the promotion) that is the new root, and an issuer renewed from the old one then would chain to
 * a root proxies are about to stop trusting.
 */
export async function renewIssuerFromItsRoot(state: RotatingAuthorityState, settings: AuthoritySettings, now: number): Promise<RotatingAuthorityState> {
  const issuerFirst = splitCertificates(state.issuer.chainPem)[0] ?? '';
  if (!state.root || !state.nextRoot || !findIssuer(issuerFirst, [state.nextRoot.certificatePem])) return renewIssuer(state, settings, now);
  const renewed = await renewIssuer({ ...state, root: state.nextRoot }, settings, now);
  return { ...renewed, root: state.root };
}

/** publishNewRootOnly: the new root becomes the root, alone in the anchors; the old root and its key leave the state. */
export function promoteNewRoot(state: RotatingAuthorityState): RotatingAuthorityState {
  const { next } = requireRoots(state, 'publishNewRootOnly');
  const { nextRoot: _promoted, ...rest } = state;
  return { ...rest, root: next, trustAnchorsPem: next.certificatePem };
}

/**
 * What the planner reads of a self-signed CA state: fingerprints and expiries, never a key.
 * `publishedBundleSha256` is the hash pods are compared against — the injector's hash of the
 * anchors as the mesh publishes them (`wantedProxy(...).trustBundleSha256`), which the planner
 * matches with each pod's `meshwright.dev/trust-bundle-sha256`; without it, the injector's hash of
 * the state's anchors.
 */
export async function rotationFacts(state: RotatingAuthorityState, publishedBundleSha256 = trustBundleSha256(state.trustAnchorsPem)): Promise<RotationObservation['ca']> {
  if (!state.root) throw new Error('rotationFacts: the CA state holds no root (External material is read from the user\'s Secret)');
  const describe = async (certificate: CertificateWithKey) => {
    const info = await describeCertificate(certificate.certificatePem);
    return { fingerprint: info.sha256Fingerprint, notAfter: info.notAfter.getTime() };
  };
  const anchors = splitCertificates(state.trustAnchorsPem);
  const anchorFingerprints = await Promise.all(anchors.map(async (pem) => (await describeCertificate(pem)).sha256Fingerprint));
  // The chain's last certificate is the one a root signed.
  const chainTop = splitCertificates(state.issuer.chainPem).at(-1) ?? '';
  const signer = findIssuer(chainTop, [state.root.certificatePem, ...(state.nextRoot ? [state.nextRoot.certificatePem] : []), ...anchors]);
  return {
    root: await describe(state.root),
    next: state.nextRoot ? await describe(state.nextRoot) : undefined,
    trustAnchors: anchorFingerprints,
    // A signer found nowhere reads as "none": the planner then pauses on an inconsistent state.
    issuerRoot: signer ? (await describeCertificate(signer)).sha256Fingerprint : 'none',
    trustBundleHash: publishedBundleSha256,
  };
}

// --- External: the user's Secret holds the new root and an issuer signed by it ---------------------

/** The certificates of `pem` whose bytes (line breaks aside) are not among `others`'. */
function certificatesNotIn(pem: string, others: string): string[] {
  const known = new Set(splitCertificates(others).map((c) => c.replace(/\s/g, '')));
  return splitCertificates(pem).filter((c) => !known.has(c.replace(/\s/g, '')));
}

function requireNextExternal(state: RotatingAuthorityState, action: string): NonNullable<RotatingAuthorityState['nextExternal']> {
  if (!state.nextExternal) throw new Error(`${action}: the CA state holds no staged External material`);
  return state.nextExternal;
}

/** stageExternalRoot: the user's new material kept in the state; what the mesh uses stays as it is. */
export function stageExternal(state: RotatingAuthorityState, material: { trustAnchorsPem: string; issuerChainPem: string; issuerKeyPem: string }): RotatingAuthorityState {
  if (state.nextExternal) return state;
  return { ...state, nextExternal: { trustAnchorsPem: material.trustAnchorsPem, issuer: { chainPem: material.issuerChainPem, privateKeyPem: material.issuerKeyPem } } };
}

/** publishOverlapBundle (External): the anchors in use followed by the user's new ones; the issuer unchanged. */
export function publishExternalOverlap(state: RotatingAuthorityState): RotatingAuthorityState {
  const next = requireNextExternal(state, 'publishOverlapBundle');
  const old = certificatesNotIn(state.trustAnchorsPem, next.trustAnchorsPem);
  return { ...state, trustAnchorsPem: [...old, ...splitCertificates(next.trustAnchorsPem)].join('') };
}

/** switchIssuer (External): the user's new issuer; anchors old + new + new, as {@link switchIssuerToNewRoot} and for the same reasons. */
export function switchToExternalIssuer(state: RotatingAuthorityState): RotatingAuthorityState {
  const next = requireNextExternal(state, 'switchIssuer');
  const old = certificatesNotIn(state.trustAnchorsPem, next.trustAnchorsPem);
  const fresh = splitCertificates(next.trustAnchorsPem);
  return { ...state, issuer: next.issuer, trustAnchorsPem: [...old, ...fresh, ...fresh].join('') };
}

/** publishNewRootOnly (External): the user's material alone is what the mesh uses; the staged copy leaves the state. */
export function promoteExternal(state: RotatingAuthorityState): RotatingAuthorityState {
  const next = requireNextExternal(state, 'publishNewRootOnly');
  const { nextExternal: _promoted, ...rest } = state;
  return { ...rest, issuer: next.issuer, trustAnchorsPem: next.trustAnchorsPem };
}

/**
 * What the planner reads of an External CA state: the root in use (the published anchor not among
 * the staged material's, or the one signing the issuer), the staged root (the one signing the
 * staged issuer), the published anchors and which of them signs the issuer in use.
 */
export async function externalRotationFacts(state: RotatingAuthorityState, publishedBundleSha256: string): Promise<RotationObservation['ca']> {
  const fingerprint = async (pem: string) => (await describeCertificate(pem)).sha256Fingerprint;
  const describe = async (pem: string) => {
    const info = await describeCertificate(pem);
    return { fingerprint: info.sha256Fingerprint, notAfter: info.notAfter.getTime() };
  };
  const anchors = splitCertificates(state.trustAnchorsPem);
  const chainTop = splitCertificates(state.issuer.chainPem).at(-1) ?? '';
  const nextAnchors = state.nextExternal ? splitCertificates(state.nextExternal.trustAnchorsPem) : [];
  const nextRoot = state.nextExternal ? findIssuer(splitCertificates(state.nextExternal.issuer.chainPem).at(-1) ?? '', nextAnchors) : undefined;
  const signer = findIssuer(chainTop, [...anchors, ...nextAnchors]);
  const old = state.nextExternal ? certificatesNotIn(state.trustAnchorsPem, state.nextExternal.trustAnchorsPem)[0] : undefined;
  const root = old ?? signer ?? anchors[0] ?? '';
  return {
    root: await describe(root),
    next: nextRoot ? await describe(nextRoot) : undefined,
    trustAnchors: await Promise.all(anchors.map(fingerprint)),
    issuerRoot: signer ? await fingerprint(signer) : 'none',
    trustBundleHash: publishedBundleSha256,
  };
}

/** The fingerprint of the root (of `anchorsPem`) that signed the top of `issuerChainPem`; undefined when none did. */
export async function issuingRootFingerprint(issuerChainPem: string, anchorsPem: string): Promise<string | undefined> {
  const signer = findIssuer(splitCertificates(issuerChainPem).at(-1) ?? '', splitCertificates(anchorsPem));
  return signer ? (await describeCertificate(signer)).sha256Fingerprint : undefined;
}
