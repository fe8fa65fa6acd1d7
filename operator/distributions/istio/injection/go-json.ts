/**
 * Kubernetes objects as Go's `encoding/json` writes them from the typed API structs: fields in the
 * struct's declaration order, empty optional fields left out, quantities canonical. Istio writes a
 * user's overriding containers into the `proxy.istio.io/overrides` annotation this way, and the
 * annotation is compared as a string. Covers the container types an override carries.
 */
import { canonicalQuantity } from './quantity.ts';

type Json = Record<string, unknown>;

/** Field order per type, and the type of each nested field that has one. */
const TYPES: Record<string, { fields: string[]; nested?: Record<string, string>; lists?: Record<string, string>; keep?: string[] }> = {
  Container: {
    fields: ['name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy', 'restartPolicy', 'restartPolicyRules', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty'],
    nested: { resources: 'Resources', livenessProbe: 'Probe', readinessProbe: 'Probe', startupProbe: 'Probe', lifecycle: 'Lifecycle', securityContext: 'SecurityContext' },
    lists: { ports: 'ContainerPort', env: 'EnvVar', volumeMounts: 'VolumeMount' },
    keep: ['resources'],
  },
  Resources: { fields: ['limits', 'requests', 'claims'] },
  ContainerPort: { fields: ['name', 'hostPort', 'containerPort', 'protocol', 'hostIP'], keep: ['containerPort'] },
  EnvVar: { fields: ['name', 'value', 'valueFrom'] },
  VolumeMount: { fields: ['name', 'readOnly', 'recursiveReadOnly', 'mountPath', 'subPath', 'mountPropagation', 'subPathExpr'], keep: ['name', 'mountPath'] },
  Probe: {
    fields: ['exec', 'httpGet', 'tcpSocket', 'grpc', 'initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds'],
    nested: { httpGet: 'HTTPGetAction', tcpSocket: 'TCPSocketAction' },
  },
  Lifecycle: { fields: ['postStart', 'preStop', 'stopSignal'], nested: { postStart: 'Handler', preStop: 'Handler' } },
  Handler: { fields: ['exec', 'httpGet', 'tcpSocket', 'sleep'], nested: { httpGet: 'HTTPGetAction', tcpSocket: 'TCPSocketAction' } },
  HTTPGetAction: { fields: ['path', 'port', 'host', 'scheme', 'httpHeaders'], keep: ['port'] },
  TCPSocketAction: { fields: ['port', 'host'], keep: ['port'] },
  SecurityContext: { fields: ['capabilities', 'privileged', 'seLinuxOptions', 'windowsOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'procMount', 'seccompProfile', 'appArmorProfile'], keep: ['privileged', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation'] },
};

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

/** `value` of Go type `type` as Go's JSON encoder would order and prune it. */
export function goOrdered(value: Json, type: keyof typeof TYPES | string): Json {
  const spec = TYPES[type];
  if (!spec) return value;
  const out: Json = {};
  const known = new Set(spec.fields);
  for (const key of [...spec.fields, ...Object.keys(value).filter((k) => !known.has(k))]) {
    let v = key === 'resources' && type === 'Container' ? (value[key] ?? {}) : value[key];
    if (v === undefined || v === null) continue;
    if (type === 'Resources' && (key === 'limits' || key === 'requests') && typeof v === 'object') {
      v = Object.fromEntries(Object.keys(v as Json).sort().map((k) => [k, canonicalQuantity(String((v as Json)[k]))]));
    } else if (spec.nested?.[key] && typeof v === 'object' && !Array.isArray(v)) v = goOrdered(v as Json, spec.nested[key]!);
    else if (spec.lists?.[key] && Array.isArray(v)) v = v.map((e) => goOrdered(e as Json, spec.lists![key]!));
    if (isEmpty(v) && !spec.keep?.includes(key)) continue;
    out[key] = v;
  }
  return out;
}
