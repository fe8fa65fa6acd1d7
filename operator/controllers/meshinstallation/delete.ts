/**
 * Deletion through the finalizer: webhooks go first (so no pod creation is blocked by a webhook
 * whose server is going away), then everything else in reverse dependency order; the finalizer is
 * removed only when everything we owned is gone. Objects without our label or inventory entry are
 * never touched, and neither are those annotated keep-on-delete. Namespaces the installation
 * enrolled are unenrolled (its label and annotation only; enrolment.ts) before the finalizer goes.
 */
import { deleteOrder } from '../../runtime/apply.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import type { PassContext } from './context.ts';
import { unenrolAll } from './enrolment.ts';
import { release, releaseOf } from './prune.ts';
import type { PassScope } from './scope.ts';

/** The finalizer that makes deletion wait for cleanup. */
export const FINALIZER = 'meshwright.dev/cleanup';

/** Adds the finalizer (a JSON patch guarded by resourceVersion, so a concurrent change is not overwritten). */
export async function ensureFinalizer(scope: PassScope, context: PassContext): Promise<void> {
  const { installation } = scope;
  if (scope.paused || installation.metadata.finalizers?.includes(FINALIZER)) return;
  const updated = await context.client.patch(installation, scope.name, undefined, [
    { op: 'test', path: '/metadata/resourceVersion', value: installation.metadata.resourceVersion },
    installation.metadata.finalizers ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER } : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
  ], 'json');
  context.live.remember(installation, updated);
}

/** One deletion pass: deletes a batch of what remains, or removes the finalizer when nothing does. */
export async function finalize(scope: PassScope, context: PassContext): Promise<ReconcileResult | void> {
  const { installation, name } = scope;
  if (!installation.metadata.finalizers?.includes(FINALIZER)) return;
  const unenrolled = await unenrolAll(scope, context);
  // Only what the inventory says we created; what is still going away is waited for.
  const inventory = scope.previousInventory.filter((ref) => context.live.watches(ref));
  const remaining = inventory.filter((ref) => releaseOf(name, context.live.get(ref)).action !== 'skip' || context.live.get(ref)?.metadata.deletionTimestamp !== undefined);
  if (remaining.length > 0) {
    const webhooks = remaining.filter((ref) => ref.kind.endsWith('WebhookConfiguration'));
    const batch = webhooks.length > 0 ? webhooks : deleteOrder(remaining);
    for (const ref of batch) await release(scope, context, ref);
    scope.log.info({ remaining: remaining.length }, 'deleting owned objects before removing the finalizer');
    // Watch events of the deletions bring us back; the timer covers objects that linger (namespaces).
    return { requeueAfterMs: 2000 };
  }
  // The namespaces' watch events bring us back once the cache shows them unenrolled.
  if (!unenrolled) return { requeueAfterMs: 1000 };
  context.authorities.forget(installation.metadata.uid ?? name);
  const finalizers = installation.metadata.finalizers.filter((f) => f !== FINALIZER);
  await context.client.patch(installation as KubeObject, name, undefined, [
    { op: 'test', path: '/metadata/finalizers', value: installation.metadata.finalizers },
    { op: 'replace', path: '/metadata/finalizers', value: finalizers },
  ], 'json');
  context.hooks.onEvent?.(installation, 'Normal', 'Deleted', 'every object the installation owned is gone');
}
