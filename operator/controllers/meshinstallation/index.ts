/**
 * The MeshInstallation controller's reconciler, one file per step of the pass (see reconciler.ts).
 */
export { MeshInstallationReconciler, type MeshInstallationReconcilerOptions } from './reconciler.ts';
export type { ReconcilerHooks } from './context.ts';
export { FINALIZER } from './delete.ts';
export { KEEP_ANNOTATION } from './prune.ts';
export { refKey, staleObjects, type ObjectRef } from './live-objects.ts';
export { DESIRED_HASH_ANNOTATION, INSTALLATION_LABEL, VERSION_ANNOTATION } from '../ownership.ts';
