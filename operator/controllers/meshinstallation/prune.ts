/**
 * Prune and release: what this installation no longer wants goes — but only what its inventory
 * says it created (never an object merely wearing our label); what is annotated keep-on-delete
 * stays, marked released for the next installation to adopt; and a shared object goes only when
 * no other installation still owns it: until then this installation just gives up its ownership,
 * handing the writing over to the next owner.
 */
import { deleteOrder } from '../../runtime/apply.ts';
import { writeError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { INSTALLATION_LABEL, ownerAnnotation, ownersOf, releasedLabel } from '../ownership.ts';
import type { PassContext } from './context.ts';
import { refOf, staleObjects, type ObjectRef } from './live-objects.ts';
import type { PassScope } from './scope.ts';

/** Annotation on objects never pruned nor deleted with the installation (e.g. CRDs holding user data). */
export const KEEP_ANNOTATION = 'meshwright.dev/keep-on-delete';

/** What to do with an inventoried object this installation lets go of. */
export type Release =
  /** Nothing: it is gone, going, kept on delete, or no longer ours. */
  | { action: 'skip' }
  /** Delete it: ours alone. */
  | { action: 'delete' }
  /** Ours alone but kept on delete: mark it released, for the next installation to adopt. */
  | { action: 'release' }
  /** Shared and still owned by others: drop our owner record; `writer` is who writes it from now on. */
  | { action: 'disown'; writer: string };

/** How `installation` lets go of `live` (pure). */
export function releaseOf(installation: string, live: KubeObject | undefined): Release {
  if (!live || live.metadata.deletionTimestamp) return { action: 'skip' };
  const label = live.metadata.labels?.[INSTALLATION_LABEL];
  const owners = ownersOf(live);
  const others = owners.filter((owner) => owner !== installation);
  // Shared and others still own it: give up our ownership (once: then we are no longer an owner).
  if (others.length > 0 && (owners.includes(installation) || label === installation)) return { action: 'disown', writer: label !== undefined && label !== installation && others.includes(label) ? label : others[0]! };
  // Another installation's now (it took over a shared object we had left), released, or stripped
  // of any installation's label: never deleted on the inventory's word alone.
  if (label !== installation) return { action: 'skip' };
  return live.metadata.annotations?.[KEEP_ANNOTATION] === 'true' ? { action: 'release' } : { action: 'delete' };
}

/** Carries out a release of one object; already gone is fine. A refusal names the object. */
export async function release(scope: PassScope, context: PassContext, ref: ObjectRef): Promise<void> {
  const live = context.live.get(ref);
  const decision = releaseOf(scope.name, live);
  try {
    if (decision.action === 'delete') {
      await context.client.delete(ref, ref.name, ref.namespace);
      context.live.forget(ref);
    } else if (decision.action === 'release') {
      const patch = { metadata: { annotations: { [ownerAnnotation(scope.name)]: null }, labels: { [INSTALLATION_LABEL]: releasedLabel(scope.name) } } };
      context.live.remember(live, await context.client.patch(ref, ref.name, ref.namespace, patch, 'merge'));
    } else if (decision.action === 'disown') {
      // One write: our owner record goes, and the label names the owner who writes it from now on
      // (its watch event wakes that installation, which then applies its own content).
      const patch = { metadata: { annotations: { [ownerAnnotation(scope.name)]: null }, labels: { [INSTALLATION_LABEL]: decision.writer } } };
      context.live.remember(live, await context.client.patch(ref, ref.name, ref.namespace, patch, 'merge'));
    }
  } catch (error) {
    throw writeError(decision.action === 'delete' ? 'delete' : 'apply', ref, error);
  }
}

/** Lets go of the inventoried objects `desired` no longer lists. */
export async function pruneStale(scope: PassScope, context: PassContext, desired: readonly KubeObject[]): Promise<void> {
  const stale = staleObjects(desired.map(refOf), scope.previousInventory).filter((ref) => context.live.watches(ref));
  for (const ref of deleteOrder(stale)) {
    if (releaseOf(scope.name, context.live.get(ref)).action === 'skip') continue;
    scope.log.info({ kind: ref.kind, namespace: ref.namespace, name: ref.name }, 'pruning an object no longer desired');
    await release(scope, context, ref);
  }
}
