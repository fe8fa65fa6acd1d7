/**
 * The PKI step of a reconcile: makes sure the installation's CA exists before anything that needs
 * it is applied, renews what is due, and hands the renderer the material.
 *
 * Rules that matter more than anything else here:
 * - A CA that exists is never regenerated. It is created once, with `create` (never an apply that
 *   could overwrite), after a live GET confirmed there is none; a state Secret that cannot be read
 *   is reported, not replaced.
 * - A root the cluster still trusts is never replaced unasked (see pki/continuity.ts): with the
 *   state Secret gone, what the mesh publishes (its distribution says where) is read before a new
 *   root is made; a change of CA type on a running mesh stalls.
 * - The state Secret (`meshwright-ca`) is then an owned object like any other: renewals reach it
 *   by server-side apply, and a foreign edit or deletion is repaired from the state this process
 *   last held, not adopted.
 */
import { createHash } from 'node:crypto';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { parseDuration } from '../api/duration.ts';
import type { CertificateAuthorityMaterial, CertificateAuthorityProfile, TrustAnchorLocation } from '../distributions/distribution.ts';
import {
  CertificateAuthorityError, checkMaterial, createSelfSignedAuthority, decodeAuthorityState, encodeAuthorityState, externalMaterial,
  issueServing, issuingAlgorithm, materialOf, planAuthority, type AuthoritySettings, type AuthoritySummary, type AuthorityState,
  type KeyRequirement, type MaterialOrigin,
} from '../pki/authority.ts';
import { ACCEPT_NEW_ROOT_ANNOTATION, planContinuity, type ContinuityFacts, type PublishedRoots } from '../pki/continuity.ts';
import { renewIssuerFromItsRoot } from '../pki/rotation-state.ts';
import { certificateFingerprints, findIssuer, splitCertificates } from '../pki/x509.ts';
import type { Clock } from '../runtime/clock.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../runtime/kube.ts';
import { INSTALLATION_LABEL } from './ownership.ts';

/** Name of the Secret holding an installation's CA state, in the control-plane namespace. */
export const CA_STATE_SECRET = 'meshwright-ca';

export { ACCEPT_NEW_ROOT_ANNOTATION };

/** A root this pass started using (a person should hear of it). */
export interface RootChange {
  /** Fingerprints of the new trust anchors. */
  roots: string[];
  /** The roots it replaces, as the user accepted; empty on a first install. */
  replaced: string[];
}

/** What the PKI step gives the rest of the reconcile. */
export interface CertificateAuthorityOutcome {
  material: CertificateAuthorityMaterial;
  summary: AuthoritySummary;
  /** The state Secret as it must be: part of the desired set. */
  stateSecret: KubeObject;
  /** When the CA needs looking at again (a renewal falls due), epoch ms. */
  nextCheckAt: number;
  /** The issuer is within renewBefore of expiry and is not ours to renew (External). */
  expiringSoon: boolean;
  /** Set when this pass started using a new root. */
  change?: RootChange;
  /** External: the user's material a root rotation is to move the mesh onto (its root is not trusted yet), checked. */
  externalTarget?: CertificateAuthorityMaterial;
  /** Set when this pass renewed the issuer under the same root (a person hears of it; no proxy needs a restart). */
  issuerRenewed?: { root: string; notAfter: string };
}

/** What the PKI step needs from the reconciler. */
export interface CertificateAuthorityContext {
  client: KubeClient;
  clock: Clock;
  /** The freshest known version of an object (cache or our own newer write). */
  live(object: KubeObject): KubeObject | undefined;
  /** Labels and annotates an object as owned by `installation` (same as every rendered object). */
  owned(object: KubeObject, installation: string): KubeObject;
  /** Records an object our own write returned, ahead of the watch event. */
  remember(before: KubeObject | undefined, after: KubeObject): void;
}

/** Identity of a state and the settings it was checked against (what a check's result depends on, apart from time). */
function stateKey(state: AuthorityState, settings: AuthoritySettings, requirement: KeyRequirement): string {
  return createHash('sha256').update(JSON.stringify([encodeAuthorityState(state), settings, requirement])).digest('hex');
}

function stateSecret(namespace: string, state: AuthorityState): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_STATE_SECRET, namespace }, type: 'Opaque', data: encodeAuthorityState(state),
  } as KubeObject;
}

/** The settings the spec and the mesh's profile ask for. */
export function authoritySettings(installation: DefaultedMeshInstallation, profile: CertificateAuthorityProfile): AuthoritySettings {
  const ca = installation.spec.certificateAuthority;
  return {
    profile,
    keyAlgorithm: issuingAlgorithm(ca.keyAlgorithm, profile, installation.spec.mesh),
    rootTtlMs: parseDuration(ca.rootTTL),
    issuerTtlMs: parseDuration(ca.intermediateTTL),
    renewBeforeMs: parseDuration(ca.renewBefore),
  };
}

/** Reasons about the user's External Secret itself. */
export const UserSecretReason = {
  /** The user's Secret has a name the operator writes (the mesh's own Secret, or the CA state) but not that layout. */
  SecretNameTaken: 'SecretNameTaken',
  /** secretRef names a Secret the operator itself writes. */
  SecretRefIsOurs: 'SecretRefIsOurs',
} as const;

const secretRefWhere = (ref: { namespace: string; name: string }) => `Secret ${ref.namespace}/${ref.name}, named in spec.certificateAuthority.secretRef,`;
const NOT_OURS = 'is yours, and the operator never writes over a Secret it did not create, so nothing is written';
const RENAME = 'give the Secret you keep the CA in another name (or keep it in another namespace) and point secretRef at it';

const pemBlocks = (text: string) => (text.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----/g) ?? []).map((block) => block.replace(/\s/g, ''));

/**
 * Whether `theirs` holds what `ours` does: the same PEM blocks in the same order (line breaks
 * aside), where a chain may end with trust anchors (cert-manager's CA issuer appends its CA);
 * other values compare as text.
 */
function sameContent(ours: string, theirs: string, anchors: ReadonlySet<string>): boolean {
  const [a, b] = [pemBlocks(ours), pemBlocks(theirs)];
  if (a.length === 0) return ours.trim() === theirs.trim();
  return a.length <= b.length && a.every((block, i) => block === b[i]) && b.slice(a.length).every((block) => anchors.has(block));
}

/**
 * How the user's External Secret may be used, given the objects the mesh renders from it. The operator never writes a Secret it did not create, so when its own
 * would have the same namespace and name, it either reads the user's in place — when that already
 * holds, under every key the mesh reads, what the operator would write (returns `true`: the render
 * leaves its own out) — or writes nothing and stalls. Returns `false` when nothing clashes (the
 * operator writes its copy under its own name). Never puts a value in a message.
 */
export function userSecretUse(secret: KubeObject & { data?: Record<string, string> }, rendered: readonly KubeObject[], material: CertificateAuthorityMaterial): boolean {
  const { namespace, name } = secret.metadata;
  const where = secretRefWhere({ namespace: namespace!, name });
  const owner = secret.metadata.labels?.[INSTALLATION_LABEL];
  if (owner !== undefined) {
    throw new CertificateAuthorityError(UserSecretReason.SecretRefIsOurs, `${where} is one meshwright writes itself (label ${INSTALLATION_LABEL}=${owner}), so it cannot be the source of the CA: point secretRef at the Secret your CA tooling (e.g. cert-manager) writes`);
  }
  const ours = rendered.find((o) => o.kind === 'Secret' && o.metadata.name === name && o.metadata.namespace === namespace) as (KubeObject & { data?: Record<string, string> }) | undefined;
  if (!ours) return false;
  const anchors = new Set(pemBlocks(material.trustAnchorsPem));
  const text = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
  const keys = Object.keys(ours.data ?? {}).sort();
  const differing = keys.filter((key) => secret.data?.[key] === undefined || !sameContent(text(ours.data![key]), text(secret.data[key]), anchors));
  if (differing.length === 0) return true;
  throw new CertificateAuthorityError(UserSecretReason.SecretNameTaken, `${where} ${NOT_OURS}: the mesh reads ${keys.join(', ')} from a Secret of that name, and yours does not hold them as the mesh needs them (${differing.join(', ')} missing or different). To fix it, ${RENAME}; the operator then writes what the mesh needs under ${namespace}/${name} itself`);
}

/** Refuses a secretRef that names the CA state Secret: reading it would mistake the user's Secret for the state, writing the state would overwrite it. */
function refuseStateSecretRef(ref: { namespace: string; name: string }, stateNamespace: string): void {
  if (ref.namespace !== stateNamespace || ref.name !== CA_STATE_SECRET) return;
  throw new CertificateAuthorityError(UserSecretReason.SecretNameTaken, `${secretRefWhere(ref)} ${NOT_OURS}: the operator keeps its CA state under that name. To fix it, ${RENAME}`);
}

/** Keeps each installation's CA; one instance per reconciler (it remembers the last good state). */
export class CertificateAuthorities {
  /** The state this process last held, by installation uid: the truth a foreign edit is repaired from. */
  private readonly lastKnown = new Map<string, AuthorityState>();
  /** The last state checked, by installation uid, with what the check found. */
  private readonly verified = new Map<string, { key: string; summary: AuthoritySummary; nextCheckAt: number }>();

  constructor(private readonly context: CertificateAuthorityContext) {}

  /** Forgets an installation (after its deletion). */
  forget(uid: string): void {
    this.lastKnown.delete(uid);
    this.verified.delete(uid);
  }

  /**
   * Whether {@link ensure} is about to create a new self-signed CA: none is known here nor in the
   * cache (a Secret the cache has not seen yet is still found by ensure's live read).
   */
  willCreate(installation: DefaultedMeshInstallation): boolean {
    if (installation.spec.certificateAuthority.type === 'External') return false;
    if (this.lastKnown.has(installation.metadata.uid ?? installation.metadata.name!)) return false;
    const namespace = installation.spec.namespace;
    return !this.context.live({ apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_STATE_SECRET, namespace } });
  }

  /**
   * Runs the PKI step. Throws {@link CertificateAuthorityError} when the CA cannot be used.
   * `renderWith` is the mesh's render from given material: a user's External Secret is judged
   * against it ({@link userSecretUse}).
   */
  async ensure(installation: DefaultedMeshInstallation, profile: CertificateAuthorityProfile, renderWith?: (material: CertificateAuthorityMaterial) => readonly KubeObject[]): Promise<CertificateAuthorityOutcome> {
    const { client, clock } = this.context;
    const now = clock.now();
    const uid = installation.metadata.uid ?? installation.metadata.name!;
    const namespace = installation.spec.namespace;
    const settings = authoritySettings(installation, profile);
    const ca = installation.spec.certificateAuthority;
    const where = `${namespace}/${CA_STATE_SECRET}`;

    if (ca.type === 'External') refuseStateSecretRef(ca.secretRef!, namespace);
    const previous = this.lastKnown.get(uid) ?? await this.readState(namespace, where);
    const facts: ContinuityFacts = {
      installation: installation.metadata.name!, type: ca.type, stateWhere: where, published: [],
      accepted: installation.metadata.annotations?.[ACCEPT_NEW_ROOT_ANNOTATION],
      state: previous && { hasRootKey: previous.root !== undefined, rootFingerprints: certificateFingerprints(previous.trustAnchorsPem) },
    };
    // The mesh's algorithms bind whatever the spec leaves unset; the spec's own choice binds a
    // CA the user brings (one the operator made keeps its algorithm until a rotation).
    const requirement: KeyRequirement = { mesh: installation.spec.mesh, accepted: profile.keyAlgorithms, ...(ca.type === 'External' && ca.keyAlgorithm ? { asked: ca.keyAlgorithm } : {}) };
    const origin: MaterialOrigin = ca.type === 'External'
      ? { source: `Secret ${ca.secretRef!.namespace}/${ca.secretRef!.name}`, trustAnchors: 'ca.crt', issuer: 'tls.crt', key: 'tls.key' }
      : { source: `the CA state Secret ${where}`, trustAnchors: 'trust-anchors.crt', issuer: 'issuer.crt', key: 'issuer.key' };
    let state: AuthorityState;
    let change: RootChange | undefined;
    let externalTarget: CertificateAuthorityMaterial | undefined;
    let external: KubeObject | undefined;
    if (ca.type === 'External') {
      const ref = ca.secretRef!;
      let secret: KubeObject & { data?: Record<string, string> };
      try {
        external = secret = await client.get({ apiVersion: 'v1', kind: 'Secret' }, ref.name, ref.namespace);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // Not terminal: the Secret may be on its way (cert-manager, a GitOps sync).
        throw new CertificateAuthorityError('SecretNotFound', `Secret ${ref.namespace}/${ref.name} named in spec.certificateAuthority.secretRef does not exist; create it with ca.crt, tls.crt and tls.key`, false);
      }
      // Checked below with the rest of the state, against spec.certificateAuthority.keyAlgorithm.
      const material = externalMaterial(secret.data, `${ref.namespace}/${ref.name}`);
      const decision = planContinuity({ ...facts, externalWhere: `${ref.namespace}/${ref.name}` });
      const { nextExternal: _staged, ...kept } = previous ?? { serving: {} };
      const adopted: AuthorityState = { ...kept, root: undefined, trustAnchorsPem: material.trustAnchorsPem, issuer: { chainPem: material.issuerChainPem, privateKeyPem: material.issuerKeyPem } };
      // The user's issuer chains to no root the mesh trusts now (or a rotation onto it is under
      // way): adopting it would cut every proxy's trust at once. The mesh keeps what it uses, and
      // the root rotation (meshinstallation/rotation.ts) moves it onto the user's material with an
      // overlap. Their material must be usable all the same: it is checked here, first.
      // Material that cannot be parsed is not a rotation: adopted, it fails the checks below with
      // their reasons (IssuerInvalid, KeyInvalid, ...) and nothing is published, as for any bad Secret.
      const chainsToTrustedRoot = (): boolean | undefined => {
        try {
          return findIssuer(splitCertificates(material.issuerChainPem).at(-1) ?? '', splitCertificates(previous!.trustAnchorsPem)) !== undefined;
        } catch {
          return undefined;
        }
      };
      const rotating = previous !== undefined && !previous.root && decision.use === 'external' && decision.replaces.length === 0
        && (previous.nextExternal !== undefined || chainsToTrustedRoot() === false);
      // A Secret the mesh reads in place is the mesh's material itself: there is nothing to overlap.
      const readInPlace = () => {
        try {
          return renderWith !== undefined && userSecretUse(secret, renderWith(materialOf(adopted)), materialOf(adopted));
        } catch {
          return false;
        }
      };
      if (rotating && !readInPlace()) {
        await checkMaterial(material, now, requirement, origin);
        state = previous;
        externalTarget = material;
      } else {
        state = adopted;
      }
      if (decision.use === 'external' && decision.replaces.length > 0) change = { roots: certificateFingerprints(material.trustAnchorsPem), replaced: decision.replaces };
    } else {
      // Only without a state is a new root possible: then what the cluster still trusts decides.
      const published = previous ? [] : await this.publishedRoots(namespace, profile.published.trustAnchors);
      const decision = planContinuity({ ...facts, published });
      if (decision.use === 'state') {
        state = previous!;
      } else {
        const fresh = await createSelfSignedAuthority(settings, now);
        // The webhook CA and serving certificates have nothing to do with the mesh root: they stay.
        const created = previous ? { state: { ...fresh, webhookCa: previous.webhookCa, serving: previous.serving }, ours: true } : await this.createState(installation.metadata.name!, namespace, where, fresh);
        state = created.state;
        if (created.ours) change = { roots: certificateFingerprints(state.trustAnchorsPem), replaced: decision.replaces };
      }
    }

    // Checking certificates costs tens of milliseconds of CPU: a state already checked is not checked
    // again until something in it is due (or it changes), which keeps drift-repair passes fast. A
    // check that failed is not remembered: the next pass looks at the material as it is then.
    const checked = this.verified.get(uid);
    const key = stateKey(state, settings, requirement);
    let summary: AuthoritySummary | undefined;
    let nextCheckAt: number;
    let renewed = false;
    if (checked && checked.key === key && now < checked.nextCheckAt) {
      ({ summary, nextCheckAt } = checked);
    } else {
      // The user's material is judged before anything is planned from it, so that whatever is
      // wrong with it is what status says; ours is renewed first (an expired issuer is renewed,
      // not reported), then checked too: an edited Secret must not reach the mesh.
      if (ca.type === 'External') summary = await checkMaterial(materialOf(state), now, requirement, origin);
      const plan = await planAuthority(state, settings, now);
      if (plan.renewIssuer) state = await renewIssuerFromItsRoot(state, settings, now);
      renewed = plan.renewIssuer;
      if (plan.issueServing.length > 0) state = await issueServing(state, settings, plan.issueServing, now);
      const changed = plan.renewIssuer || plan.issueServing.length > 0;
      summary ??= await checkMaterial(materialOf(state), now, requirement, origin);
      nextCheckAt = changed ? (await planAuthority(state, settings, now)).nextCheckAt : plan.nextCheckAt;
      this.verified.set(uid, { key: stateKey(state, settings, requirement), summary, nextCheckAt });
    }
    let material = materialOf(state);
    if (external && renderWith && userSecretUse(external, renderWith(material), material)) {
      material = { ...material, usedInPlace: { namespace: external.metadata.namespace!, name: external.metadata.name } };
    }
    this.lastKnown.set(uid, state);
    return {
      material, summary, stateSecret: stateSecret(namespace, state), nextCheckAt,
      expiringSoon: ca.type === 'External' && nextCheckAt <= now, ...(change ? { change } : {}),
      ...(externalTarget ? { externalTarget } : {}),
      ...(renewed ? { issuerRenewed: { root: summary.rootFingerprint, notAfter: summary.intermediateNotAfter } } : {}),
    };
  }

  /** The CA state this process last held for `installation` (after {@link ensure}). */
  current(installation: DefaultedMeshInstallation): AuthorityState | undefined {
    return this.lastKnown.get(installation.metadata.uid ?? installation.metadata.name!);
  }

  /**
   * Makes `state` durable in the state Secret now — a server-side apply of the Secret this
   * installation owns, the same object the pass applies later — and the state this process holds.
   * A root rotation commits each step here before anything is published from it, so that a
   * process killed after publishing always finds in the cluster what it published from.
   */
  async commit(installation: DefaultedMeshInstallation, state: AuthorityState): Promise<void> {
    const uid = installation.metadata.uid ?? installation.metadata.name!;
    const object = this.context.owned(stateSecret(installation.spec.namespace, state), installation.metadata.name!);
    const updated = await this.context.client.apply(object, { force: true });
    this.context.remember(this.context.live(object), updated);
    this.lastKnown.set(uid, state);
    this.verified.delete(uid);
  }

  /**
   * Read-only: the CA as it stands, for a paused installation (nothing is created or renewed).
   * Undefined when there is none yet or it cannot be read.
   */
  async observe(installation: DefaultedMeshInstallation): Promise<CertificateAuthorityOutcome | undefined> {
    const uid = installation.metadata.uid ?? installation.metadata.name!;
    const namespace = installation.spec.namespace;
    const state = this.lastKnown.get(uid) ?? await this.readState(namespace, `${namespace}/${CA_STATE_SECRET}`).catch(() => undefined);
    if (!state) return undefined;
    const material = materialOf(state);
    const summary = await checkMaterial(material, this.context.clock.now()).catch(() => undefined);
    if (!summary) return undefined;
    return { material, summary, stateSecret: stateSecret(namespace, state), nextCheckAt: Number.POSITIVE_INFINITY, expiringSoon: false };
  }

  /** The state from the cluster: the cache, and when the cache has none, a live read to be sure. */
  private async readState(namespace: string, where: string): Promise<AuthorityState | undefined> {
    const ref: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_STATE_SECRET, namespace } };
    let live = this.context.live(ref);
    if (!live) {
      try {
        live = await this.context.client.get(ref, CA_STATE_SECRET, namespace);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        return undefined;
      }
    }
    return decodeAuthorityState((live as { data?: Record<string, string> }).data, where);
  }

  /**
   * The roots the cluster publishes where the mesh's distribution says it does. Live reads: these
   * objects need not be ours (a mesh's control plane publishes some itself), so no cache has them.
   */
  private async publishedRoots(namespace: string, locations: readonly TrustAnchorLocation[]): Promise<PublishedRoots[]> {
    const found = await Promise.all(locations.map(async (location): Promise<PublishedRoots | undefined> => {
      let object: KubeObject & { data?: Record<string, string> };
      try {
        object = await this.context.client.get({ apiVersion: 'v1', kind: location.kind }, location.name, namespace);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      const value = object.data?.[location.key] ?? '';
      const pem = location.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
      return { where: `${location.kind} ${namespace}/${location.name}`, fingerprints: certificateFingerprints(pem) };
    }));
    return found.filter((roots): roots is PublishedRoots => roots !== undefined);
  }

  /** Creates the state Secret; if someone created one meanwhile, theirs wins and is used (`ours` false). */
  private async createState(installation: string, namespace: string, where: string, state: AuthorityState): Promise<{ state: AuthorityState; ours: boolean }> {
    const object = this.context.owned(stateSecret(namespace, state), installation);
    try {
      const created = await this.context.client.create(object);
      this.context.remember(undefined, created);
      return { state, ours: true };
    } catch (error) {
      if (!isConflict(error)) throw error;
      const existing = await this.readState(namespace, where);
      if (!existing) throw error;
      return { state: existing, ours: false };
    }
  }
}
