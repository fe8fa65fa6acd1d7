/**
 * What a rollout plans from, gathered from the caches: the injected pods grouped by the workload
 * that owns them, each workload with its restart marks, opt-out and rollout status, and the pods
 * no workload owns. Pure over the lookups it is given (the pod cache's pods, the workload caches),
 * so it is table-tested with plain objects.
 */
import type { KubeObject } from '../runtime/kube.ts';
import type { ObservedWorkload, RolloutObservation } from './plan.ts';
import { notRestartableBecause, optedOut, ownerOfPod, podCrashLooping, podReady, restartMarks, rolloutProgress, workloadName, type RestartableKind, type WorkloadRef } from './workloads.ts';

/** The caches {@link observeWorkloads} reads. */
export interface WorkloadLookups {
  replicaSet(namespace: string, name: string): KubeObject | undefined;
  workload(kind: RestartableKind, namespace: string, name: string): KubeObject | undefined;
  /**
   * Why a restart in `namespace` would not bring the current proxy, if so: the namespace does not
   * carry the installation's enrolment label (a person unenrolled it, a pod opted in alone, a
   * Canary step has not moved it yet), so new pods would get no proxy or another revision's.
   */
  notServed?(namespace: string): string | undefined;
  /** Workloads restarted for the target (caches.ts restartedFor): judged even with no injected pod in sight. */
  restartedForTarget?(): readonly KubeObject[];
}

/**
 * Groups `pods` (running this installation's proxy) by owning workload and observes each
 * workload. A workload not in its cache yet is reported as not restartable for now: without it,
 * its opt-out annotation is unknown, and a restart must never override one.
 */
export function observeWorkloads(pods: readonly KubeObject[], isOutdated: (pod: KubeObject) => boolean, lookups: WorkloadLookups): Pick<RolloutObservation, 'workloads' | 'barePods' | 'otherPods'> {
  const byWorkload = new Map<string, { ref: WorkloadRef; pods: KubeObject[] }>();
  const barePods: string[] = [];
  const otherPods = { total: 0, outdated: 0 };
  for (const pod of pods) {
    const owner = ownerOfPod(pod, (namespace, name) => lookups.replicaSet(namespace, name));
    if ('workload' in owner) {
      const key = workloadName(owner.workload);
      const entry = byWorkload.get(key) ?? { ref: owner.workload, pods: [] };
      entry.pods.push(pod);
      byWorkload.set(key, entry);
    } else if ('bare' in owner) {
      if (isOutdated(pod)) barePods.push(`${pod.metadata.namespace}/${pod.metadata.name}`);
    } else {
      otherPods.total++;
      if (isOutdated(pod)) otherPods.outdated++;
    }
  }
  // A workload restarted for the target whose rollout runs, with no injected pod in sight right now
  // (old pods gone, new ones not created or not admitted yet), is still in flight: judged with no pods.
  for (const object of lookups.restartedForTarget?.() ?? []) {
    const kind = object.kind as RestartableKind;
    const ref: WorkloadRef = { kind, namespace: object.metadata.namespace ?? '', name: object.metadata.name };
    if (!byWorkload.has(workloadName(ref)) && rolloutProgress(object).state !== 'complete') byWorkload.set(workloadName(ref), { ref, pods: [] });
  }
  const workloads: ObservedWorkload[] = [];
  for (const { ref, pods: owned } of byWorkload.values()) {
    const object = lookups.workload(ref.kind, ref.namespace, ref.name);
    const observedPods = owned.map((pod) => ({ name: pod.metadata.name, outdated: isOutdated(pod), ready: podReady(pod), crashLooping: podCrashLooping(pod) }));
    if (!object) {
      workloads.push({ ...ref, notRestartable: `the ${ref.kind} is not in the operator's cache yet`, pods: observedPods });
      continue;
    }
    const notRestartable = notRestartableBecause(object) ?? lookups.notServed?.(ref.namespace);
    workloads.push({
      ...ref, ...restartMarks(object), rollout: rolloutProgress(object), pods: observedPods,
      ...(optedOut(object) ? { optedOut: true } : {}),
      ...(notRestartable ? { notRestartable } : {}),
    });
  }
  return { workloads, barePods, otherPods };
}
