/**
 * Trust continuity: which CA a pass may use, decided so that the root every workload trusts is
 * never replaced without a person saying so.
 *
 * A new root cuts trust: proxies holding the old bundle reject certificates from the new issuer
 * until they restart (and, until root rotation with an overlap exists, there is no gentler path).
 * So a new root is made only where no root is trusted yet: no CA state and nothing the mesh
 * publishes. Everything else that would replace a trusted root — the state Secret lost while the
 * cluster still publishes its root, a change of `certificateAuthority.type` on a mesh that runs —
 * stalls with what happened and the two ways on: restore (or go back), or opt in with the
 * annotation {@link ACCEPT_NEW_ROOT_ANNOTATION}, whose value must name the root(s) given up. Naming
 * them makes the opt-in one-shot: left in Git after use, it never matches a later root.
 *
 * Pure: the caller reads the cluster and passes the facts.
 */
import { CertificateAuthorityError } from './authority.ts';

/**
 * Annotation on a MeshInstallation that lets the operator start a new CA in place of the root the
 * cluster trusts. Its value is that root's SHA-256 fingerprint as status and the stall message
 * show it (colons and case do not matter; several roots comma-separated).
 */
export const ACCEPT_NEW_ROOT_ANNOTATION = 'meshwright.dev/accept-new-root';

/** Reasons this module raises. */
export const ContinuityReason = {
  /** The CA state Secret (the root key) is gone while the cluster still trusts its root. */
  CertificateAuthorityStateLost: 'CertificateAuthorityStateLost',
  /** `certificateAuthority.type` differs from the CA the mesh runs on. */
  CertificateAuthorityTypeChanged: 'CertificateAuthorityTypeChanged',
} as const;

/** Roots published in one place (e.g. `Secret istio-system/cacerts`). */
export interface PublishedRoots {
  where: string;
  fingerprints: readonly string[];
}

/** What the decision depends on. */
export interface ContinuityFacts {
  /** The installation's name (for the command in messages). */
  installation: string;
  type: 'SelfSigned' | 'External';
  /** Where the CA state Secret lives, `namespace/name`. */
  stateWhere: string;
  /** The CA state, if the Secret exists: whether it holds a root key (SelfSigned) and its trust anchors' fingerprints. */
  state?: { hasRootKey: boolean; rootFingerprints: readonly string[] };
  /** Roots the cluster publishes; read only when there is no state and the type is SelfSigned. */
  published: readonly PublishedRoots[];
  /** External: the user's Secret, `namespace/name`. */
  externalWhere?: string;
  /** The value of {@link ACCEPT_NEW_ROOT_ANNOTATION}, if set. */
  accepted?: string;
}

/**
 * What the pass uses: the CA state as it is; a new self-signed root (`replaces`: the roots given
 * up, empty on a first install); or the user's External material (`replaces`: the self-signed
 * roots given up, empty when nothing is given up).
 */
export type ContinuityDecision =
  | { use: 'state' }
  | { use: 'newRoot'; replaces: string[] }
  | { use: 'external'; replaces: string[] };

/** A fingerprint as compared: lower-case hex digits only. */
function normalize(fingerprint: string): string {
  return fingerprint.toLowerCase().replace(/[^0-9a-f]/g, '');
}

/** Whether the annotation's value names every root in `roots`. */
export function acceptsReplacing(accepted: string | undefined, roots: readonly string[]): boolean {
  if (!accepted || roots.length === 0) return false;
  const named = new Set(accepted.split(/[\s,]+/).map(normalize).filter(Boolean));
  return roots.every((root) => named.has(normalize(root)));
}

/** The command that opts in to replacing `roots`. */
function optIn(installation: string, roots: readonly string[]): string {
  return `kubectl annotate meshinstallation ${installation} ${ACCEPT_NEW_ROOT_ANNOTATION}=${roots.join(',')}`;
}

const unique = (values: readonly string[]) => [...new Set(values)];

/** Decides which CA the pass uses; throws a {@link CertificateAuthorityError} (stalled) where that would replace a trusted root unasked. */
export function planContinuity(facts: ContinuityFacts): ContinuityDecision {
  const { state, type, installation } = facts;
  if (type === 'External') {
    if (!state?.hasRootKey) return { use: 'external', replaces: [] };
    // The mesh runs on the operator's self-signed root: the user's Secret would cut it off.
    const roots = unique(state.rootFingerprints);
    if (acceptsReplacing(facts.accepted, roots)) return { use: 'external', replaces: roots };
    throw new CertificateAuthorityError(ContinuityReason.CertificateAuthorityTypeChanged, `spec.certificateAuthority.type is External, but the mesh runs on the operator's self-signed root ${roots.join(', ')}: taking the CA from Secret ${facts.externalWhere ?? '(secretRef)'} now would cut every workload's trust at once (root rotation with an overlap rotates a root within a CA type, it does not switch types), so the mesh stays on its current CA. Set type back to SelfSigned; or, to switch anyway (every workload must then restart to trust the new root): ${optIn(installation, roots)}`);
  }
  if (state?.hasRootKey) return { use: 'state' };
  if (state) {
    // The state came from an External CA: the operator never held that root's key.
    const roots = unique(state.rootFingerprints);
    if (acceptsReplacing(facts.accepted, roots)) return { use: 'newRoot', replaces: roots };
    throw new CertificateAuthorityError(ContinuityReason.CertificateAuthorityTypeChanged, `spec.certificateAuthority.type is SelfSigned, but the mesh runs on an External CA (root ${roots.join(', ')}) whose root key the operator never held, so it cannot continue it as SelfSigned; the mesh stays on its current CA. Set type back to External; or, to start a new self-signed CA (every workload must then restart to trust it): ${optIn(installation, roots)}`);
  }
  const published = facts.published.filter((p) => p.fingerprints.length > 0);
  const roots = unique(published.flatMap((p) => p.fingerprints));
  if (roots.length === 0) return { use: 'newRoot', replaces: [] };
  if (acceptsReplacing(facts.accepted, roots)) return { use: 'newRoot', replaces: roots };
  throw new CertificateAuthorityError(ContinuityReason.CertificateAuthorityStateLost, `the CA state Secret ${facts.stateWhere}, which holds the root key, is gone, but the cluster still trusts root ${roots.join(', ')} (published in ${published.map((p) => p.where).join(', ')}): a new root would cut every workload's trust, so none is created and the mesh keeps running on its current issuer. To keep this root, restore Secret ${facts.stateWhere} from a backup; to start a new CA instead (every workload must then restart to trust it): ${optIn(installation, roots)}`);
}
