/**
 * Linkerd's heartbeat: a daily CronJob reporting anonymous install facts (version, mesh size) to
 * the Linkerd project, as a default Linkerd install does. It runs unmeshed.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { createdBy } from './objects.ts';
import { controlPlaneLabels, type LinkerdScope } from './scope.ts';
import { controllerSecurityContext, KUBE_API_ACCESS_MOUNT, kubeApiAccessVolume, podPlacement, resourcesField } from './workload.ts';

/** The heartbeat CronJob. */
export function computeHeartbeat(scope: LinkerdScope): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: 'linkerd-heartbeat',
      namespace: scope.namespace,
      labels: {
        'app.kubernetes.io/name': 'heartbeat',
        'app.kubernetes.io/part-of': 'Linkerd',
        'app.kubernetes.io/version': scope.linkerdVersion,
        ...controlPlaneLabels(scope, 'heartbeat'),
      },
      annotations: createdBy(),
    },
    spec: {
      concurrencyPolicy: 'Replace',
      schedule: scope.heartbeatSchedule,
      successfulJobsHistoryLimit: 0,
      jobTemplate: {
        spec: {
          template: {
            metadata: {
              labels: { 'linkerd.io/control-plane-component': 'heartbeat', 'linkerd.io/workload-ns': scope.namespace },
              annotations: createdBy(),
            },
            spec: {
              ...podPlacement(scope),
              securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
              serviceAccountName: 'linkerd-heartbeat',
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              containers: [{
                name: 'heartbeat',
                image: scope.images.controller,
                imagePullPolicy: 'IfNotPresent',
                env: [{ name: 'LINKERD_DISABLED', value: 'the heartbeat controller does not use the proxy' }],
                args: [
                  'heartbeat',
                  `-controller-namespace=${scope.namespace}`,
                  `-log-level=${scope.controlPlane.logLevel}`,
                  '-log-format=plain',
                  // Where linkerd-viz's Prometheus would be; without viz the heartbeat omits traffic figures.
                  '-prometheus-url=http://prometheus.linkerd-viz.svc.cluster.local:9090',
                ],
                ...resourcesField(scope, 'heartbeat'),
                securityContext: controllerSecurityContext(),
                volumeMounts: [KUBE_API_ACCESS_MOUNT],
              }],
              volumes: [kubeApiAccessVolume()],
            },
          },
        },
      },
    },
  };
}
