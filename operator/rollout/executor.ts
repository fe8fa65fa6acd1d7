/**
 * Does what a rollout plan says: restarts each workload of the batch the way `kubectl rollout
 * restart` does, with one merge patch of its pod template's annotations (the restart time and the
 * target restarted for). Never deletes a pod: the workload's own controller replaces them by its
 * own strategy. Each restart is logged before it is sent, so the log tells what was about to
 * happen should the operator die mid-batch (the cluster then tells the next one, see plan.ts).
 */
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';
import { isNotFound } from '../runtime/kube.ts';
import { RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION } from './annotations.ts';
import { workloadName, type WorkloadRef } from './workloads.ts';

/** The merge patch that restarts a workload for `target` at `restartedAt`. */
export function restartPatch(target: string, restartedAt: string): { spec: { template: { metadata: { annotations: Record<string, string> } } } } {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt, [RESTARTED_FOR_ANNOTATION]: target } } } } };
}

/** What a batch's restarts came to. */
export interface RestartOutcome {
  restarted: WorkloadRef[];
  /** Gone since the cache saw them: nothing to restart. */
  gone: WorkloadRef[];
  failed: Array<{ workload: WorkloadRef; error: string }>;
}

/**
 * Restarts `workloads` for `target`, all stamped with the same `restartedAt` (which is how the
 * cluster remembers them as one batch). Every workload is tried; failures are returned, not
 * thrown, so one refused patch does not leave the rest of the batch unrestarted.
 * `remember` receives each workload as the patch returned it.
 */
export async function restartWorkloads(input: { client: KubeClient; log: Logger; workloads: readonly WorkloadRef[]; target: string; restartedAt: string; remember?: (updated: KubeObject) => void }): Promise<RestartOutcome> {
  const outcome: RestartOutcome = { restarted: [], gone: [], failed: [] };
  const patch = restartPatch(input.target, input.restartedAt);
  await Promise.all(input.workloads.map(async (workload) => {
    input.log.info({ workload: workloadName(workload), target: input.target, restartedAt: input.restartedAt }, 'restarting workload for the current proxy');
    try {
      const updated = await input.client.patch({ apiVersion: 'apps/v1', kind: workload.kind }, workload.name, workload.namespace, patch, 'merge');
      input.remember?.(updated);
      outcome.restarted.push(workload);
    } catch (error) {
      if (isNotFound(error)) outcome.gone.push(workload);
      else outcome.failed.push({ workload, error: error instanceof Error ? error.message : String(error) });
    }
  }));
  return outcome;
}
