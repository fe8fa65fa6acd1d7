/**
 * The inventory: what this installation created, recorded in its status **before** it is created.
 *
 * Pruning and deletion remove only what the inventory lists — never an object merely wearing our
 * label (a user's copy of a ConfigMap with our labels is theirs). For that to be safe the
 * inventory must never miss an object we created, even when the process is killed between a
 * create and the end of the pass; so, as phased work does with its phase, the refs a pass is
 * about to write are made durable first. A pass that creates nothing writes nothing here.
 */
import { API_VERSION, KIND } from '../../api/meshinstallation.ts';
import type { PassContext } from './context.ts';
import { refKey, type ObjectRef } from './live-objects.ts';
import type { PassScope } from './scope.ts';

/** The inventory entries of `scope` as keys, as recorded so far in this pass. */
export function recordedKeys(scope: PassScope): Set<string> {
  return new Set((scope.status.inventory ?? []).map(refKey));
}

/**
 * Makes sure every ref in `refs` is in the recorded inventory before the caller writes them:
 * adds the missing ones with one status patch. Also keeps `scope.status.inventory` in step.
 */
export async function recordIntent(scope: PassScope, context: PassContext, refs: readonly ObjectRef[]): Promise<void> {
  const known = recordedKeys(scope);
  const missing = refs.filter((ref) => !known.has(refKey(ref)));
  if (missing.length === 0) return;
  const inventory = [...(scope.status.inventory ?? []), ...missing];
  const updated = await context.client.patch({ apiVersion: API_VERSION, kind: KIND }, scope.name, undefined, { status: { inventory } }, 'merge', 'status');
  context.live.remember(scope.installation, updated);
  scope.status.inventory = inventory;
}
