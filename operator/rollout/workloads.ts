/**
 * Workloads as a data-plane rollout sees them: which workload owns each injected pod (a Deployment
 * through its ReplicaSet, a StatefulSet, a DaemonSet; anything else is left alone), whether a
 * workload's rollout is complete as `kubectl rollout status` judges it, and whether its pods are
 * healthy. Everything here is pure; the caches it reads are trimmed by {@link workloadView} and
 * {@link replicaSetView} (see caches.ts for why workloads are cached rather than read per pass).
 *
 * The rollout-status rules are kubectl's (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/
 * rollout_status.go), restated here for the fields the trimmed views keep.
 */
import type { KubeObject } from '../runtime/kube.ts';
import { RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION, RESTART_OPT_OUT_ANNOTATION, RESTART_OPT_OUT_VALUE } from './annotations.ts';

/** The kinds a rollout restarts: those whose pod template change makes their controller replace the pods. */
export const RESTARTABLE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

/** A kind a rollout restarts. */
export type RestartableKind = (typeof RESTARTABLE_KINDS)[number];

/** A workload's identity. */
export interface WorkloadRef {
  kind: RestartableKind;
  namespace: string;
  name: string;
}

/** A workload as status names it: "<Kind> <namespace>/<name>". */
export function workloadName(ref: WorkloadRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** The owner of a pod, as far as a rollout is concerned. */
export type PodOwner =
  /** A workload the rollout can restart. */
  | { workload: WorkloadRef }
  /** No controller: a restart cannot replace it, so it is only reported. */
  | { bare: true }
  /** A controller the rollout leaves alone: a Job (left to finish), a ReplicaSet no Deployment owns, a custom controller. */
  | { other: string };

type OwnerReference = NonNullable<KubeObject['metadata']['ownerReferences']>[number];

/** The controller ownerReference of an object, if any. */
export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((reference) => reference.controller);
}

/**
 * Which workload owns `pod`: its controller directly (StatefulSet, DaemonSet), or, for a pod of a
 * ReplicaSet, the Deployment that controls that ReplicaSet (`replicaSet` reads the ReplicaSet
 * cache). A ReplicaSet not yet in the cache, or owned by something other than a Deployment (an
 * Argo Rollout, say), is left alone: the rollout restarts only what it knows to be a Deployment.
 */
export function ownerOfPod(pod: KubeObject, replicaSet: (namespace: string, name: string) => KubeObject | undefined): PodOwner {
  const controller = controllerOf(pod);
  const namespace = pod.metadata.namespace ?? '';
  if (!controller) return { bare: true };
  if (controller.kind === 'StatefulSet' || controller.kind === 'DaemonSet') return { workload: { kind: controller.kind, namespace, name: controller.name } };
  if (controller.kind === 'ReplicaSet') {
    const rsController = (() => {
      const rs = replicaSet(namespace, controller.name);
      return rs ? controllerOf(rs) : undefined;
    })();
    if (rsController?.kind === 'Deployment') return { workload: { kind: 'Deployment', namespace, name: rsController.name } };
    return { other: 'ReplicaSet' };
  }
  return { other: controller.kind };
}

/** Where a workload's rollout is, as `kubectl rollout status` says it. */
export type RolloutProgress =
  | { state: 'complete' }
  | { state: 'progressing'; message: string }
  /** The Deployment's own progress deadline (spec.progressDeadlineSeconds) was exceeded. */
  | { state: 'failed'; message: string };

type Condition = { type: string; status?: string; reason?: string; message?: string };
type WorkloadStatus = {
  observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number;
  currentRevision?: string; updateRevision?: string; desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberAvailable?: number;
  conditions?: Condition[];
};
type WorkloadSpec = { replicas?: number; paused?: boolean; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } }; template?: { metadata?: { annotations?: Record<string, string> } } };

const specOf = (workload: KubeObject) => (workload.spec ?? {}) as WorkloadSpec;
const statusOf = (workload: KubeObject) => (workload.status ?? {}) as WorkloadStatus;

/**
 * The rollout state of a Deployment, StatefulSet or DaemonSet by kubectl's rules:
 * - Deployment: the controller observed the generation; no Progressing condition with reason
 *   ProgressDeadlineExceeded (that is a failure); updatedReplicas reached spec.replicas; no old
 *   replicas left (replicas == updatedReplicas); availableReplicas reached updatedReplicas.
 * - StatefulSet (RollingUpdate): generation observed; readyReplicas reached spec.replicas; with a
 *   partition, updatedReplicas reached replicas - partition; otherwise updateRevision == currentRevision.
 * - DaemonSet (RollingUpdate): generation observed; updatedNumberScheduled and numberAvailable
 *   reached desiredNumberScheduled.
 */
export function rolloutProgress(workload: KubeObject): RolloutProgress {
  const spec = specOf(workload);
  const status = statusOf(workload);
  const generation = workload.metadata.generation ?? 0;
  const observed = status.observedGeneration ?? 0;
  const waiting = (message: string): RolloutProgress => ({ state: 'progressing', message });
  switch (workload.kind) {
    case 'Deployment': {
      if (generation > observed) return waiting('waiting for the deployment spec update to be observed');
      const progressing = status.conditions?.find((c) => c.type === 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded') return { state: 'failed', message: `exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}` };
      const replicas = spec.replicas ?? 1;
      const updated = status.updatedReplicas ?? 0;
      if (updated < replicas) return waiting(`${updated} of ${replicas} new replicas updated`);
      if ((status.replicas ?? 0) > updated) return waiting(`${(status.replicas ?? 0) - updated} old replicas pending termination`);
      if ((status.availableReplicas ?? 0) < updated) return waiting(`${status.availableReplicas ?? 0} of ${updated} updated replicas available`);
      return { state: 'complete' };
    }
    case 'StatefulSet': {
      if (observed === 0 || generation > observed) return waiting('waiting for the statefulset spec update to be observed');
      const replicas = spec.replicas ?? 1;
      if ((status.readyReplicas ?? 0) < replicas) return waiting(`${status.readyReplicas ?? 0} of ${replicas} pods ready`);
      const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
      if (partition > 0) {
        return (status.updatedReplicas ?? 0) < replicas - partition ? waiting(`${status.updatedReplicas ?? 0} of ${replicas - partition} pods updated (partition ${partition})`) : { state: 'complete' };
      }
      if (status.updateRevision !== status.currentRevision) return waiting(`${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision ?? '?'}`);
      return { state: 'complete' };
    }
    case 'DaemonSet': {
      if (generation > observed) return waiting('waiting for the daemonset spec update to be observed');
      const desired = status.desiredNumberScheduled ?? 0;
      if ((status.updatedNumberScheduled ?? 0) < desired) return waiting(`${status.updatedNumberScheduled ?? 0} of ${desired} updated pods scheduled`);
      if ((status.numberAvailable ?? 0) < desired) return waiting(`${status.numberAvailable ?? 0} of ${desired} updated pods available`);
      return { state: 'complete' };
    }
    default:
      return waiting(`kind ${workload.kind} has no rollout status`);
  }
}

/**
 * Why a restart through the pod template would not replace `workload`'s pods, if so: a
 * StatefulSet or DaemonSet with updateStrategy OnDelete replaces pods only when someone deletes
 * them (kubectl refuses its rollout status for the same reason), a StatefulSet partition holds
 * the pods below it (a person's staged rollout), and a paused Deployment rolls nothing out
 * (kubectl refuses to restart it).
 */
export function notRestartableBecause(workload: KubeObject): string | undefined {
  const spec = specOf(workload);
  if (workload.kind === 'Deployment' && spec.paused) return 'the Deployment is paused (kubectl rollout resume it)';
  if ((workload.kind === 'StatefulSet' || workload.kind === 'DaemonSet') && spec.updateStrategy?.type === 'OnDelete') return 'updateStrategy OnDelete replaces pods only when they are deleted';
  const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (workload.kind === 'StatefulSet' && partition > 0) return `its rollingUpdate partition (${partition}) keeps the pods below it on their old template`;
  return undefined;
}

/** Whether a person opted `workload` out of restarts (annotation meshwright.dev/restart: disabled). */
export function optedOut(workload: KubeObject): boolean {
  return workload.metadata.annotations?.[RESTART_OPT_OUT_ANNOTATION] === RESTART_OPT_OUT_VALUE;
}

/** The restart annotations of `workload`'s pod template (what a rollout wrote, or `kubectl rollout restart` for restartedAt). */
export function restartMarks(workload: KubeObject): { restartedFor?: string; restartedAt?: string } {
  const annotations = specOf(workload).template?.metadata?.annotations ?? {};
  return {
    ...(annotations[RESTARTED_FOR_ANNOTATION] !== undefined ? { restartedFor: annotations[RESTARTED_FOR_ANNOTATION] } : {}),
    ...(annotations[RESTARTED_AT_ANNOTATION] !== undefined ? { restartedAt: annotations[RESTARTED_AT_ANNOTATION] } : {}),
  };
}

type ContainerStatus = { name?: string; ready?: boolean; restartCount?: number; state?: { waiting?: { reason?: string } } };
type PodStatus = { phase?: string; conditions?: Condition[]; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };

/** Whether `pod` is Ready (its Ready condition is True). */
export function podReady(pod: KubeObject): boolean {
  return ((pod.status ?? {}) as PodStatus).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Restarts of a container of a pod that is not Ready from which it counts as crash-looping even
 * when no CrashLoopBackOff is seen (the kubelet shows it only while it waits between restarts).
 * Not 1: an application that exits once because it started before its proxy was ready, then
 * runs, is common in a mesh, and a halt is costly (an upgrade may roll back on it).
 */
export const CRASH_LOOP_RESTARTS = 3;

/**
 * Whether `pod` is crash-looping: a container waits in CrashLoopBackOff, or a container has
 * restarted {@link CRASH_LOOP_RESTARTS} times or more while the pod is not Ready.
 */
export function podCrashLooping(pod: KubeObject): boolean {
  const status = (pod.status ?? {}) as PodStatus;
  const containers = [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])];
  if (containers.some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff')) return true;
  return !podReady(pod) && containers.some((c) => (c.restartCount ?? 0) >= CRASH_LOOP_RESTARTS);
}

/**
 * The container statuses worth caching for an injected pod: only those that restarted or are
 * waiting in CrashLoopBackOff, each trimmed to what {@link podCrashLooping} reads. A healthy pod
 * keeps none, so the pod cache stays small.
 */
export function troubledContainerStatuses(statuses: readonly ContainerStatus[] | undefined): ContainerStatus[] {
  return (statuses ?? [])
    .filter((c) => (c.restartCount ?? 0) > 0 || c.state?.waiting?.reason === 'CrashLoopBackOff')
    .map((c) => ({
      ...(c.name !== undefined ? { name: c.name } : {}), ready: c.ready ?? false, restartCount: c.restartCount ?? 0,
      ...(c.state?.waiting?.reason ? { state: { waiting: { reason: c.state.waiting.reason } } } : {}),
    }));
}

const pick = <T extends object>(source: T | undefined, keys: ReadonlyArray<keyof T>): Partial<T> =>
  Object.fromEntries(keys.filter((k) => source?.[k] !== undefined).map((k) => [k, source![k]])) as Partial<T>;

/**
 * A Deployment, StatefulSet or DaemonSet as the workload caches keep it: identity, generation,
 * the opt-out annotation, the restart annotations of its template, what decides whether a restart
 * replaces its pods, and the status fields its rollout status is judged by. The pod template
 * (containers, volumes) and managedFields are dropped: every workload of the cluster is cached.
 */
export function workloadView(object: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, generation, annotations, deletionTimestamp } = object.metadata;
  const spec = specOf(object);
  const status = statusOf(object);
  const optOut = annotations?.[RESTART_OPT_OUT_ANNOTATION];
  const template = pick(spec.template?.metadata?.annotations ?? {}, [RESTARTED_AT_ANNOTATION, RESTARTED_FOR_ANNOTATION]);
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  return {
    apiVersion: object.apiVersion ?? 'apps/v1',
    kind: object.kind,
    metadata: {
      name, namespace, uid, resourceVersion, ...(generation !== undefined ? { generation } : {}),
      ...(optOut !== undefined ? { annotations: { [RESTART_OPT_OUT_ANNOTATION]: optOut } } : {}),
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
    },
    spec: {
      ...pick(spec, ['replicas', 'paused']),
      ...(spec.updateStrategy ? { updateStrategy: { ...pick(spec.updateStrategy, ['type']), ...(spec.updateStrategy.rollingUpdate?.partition !== undefined ? { rollingUpdate: { partition: spec.updateStrategy.rollingUpdate.partition } } : {}) } } : {}),
      ...(Object.keys(template).length > 0 ? { template: { metadata: { annotations: template as Record<string, string> } } } : {}),
    },
    status: {
      ...pick(status, ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'currentRevision', 'updateRevision', 'desiredNumberScheduled', 'updatedNumberScheduled', 'numberAvailable']),
      ...(progressing ? { conditions: [pick(progressing, ['type', 'status', 'reason'])] } : {}),
    },
  } as KubeObject;
}

/** A ReplicaSet as its cache keeps it: identity and its controller ownerReference (the Deployment), nothing else. */
export function replicaSetView(object: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion } = object.metadata;
  const controller = controllerOf(object);
  return {
    apiVersion: object.apiVersion ?? 'apps/v1',
    kind: object.kind ?? 'ReplicaSet',
    metadata: { name, namespace, uid, resourceVersion, ...(controller ? { ownerReferences: [{ apiVersion: controller.apiVersion, kind: controller.kind, name: controller.name, uid: controller.uid, controller: true }] } : {}) },
  } as KubeObject;
}
