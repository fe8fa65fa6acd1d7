/**
 * Which workload a pod belongs to, as Istio's injector names it (the canonical-name label's
 * fallback, ISTIO_META_WORKLOAD_NAME, ISTIO_META_OWNER): given by the caller when a pod template is
 * injected outside admission (as `istioctl kube-inject` knows the workload), else derived from the
 * pod's controller reference and generated name as Istio's webhook derives it
 * (`kube.GetDeployMetaFromPod`).
 */
import type { PodObject } from '../../injection.ts';

/** A workload's identity and type. */
export interface WorkloadIdentity {
  name: string;
  namespace: string;
  apiVersion: string;
  kind: string;
}

/** `<name>-<8 to 10 digits>`: the Job a CronJob created (Istio's heuristic). */
const CRONJOB_JOB_NAME = /^(.+)-\d{8,10}$/;

/** The workload of an admitted pod, from its controller reference (Istio's heuristics for Deployments, CronJobs, Rollouts, DeploymentConfigs). */
export function workloadOfPod(pod: PodObject, namespace: string): WorkloadIdentity {
  const labels = pod.metadata.labels ?? {};
  const identity: WorkloadIdentity = { name: pod.metadata.name ?? '', namespace, apiVersion: 'v1', kind: 'Pod' };
  if (pod.metadata.generateName) {
    const controller = (pod.metadata.ownerReferences ?? []).find((ref) => ref.controller === true) as { apiVersion?: string; kind?: string; name?: string } | undefined;
    if (controller) {
      identity.apiVersion = controller.apiVersion ?? '';
      identity.kind = controller.kind ?? '';
      identity.name = controller.name ?? '';
      const hash = labels['pod-template-hash'];
      const rolloutHash = labels['rollouts-pod-template-hash'];
      if (identity.kind === 'ReplicaSet' && hash && identity.name.endsWith(hash)) {
        identity.name = identity.name.slice(0, -(hash.length + 1));
        identity.kind = 'Deployment';
      } else if (identity.kind === 'ReplicaSet' && rolloutHash && identity.name.endsWith(rolloutHash)) {
        identity.name = identity.name.slice(0, -(rolloutHash.length + 1));
        identity.kind = 'Rollout';
        identity.apiVersion = 'v1alpha1';
      } else if (identity.kind === 'ReplicationController' && labels.deploymentconfig) {
        identity.name = labels.deploymentconfig;
        identity.kind = 'DeploymentConfig';
      } else if (identity.kind === 'Job') {
        const job = CRONJOB_JOB_NAME.exec(identity.name);
        if (job) {
          identity.name = job[1]!;
          identity.kind = 'CronJob';
          identity.apiVersion = 'batch/v1';
        }
      }
    }
  }
  if (!identity.name) identity.name = pod.metadata.name ?? '';
  return identity;
}
