/**
 * The PKI step of a pass: the CA must exist before the control plane that uses it starts.
 *
 * A CA that exists needs no write before the main apply (renewals travel in the desired set). A new
 * one lives in the control-plane namespace, so the rendered Namespace is applied first; and while
 * it is made (signing with spare key pairs, pki/x509.ts), what the distribution says can never
 * carry CA material is applied already (nothing runs yet that a failure could break). Paused:
 * nothing is created; the render then leaves out what carries CA material.
 */
import type { CertificateAuthorityMaterial } from '../../distributions/distribution.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { ACCEPT_NEW_ROOT_ANNOTATION, CA_STATE_SECRET, type CertificateAuthorityOutcome } from '../certificate-authority.ts';
import type { PassContext } from './context.ts';
import { waveOf } from './apply-waves.ts';
import { recordIntent } from './inventory.ts';
import { refOf, type ObjectRef } from './live-objects.ts';
import { timed } from './phases.ts';
import type { PassScope, Target } from './scope.ts';
import { applyObjects } from './sync.ts';

/**
 * Runs the PKI step; undefined for a mesh without a managed CA (or paused before one exists).
 * `claimed` are the objects of the render without CA material this installation may write.
 */
export async function ensureCertificateAuthority(scope: PassScope, context: PassContext, target: Target, claimed: readonly KubeObject[]): Promise<CertificateAuthorityOutcome | undefined> {
  const { distribution } = target;
  const profile = distribution.certificateAuthority?.(scope.mi);
  if (!profile) return undefined;
  if (scope.paused) return context.authorities.observe(scope.mi);
  // A user's External Secret is judged against what the mesh would render from it.
  const renderWith = (ca: CertificateAuthorityMaterial) => distribution.render({ installation: scope.mi, resolved: target.resolved, ca });
  const ensure = async () => reportRootChange(scope, context, await timed(scope, context, 'ca', () => context.authorities.ensure(scope.mi, profile, renderWith)));
  if (!context.authorities.willCreate(scope.mi)) return ensure();

  return timed(scope, context, 'pki', async () => {
    const withoutCa = claimed;
    // One inventory write for the CA state and everything this pass will write besides (the
    // render's refs do not depend on the CA), instead of one before each group of writes.
    await recordIntent(scope, context, [caStateRef(scope), ...withoutCa.map(refOf)]);
    const independent = distribution.kindsWithoutCaMaterial ?? new Set<string>();
    // The applies of this step are timed as its own (pki/apply-wave-N), apart from the main ones.
    const inner: PassContext = { ...context, hooks: { ...context.hooks, onPhase: (installation, phase, seconds) => context.hooks.onPhase?.(installation, `pki/${phase}`, seconds) } };
    // The namespace the CA state lives in, with what needs nothing at all (cluster-scoped RBAC).
    const first = (o: KubeObject) => o.kind === 'Namespace' || (independent.has(o.kind) && waveOf(o.kind) === 0);
    await applyObjects(scope, inner, withoutCa.filter(first));
    const [authority, applied] = await Promise.allSettled([
      ensure(),
      applyObjects(scope, inner, withoutCa.filter((o) => independent.has(o.kind) && !first(o))),
    ]);
    if (authority.status === 'rejected') throw authority.reason;
    if (applied.status === 'rejected') throw applied.reason;
    return authority.value;
  });
}

/** A new root is something a person must hear of: an Event and a log line, once, when it is made; so is a renewed issuer. */
function reportRootChange(scope: PassScope, context: PassContext, outcome: CertificateAuthorityOutcome): CertificateAuthorityOutcome {
  const { change, issuerRenewed } = outcome;
  if (issuerRenewed) {
    scope.log.info({ root: issuerRenewed.root, notAfter: issuerRenewed.notAfter }, 'renewed the mesh CA issuer');
    context.hooks.onEvent?.(scope.installation, 'Normal', 'IssuerRenewed', `renewed the issuer under root ${issuerRenewed.root}, valid until ${issuerRenewed.notAfter}: the trust bundle is unchanged, so no workload restarts`);
  }
  if (!change) return outcome;
  const roots = change.roots.join(', ');
  if (change.replaced.length === 0) {
    scope.log.info({ roots: change.roots }, 'created the mesh CA');
    context.hooks.onEvent?.(scope.installation, 'Normal', 'CertificateAuthorityCreated', `created the mesh CA with root ${roots}`);
  } else {
    scope.log.warn({ roots: change.roots, replaced: change.replaced }, `the mesh CA's root was replaced, as annotation ${ACCEPT_NEW_ROOT_ANNOTATION} allowed`);
    context.hooks.onEvent?.(scope.installation, 'Warning', 'RootReplaced', `root ${change.replaced.join(', ')} was replaced by ${roots}, as annotation ${ACCEPT_NEW_ROOT_ANNOTATION} allowed: every workload must restart to trust the new root`);
  }
  return outcome;
}

/** Where the CA state of `scope`'s installation lives. */
export function caStateRef(scope: PassScope): ObjectRef {
  return { apiVersion: 'v1', kind: 'Secret', namespace: scope.mi.spec.namespace, name: CA_STATE_SECRET };
}

/** The CA state Secret as far as it can be known before it exists: its identity, for ownership checks. */
export function caStatePlaceholder(scope: PassScope): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_STATE_SECRET, namespace: scope.mi.spec.namespace } };
}
