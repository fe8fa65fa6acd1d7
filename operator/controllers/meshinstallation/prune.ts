/**
 * Prune: owned objects no longer desired are deleted (never those annotated keep-on-delete). Runs
 * only after a pass applied everything, so a failed apply never removes what still runs.
 */
import { deleteOrder } from '../../runtime/apply.ts';
import { writeError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import type { PassContext } from './context.ts';
import { refOf, staleObjects, type ObjectRef } from './live-objects.ts';
import type { PassScope } from './scope.ts';

/** Annotation on objects never pruned nor deleted with the installation (e.g. CRDs holding user data). */
export const KEEP_ANNOTATION = 'meshwright.dev/keep-on-delete';

/** Deletes one owned object; already gone is fine. A refusal names the object. */
export async function deleteOwned(context: PassContext, ref: ObjectRef): Promise<void> {
  try {
    await context.client.delete(ref, ref.name, ref.namespace);
  } catch (error) {
    throw writeError('delete', ref, error);
  }
  context.live.forget(ref);
}

/** Deletes the objects `scope.name` owns that `desired` no longer lists. */
export async function pruneStale(scope: PassScope, context: PassContext, desired: readonly KubeObject[]): Promise<void> {
  const stale = staleObjects(desired.map(refOf), [], context.live.ownedBy(scope.name, scope.previousInventory));
  for (const ref of deleteOrder(stale)) {
    const live = context.live.get(ref);
    if (!live || live.metadata.deletionTimestamp || live.metadata.annotations?.[KEEP_ANNOTATION] === 'true') continue;
    scope.log.info({ kind: ref.kind, namespace: ref.namespace, name: ref.name }, 'pruning an object no longer desired');
    await deleteOwned(context, ref);
  }
}
